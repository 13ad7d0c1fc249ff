#!/usr/bin/python3
"""Generate tests/data/loss_scaler_reference.hpp: PyTorch's GradScaler.

Run offline with NumPy only (torch is not needed, and not used):

    /usr/bin/python3 tools/make_loss_scaler_reference.py

It writes tests/data/loss_scaler_reference.hpp (next to this script's
repository root), which tests/test_mixed_precision.cpp compares
descent::LossScaler against.

torch 1.13's GradScaler runs its unscale and update only as CUDA kernels (it
has no CPU kernels for them), so they are re-implemented here line by line in
NumPy, in their order of operations and in their types (a float32 scale, an
int32 growth tracker, double growth and backoff factors). Files read, torch
1.13 (github.com/pytorch/pytorch, branch release/1.13):

    torch/cuda/amp/grad_scaler.py
        __init__           init_scale=2.**16, growth_factor=2.0,
                           backoff_factor=0.5, growth_interval=2000; the
                           scale is torch.full((1,), init_scale,
                           dtype=torch.float32), the tracker an int32 0
        unscale_           inv_scale = self._scale.double().reciprocal().float()
        _maybe_opt_step    optimizer.step() only if no found_inf is nonzero
        update             torch._amp_update_scale_(_scale, _growth_tracker,
                           found_inf, growth_factor, backoff_factor,
                           growth_interval)
    aten/src/ATen/native/cuda/ForeachNonFiniteCheckAndUnscale.cu
        _amp_foreach_non_finite_check_and_unscale_cuda_: per element, in
        opmath (float for float32, float16 and bfloat16 gradients),
            if (!isfinite(val)) *found_inf_ptr = 1.f;
            return inv_scale_val == 1.f ? val : val * inv_scale_val;
        (the check reads the scaled value, before the multiplication)
    aten/src/ATen/native/cuda/AmpKernels.cu
        amp_update_scale_cuda_kernel:
            if (*found_inf) {
              *current_scale = (*current_scale)*backoff_factor;
              *growth_tracker = 0;
            } else {
              auto successful = (*growth_tracker) + 1;
              if (successful == growth_interval) {
                auto new_scale = static_cast<float>((*current_scale)*growth_factor);
                if (isfinite_ensure_cuda_math(new_scale)) *current_scale = new_scale;
                *growth_tracker = 0;
              } else {
                *growth_tracker = successful;
              }
            }
        (float * double is computed in double and stored rounded to float)

Runs, each over STEPS iterations of unscale -> skip-or-step -> update:

    half       GradScaler's default factors, growth_interval 3: the scaled
               gradient of a fixed true gradient G is stored in float16, as
               loss scaling in half precision makes it, so it overflows to
               inf while the scale is too large, and a NaN is injected at
               some steps; unscaled in float opmath.
    overflow   init_scale 2^126, growth_interval 3: the second growth would
               give 2^128, not finite in float, so the scale stays 2^127 and
               the tracker restarts.
    rounding   init_scale 1000, growth_factor 1.7, backoff_factor 0.3,
               growth_interval 2, float32 gradients with infs and NaNs
               injected: factors whose products round when stored in float.

Every float32 value is printed with repr() of its exact Python float, which
round-trips; inf and NaN as kInf and kNaN.
"""

import os

import numpy as np

STEPS = 24
G = [1.5, -0.25, 3e-6, 0.0, -7.0]  # the half run's true gradient


def unscale(grads32, scale):
    """GradScaler.unscale_ and the foreach kernel: (unscaled, found_inf)."""
    inv_scale = np.float32(1.0 / np.float64(scale))  # .double().reciprocal().float()
    found_inf = np.float32(0.0)
    out = np.empty_like(grads32)
    for i, val in enumerate(grads32):  # val in float opmath
        if not np.isfinite(val):
            found_inf = np.float32(1.0)
        out[i] = val if inv_scale == np.float32(1.0) else np.float32(val * inv_scale)
    return out, found_inf


def update(scale, tracker, found_inf, growth_factor, backoff_factor, growth_interval):
    """amp_update_scale_cuda_kernel: (scale, tracker) after one update."""
    if found_inf:
        scale = np.float32(np.float64(scale) * backoff_factor)
        tracker = np.int32(0)
    else:
        successful = np.int32(tracker + 1)
        if successful == growth_interval:
            new_scale = np.float32(np.float64(scale) * growth_factor)
            if np.isfinite(new_scale):
                scale = new_scale
            tracker = np.int32(0)
        else:
            tracker = successful
    return scale, tracker


