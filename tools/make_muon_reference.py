#!/usr/bin/python3
"""Generate tests/data/muon_reference.hpp: trajectories of torch.optim.Muon's step.

Run offline with NumPy only (PyTorch itself is not needed, and not used):

    /usr/bin/python3 tools/make_muon_reference.py

It writes tests/data/muon_reference.hpp, which tests/test_muon.cpp compares
descent::Muon<double> against, in both storage orders.

The Muon step of torch/optim/_muon.py (github.com/pytorch/pytorch, commit
b5ee4d7a797023e11507aea90811559872ce8ff6) is re-implemented below line by line
in float64, in torch's order and grouping; each function quotes the lines it
mirrors. torch casts the Newton-Schulz iteration to bfloat16
(`ortho_grad = grad.bfloat16()`); this reference, like descent, keeps float64
throughout, so it is the arithmetic torch's code describes, at the precision
of the params. torch.lerp is at::native::lerp (aten/src/ATen/native/Lerp.h,
commit 16f0e58998dcb48e32f1f13c24be9349e0172619), whose branch on |weight| < 0.5
is kept. torch.addmm(M, A, B, beta=b, alpha=c) is b*M + c*(A @ B).

Every number is printed with repr(), which round-trips a double exactly.
"""

import math
import os
import sys

import numpy as np

STEPS = 10


def lerp(self, end, weight):
    # Lerp.h: is_lerp_weight_small(weight) ? self + weight * (end - self)
    #                                      : end - (end - self) * (1 - weight)
    if abs(weight) < 0.5:
        return self + weight * (end - self)
    return end - (end - self) * (1.0 - weight)


def zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps):
    # a, b, c = ns_coefficients
    # ortho_grad = grad.bfloat16()          (float64 here)
    # if grad.size(0) > grad.size(1):
    #     ortho_grad = ortho_grad.T
    # ortho_grad.div_(ortho_grad.norm().clamp(min=eps))
    # for _ in range(ns_steps):
    #     gram_matrix = ortho_grad @ ortho_grad.T
    #     gram_update = torch.addmm(gram_matrix, gram_matrix, gram_matrix, beta=b, alpha=c)
    #     ortho_grad = torch.addmm(ortho_grad, gram_update, ortho_grad, beta=a)
    # if grad.size(0) > grad.size(1):
    #     ortho_grad = ortho_grad.T
    a, b, c = ns_coefficients
    ortho_grad = grad.copy()
    if grad.shape[0] > grad.shape[1]:
        ortho_grad = ortho_grad.T
    ortho_grad = ortho_grad / max(np.linalg.norm(ortho_grad), eps)
    for _ in range(ns_steps):
        gram_matrix = ortho_grad @ ortho_grad.T
        gram_update = b * gram_matrix + c * (gram_matrix @ gram_matrix)
        ortho_grad = a * ortho_grad + gram_update @ ortho_grad
    if grad.shape[0] > grad.shape[1]:
        ortho_grad = ortho_grad.T
    return ortho_grad


def adjust_lr(lr, adjust_lr_fn, param_shape):
    # A, B = param_shape[:2]
    # if adjust_lr_fn is None or adjust_lr_fn == "original":
    #     adjusted_ratio = math.sqrt(max(1, A / B))
    # elif adjust_lr_fn == "match_rms_adamw":
    #     adjusted_ratio = 0.2 * math.sqrt(max(A, B))
    # return lr * adjusted_ratio
    A, B = param_shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        adjusted_ratio = math.sqrt(max(1, A / B))
    elif adjust_lr_fn == "match_rms_adamw":
        adjusted_ratio = 0.2 * math.sqrt(max(A, B))
    else:
        adjusted_ratio = 1.0
    return lr * adjusted_ratio


def muon_step(param, grad, buf, lr, weight_decay, momentum, nesterov, ns_coefficients, ns_steps,
              eps, adjust_lr_fn):
    # _single_tensor_muon:
    #     buf.lerp_(grad, 1 - momentum)
    #     update = grad.lerp(buf, momentum) if nesterov else buf
    #     update = _zeropower_via_newtonschulz(update, ns_coefficients, ns_steps, eps)
    #     adjusted_lr = _adjust_lr(lr, adjust_lr_fn, param.shape)
    #     param.mul_(1 - lr * weight_decay)
    #     param.add_(update, alpha=-adjusted_lr)
    buf[...] = lerp(buf, grad, 1 - momentum)
    update = lerp(grad, buf, momentum) if nesterov else buf
    update = zeropower_via_newtonschulz(update, ns_coefficients, ns_steps, eps)
    adjusted_lr = adjust_lr(lr, adjust_lr_fn, param.shape)
    param *= 1 - lr * weight_decay
    param += -adjusted_lr * update