def run(init_scale, growth_factor, backoff_factor, growth_interval, scaled_grad):
    """Records per step the scaled gradient, whether the optimizer stepped,
    the unscaled gradient, and the scale and tracker after update()."""
    with np.errstate(over="ignore", invalid="ignore"):
        scale = np.float32(init_scale)  # torch.full(..., dtype=torch.float32)
        tracker = np.int32(0)
        rows = []
        for t in range(STEPS):
            grads = scaled_grad(t, scale)
            unscaled, found_inf = unscale(grads.astype(np.float32), scale)
            stepped = not found_inf  # _maybe_opt_step
            scale, tracker = update(scale, tracker, found_inf, growth_factor, backoff_factor,
                                    growth_interval)
            rows.append((grads, stepped, unscaled, scale, tracker))
    return rows


def half_grad(t, scale):
    """loss * scale back-propagated in float16: G * scale rounded to half."""
    g = np.array([np.float16(np.float32(x) * scale) for x in G], dtype=np.float16)
    if t in (7, 15):
        g[1] = np.float16(np.nan)
    return g


def overflow_grad(t, scale):
    del t, scale
    return np.array([1.0, -2.0, 0.5], dtype=np.float32)


def rounding_grad(t, scale):
    g = np.array([0.1 * (t + 1), -3.0, 12.5], dtype=np.float32) * scale
    if t in (2, 3, 9):
        g[0] = np.float32(np.inf)
    if t == 13:
        g[2] = np.float32(-np.inf)
    if t == 17:
        g[1] = np.float32(np.nan)
    return g.astype(np.float32)


def number(x):
    x = float(x)
    if np.isnan(x):
        return "kNaN"
    if np.isinf(x):
        return "kInf" if x > 0 else "-kInf"
    return repr(x)


def array(values):
    return "{" + ", ".join(number(v) for v in values) + "}"


def emit(name, options, rows, width):
    init_scale, growth_factor, backoff_factor, growth_interval = options
    lines = [
        f"// {name}: init_scale {init_scale!r}, growth_factor {growth_factor!r}, "
        f"backoff_factor {backoff_factor!r}, growth_interval {growth_interval}.",
        f"inline const Run k{name.capitalize()} = {{",
        f"    {init_scale!r}, {growth_factor!r}, {backoff_factor!r}, {growth_interval}, {width},",
        "    {",
    ]
    for grads, stepped, unscaled, scale, tracker in rows:
        lines.append(f"        {{{array(grads)}, {str(stepped).lower()}, {array(unscaled)}, "
                     f"{number(scale)}, {int(tracker)}}},")
    lines += ["    }};", ""]
    assert all(len(r[0]) == width for r in rows)
    return lines


def main():
    runs = [
        ("half", (65536.0, 2.0, 0.5, 3), half_grad),
        ("overflow", (2.0**126, 2.0, 0.5, 3), overflow_grad),
        ("rounding", (1000.0, 1.7, 0.3, 2), rounding_grad),
    ]
    out = [
        "// Generated by tools/make_loss_scaler_reference.py from torch 1.13's GradScaler",
        "// (release/1.13: torch/cuda/amp/grad_scaler.py, AmpKernels.cu,",
        "// ForeachNonFiniteCheckAndUnscale.cu) re-implemented in NumPy. Do not edit.",
        "#pragma once",
        "",
        "#include <limits>",
        "",
        "namespace loss_scaler_reference {",
        "",
        "constexpr float kInf = std::numeric_limits<float>::infinity();",
        "constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();",
        "constexpr int kSteps = %d;" % STEPS,
        "constexpr int kWidth = 5;  // the most gradient elements of a run",
        "",
        "struct Step {",
        "  float scaled[kWidth];    // the scaled gradient (float16 values in the half run)",
        "  bool stepped;            // whether the optimizer stepped (no inf or NaN found)",
        "  float unscaled[kWidth];  // the gradient after unscale_()",
        "  float scale;             // the scale after update()",
        "  int growth_tracker;      // the growth tracker after update()",
        "};",
        "",
        "struct Run {",
        "  double init_scale, growth_factor, backoff_factor;",
        "  long growth_interval;",
        "  int width;  // gradient elements of this run",
        "  Step steps[kSteps];",
        "};",
        "",
    ]
    summary = []
    for name, options, grad in runs:
        rows = run(*options, grad)
        out += emit(name, options, rows, len(grad(0, np.float32(1.0))))
        summary.append(f"{name}: {sum(not r[1] for r in rows)} skipped, final scale {float(rows[-1][3])!r}")
    out += ["}  // namespace loss_scaler_reference", ""]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "tests", "data", "loss_scaler_reference.hpp")
    with open(path, "w") as f:
        f.write("\n".join(out))
    print("wrote", path)
    print("\n".join(summary))


if __name__ == "__main__":
    main()