# Each case: name, shape, options (torch's keyword arguments).
CASES = [
    ("defaults_6x4", (6, 4), dict(lr=0.02)),
    ("defaults_4x6", (4, 6), dict(lr=0.02)),
    ("plain_momentum_6x4", (6, 4), dict(lr=0.02, nesterov=False, weight_decay=0.0)),
    ("match_rms_adamw_6x4", (6, 4), dict(lr=0.02, adjust_lr_fn="match_rms_adamw")),
    ("match_rms_adamw_4x6", (4, 6),
     dict(lr=0.03, adjust_lr_fn="match_rms_adamw", nesterov=False, momentum=0.9,
          weight_decay=0.05)),
    ("low_momentum_6x4", (6, 4), dict(lr=0.01, momentum=0.3, weight_decay=0.2, ns_steps=3)),
    ("square_5x5", (5, 5), dict(lr=0.02, eps=1e-3)),
]

DEFAULTS = dict(lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                ns_coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7, ns_steps=5,
                adjust_lr_fn=None)


def run(shape, options, rng):
    """f(θ) = ½·Σ D⊙(θ − T)², g = D⊙(θ − T): the gradient depends on the params."""
    o = dict(DEFAULTS)
    o.update(options)
    x0 = rng.uniform(-1, 1, shape)
    target = rng.uniform(-1, 1, shape)
    scale = rng.uniform(0.1, 3.0, shape)
    param = x0.copy()
    buf = np.zeros(shape)
    trajectory = []
    for _ in range(STEPS):
        grad = scale * (param - target)
        muon_step(param, grad, buf, o["lr"], o["weight_decay"], o["momentum"], o["nesterov"],
                  o["ns_coefficients"], o["ns_steps"], o["eps"], o["adjust_lr_fn"])
        trajectory.append(param.copy())
    return o, x0, target, scale, trajectory


def r(x):
    return repr(float(x))


def matrix(a):
    return "{" + ", ".join(r(v) for v in a.reshape(-1)) + "}"


def main():
    rng = np.random.default_rng(20261201)
    lines = [
        "// Generated by tools/make_muon_reference.py (torch.optim.Muon's step of",
        "// pytorch/pytorch b5ee4d7a797023e11507aea90811559872ce8ff6, in float64); do not edit.",
        "#pragma once",
        "// Compared against descent::Muon in tests/test_muon.cpp. Regenerate with:",
        "//     /usr/bin/python3 tools/make_muon_reference.py",
        "// Matrices are listed row by row; f(θ) = ½·Σ D⊙(θ − T)², g = D⊙(θ − T).",
        "",
        "namespace muon_reference {",
        "",
        "constexpr int kSteps = %d;" % STEPS,
        "",
        "struct Case {",
        "  const char* name;",
        "  int rows, cols;",
        "  double lr, weight_decay, momentum;",
        "  bool nesterov;",
        "  int ns_steps;",
        "  double eps;",
        "  bool match_rms_adamw;",
        "  const double* x0;      // rows·cols",
        "  const double* target;  // T",
        "  const double* scale;   // D",
        "  const double* after;   // kSteps·rows·cols: θ after each step",
        "};",
        "",
    ]
    entries = []
    for name, shape, options in CASES:
        o, x0, target, scale, trajectory = run(shape, options, rng)
        lines.append("constexpr double k_%s_x0[] = %s;" % (name, matrix(x0)))
        lines.append("constexpr double k_%s_target[] = %s;" % (name, matrix(target)))
        lines.append("constexpr double k_%s_scale[] = %s;" % (name, matrix(scale)))
        lines.append("constexpr double k_%s_after[] = {" % name)
        for p in trajectory:
            lines.append("    " + ", ".join(r(v) for v in p.reshape(-1)) + ",")
        lines.append("};")
        lines.append("")
        entries.append(
            '    {"%s", %d, %d, %s, %s, %s, %s, %d, %s, %s, k_%s_x0, k_%s_target, k_%s_scale, '
            'k_%s_after},' %
            (name, shape[0], shape[1], r(o["lr"]), r(o["weight_decay"]), r(o["momentum"]),
             "true" if o["nesterov"] else "false", o["ns_steps"], r(o["eps"]),
             "true" if o["adjust_lr_fn"] == "match_rms_adamw" else "false", name, name, name,
             name))
    lines.append("constexpr Case kCases[] = {")
    lines.extend(entries)
    lines.append("};")
    lines.append("")
    lines.append("}  // namespace muon_reference")
    lines.append("")
    out_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data",
                            "muon_reference.hpp")
    with open(out_path, "w") as f:
        f.write("\n".join(lines))
    print("wrote %s (%d bytes)" % (out_path, os.path.getsize(out_path)), file=sys.stderr)


if __name__ == "__main__":
    main()
