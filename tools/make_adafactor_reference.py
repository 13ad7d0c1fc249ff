#!/usr/bin/python3
"""Generate tests/data/adafactor_reference.hpp: trajectories of PyTorch's Adafactor.

Run offline with NumPy only (PyTorch itself is not needed, and not used):

    /usr/bin/python3 tools/make_adafactor_reference.py

It writes tests/data/adafactor_reference.hpp, which tests/test_adafactor.cpp
compares descent::Adafactor against.

PyTorch cannot be installed where this data was made, so this script is
torch.optim.Adafactor's for-loop update, `_single_tensor_adafactor` in
torch/optim/_adafactor.py of github.com/pytorch/pytorch, re-implemented line by
line in NumPy. File read:

    torch/optim/_adafactor.py   5f65158aefc31977355102011b310a7d020e5604

Its `_single_tensor_adafactor` is, statement for statement, the one released in
PyTorch 2.5 (where torch.optim.Adafactor first shipped, with the foreach
implementation of pytorch/pytorch#132336 beside it): the lerp weight is
`one_minus_beta2_t = step_float**beta2_decay`, weight decay is applied after
alpha is formed and before the factors, and eps1 floors both the mean row
factor and (squared) the variance estimate. The later commit read differs from
2.5 only outside that function's arithmetic (type annotations, asserts turned
into AssertionError, lr passed through _to_scalar). The first landing,
pytorch/pytorch#129905, used `1 - beta2_t` with `beta2_t = 1 - step**decay` as
the weight, which rounds differently; it is not what 2.5 computes.

Each torch call is mirrored in torch's order and grouping; scalars that torch
computes in Python (alpha, rho_t, the clipping denominator) are Python floats
here too, and cast to the tensor's dtype where torch passes them to a tensor op.
Reductions (torch.norm, mean) are formed in float64 and rounded once to the
tensor's dtype, which is what descent does; torch's own reductions differ from
that by their summation order only (a few ulps of the result).

torch.lerp(self, end, w) is evaluated as torch's kernel does it: self + w*(end -
self) for |w| < 0.5, else end - (end - self)*(1 - w), with w cast to the dtype.

Precision: float64 trajectories (the tests compare them to 1e-10 relative) and
float32 ones (every tensor op in float32, eps1 = finfo(float32).eps when None).
"""

import math
import os

import numpy as np

STEPS = 15


def norm(a, dtype):
    # torch.norm(a) / Tensor.norm(2): sqrt of the sum of squares, in a's dtype.
    return dtype(math.sqrt(float(np.sum(np.asarray(a, dtype=np.float64) ** 2))))


def norm_dim(a, axis, dtype):
    # torch.norm(grad, dim=axis, keepdim=True)
    s = np.sum(np.asarray(a, dtype=np.float64) ** 2, axis=axis, keepdims=True)
    return np.sqrt(s).astype(dtype)


def lerp(self, end, weight, dtype):
    w = dtype(weight)
    if abs(w) < 0.5:
        return (self + w * (end - self)).astype(dtype)
    return (end - (end - self) * (dtype(1) - w)).astype(dtype)


class Adafactor:
    # torch.optim.Adafactor.__init__ defaults:
    # lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0,
    # maximize=False
    def __init__(self, shape, dtype, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                 weight_decay=0.0, maximize=False):
        self.dtype = dtype
        self.lr, self.beta2_decay, self.eps, self.d = lr, beta2_decay, eps, d
        self.weight_decay, self.maximize = weight_decay, maximize
        # _init_group: state["step"] = 0; row_var / col_var for dim > 1,
        # variance (zeros_like) otherwise.
        self.step_t = 0.0
        if len(shape) > 1:
            self.row_var = np.zeros((shape[0], 1), dtype)
            self.col_var = np.zeros((1, shape[1]), dtype)
            self.variance = None
        else:
            self.row_var = self.col_var = None
            self.variance = np.zeros(shape, dtype)

    def step(self, param, grads_i):
        dt = self.dtype
        lr, beta2_decay, d, weight_decay = self.lr, self.beta2_decay, self.d, self.weight_decay
        eps1, eps2 = self.eps
        # grad = grads[i] if not maximize else -grads[i]
        grad = grads_i if not self.maximize else -grads_i
        # if eps1 is None: eps1 = torch.finfo(param.dtype).eps
        if eps1 is None:
            eps1 = float(np.finfo(dt).eps)
        # step_t += 1; step_float = step_t.item()
        self.step_t += 1
        step_float = self.step_t
        # one_minus_beta2_t = step_float**beta2_decay
        one_minus_beta2_t = step_float**beta2_decay
        # rho_t = min(lr, 1 / (step_float**0.5))
        rho_t = min(lr, 1 / (step_float**0.5))
        # alpha = max(eps2, param.norm(2).item() / (param.numel() ** 0.5)) * rho_t
        alpha = max(eps2, float(norm(param, dt)) / (param.size**0.5)) * rho_t
        # if weight_decay != 0: param.mul_(1 - lr * weight_decay)
        if weight_decay != 0:
            param = (param * dt(1 - lr * weight_decay)).astype(dt)
        if grad.ndim > 1:
            # row_mean = torch.norm(grad, dim=-1, keepdim=True).square_().div_(grad.size(-1))
            row_mean = norm_dim(grad, -1, dt)
            row_mean = (row_mean * row_mean).astype(dt)
            row_mean = (row_mean / dt(grad.shape[-1])).astype(dt)
            # row_var.lerp_(row_mean, one_minus_beta2_t)
            self.row_var = lerp(self.row_var, row_mean, one_minus_beta2_t, dt)
            # col_mean = torch.norm(grad, dim=-2, keepdim=True).square_().div_(grad.size(-2))
            col_mean = norm_dim(grad, -2, dt)
            col_mean = (col_mean * col_mean).astype(dt)
            col_mean = (col_mean / dt(grad.shape[-2])).astype(dt)
            # col_var.lerp_(col_mean, one_minus_beta2_t)
            self.col_var = lerp(self.col_var, col_mean, one_minus_beta2_t, dt)
            # var_estimate = row_var @ col_var  (inner dimension 1: one product each)
            var_estimate = (self.row_var * self.col_var).astype(dt)
            # var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
            mean = dt(float(np.sum(self.row_var.astype(np.float64))) / self.row_var.shape[0])
            mean = max(mean, dt(eps1)) if not np.isnan(mean) else mean
            var_estimate = (var_estimate / mean).astype(dt)
        else:
            # grad_squared = grad * grad
            grad_squared = (grad * grad).astype(dt)
            # variance.lerp_(grad_squared, one_minus_beta2_t)
            self.variance = lerp(self.variance, grad_squared, one_minus_beta2_t, dt)
            # var_estimate = variance.clone()
            var_estimate = self.variance.copy()
        # update = var_estimate.clamp_(min=eps1 * eps1).rsqrt_()
        floor = dt(eps1 * eps1)
        clamped = np.where(var_estimate < floor, floor, var_estimate).astype(dt)
        update = (dt(1) / np.sqrt(clamped)).astype(dt)
        # update.mul_(grad)
        update = (update * grad).astype(dt)
        # denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))
        denom = max(1.0, float(norm(update, dt)) / ((update.size**0.5) * d))
        # param.add_(update, alpha=-alpha / denom)
        param = (param + dt(-alpha / denom) * update).astype(dt)
        return param


def gradient(x, a, c, dt):
    # g = a * (x - c), elementwise, in the params' dtype.
    return (a.astype(dt) * (x - c.astype(dt)).astype(dt)).astype(dt)


def problem(shape):
    n = int(np.prod(shape))
    k = np.arange(n, dtype=np.float64)
    a = np.round(0.5 + 1.5 * np.sin(0.7 * k + 0.3) ** 2, 3)
    c = np.round(np.cos(1.3 * k) * 2.0, 3)
    x0 = np.round(np.sin(0.9 * k + 1.0) * 1.5, 3)
    if len(shape) > 1:
        a = a.reshape(shape)
        # A column and a row whose gradient is zero: their factors stay 0 and
        # the floors of eps1 take over.
        a[:, 3] = 0.0
        a[2, :] = 0.0
        c = c.reshape(shape)
        x0 = x0.reshape(shape)
    else:
        a[4] = 0.0
    return a, c, x0


CASES = [
    # name, shape, options
    ("matrix_defaults", (5, 7), {}),
    ("matrix_options", (5, 7), dict(lr=0.05, beta2_decay=-0.6, eps=(1e-5, 1e-2), d=1.25,
                                     weight_decay=0.1, maximize=True)),
    ("matrix_big_eps", (5, 7), dict(lr=0.2, eps=(0.05, 0.5), weight_decay=0.5)),
    ("vector_defaults", (9,), {}),
    ("vector_options", (9,), dict(lr=0.05, beta2_decay=-0.6, eps=(1e-5, 1e-2), d=1.25,
                                   weight_decay=0.1, maximize=True)),
]


def run(shape, options, dt):
    a, c, x0 = problem(shape)
    opt = Adafactor(shape, dt, **options)
    x = x0.astype(dt)
    out = []
    for _ in range(STEPS):
        x = opt.step(x, gradient(x, a, c, dt))
        out.append(x.reshape(-1).copy())
    return a, c, x0, np.array(out)


def r(v):
    return repr(float(v))


def arr(values, ctype, suffix=""):
    return "{" + ", ".join(r(v) + suffix for v in values) + "}"


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_path = os.path.join(root, "tests", "data", "adafactor_reference.hpp")
    lines = []
    w = lines.append
    w("// Generated by tools/make_adafactor_reference.py with NumPy %s; do not edit." %
      np.__version__)
    w("#pragma once")
    w("// Trajectories of torch.optim.Adafactor (PyTorch 2.5's _single_tensor_adafactor in")
    w("// torch/optim/_adafactor.py, re-implemented line by line in NumPy; commit in the")
    w("// script), compared against descent::Adafactor in tests/test_adafactor.cpp.")
    w("// Regenerate with:")
    w("//     /usr/bin/python3 tools/make_adafactor_reference.py")
    w("")
    w("namespace adafactor_reference {")
    w("")
    w("// The problem: g = a * (x - c), elementwise, at the current point before every")
    w("// step; matrices row-major. %d steps; x[t] is the point after step t + 1." % STEPS)
    w("constexpr int kSteps = %d;" % STEPS)
    w("")
    w("struct Case {")
    w("  const char* name;")
    w("  int rows, cols;  // cols 0: a vector of rows elements (a 1-D tensor)")
    w("  double lr, beta2_decay, eps1;  // eps1 < 0: None, the dtype's machine epsilon")
    w("  double eps2, d, weight_decay;")
    w("  bool maximize;")
    w("  const double* a;")
    w("  const double* c;")
    w("  const double* x0;")
    w("  const double* x;      // kSteps * rows * max(cols, 1), float64")
    w("  const float* x_float;  // the same run in float32")
    w("};")
    w("")
    entries = []
    for name, shape, options in CASES:
        a, c, x0, traj = run(shape, options, np.float64)
        _, _, _, traj_f = run(shape, options, np.float32)
        o = dict(lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0,
                 maximize=False)
        o.update(options)
        w("constexpr double k_%s_a[] = %s;" % (name, arr(a.reshape(-1), "double")))
        w("constexpr double k_%s_c[] = %s;" % (name, arr(c.reshape(-1), "double")))
        w("constexpr double k_%s_x0[] = %s;" % (name, arr(x0.reshape(-1), "double")))
        w("constexpr double k_%s_x[] = %s;" % (name, arr(traj.reshape(-1), "double")))
        w("constexpr float k_%s_x_float[] = %s;" %
          (name, "{" + ", ".join(repr(float(v)) + "f" for v in traj_f.reshape(-1)) + "}"))
        w("")
        rows = shape[0]
        cols = shape[1] if len(shape) > 1 else 0
        eps1 = -1.0 if o["eps"][0] is None else o["eps"][0]
        entries.append(
            '    {"%s", %d, %d, %s, %s, %s, %s, %s, %s, %s, k_%s_a, k_%s_c, k_%s_x0, k_%s_x, '
            'k_%s_x_float}' % (name, rows, cols, r(o["lr"]), r(o["beta2_decay"]), r(eps1),
                               r(o["eps"][1]), r(o["d"]), r(o["weight_decay"]),
                               "true" if o["maximize"] else "false", name, name, name, name,
                               name))
    w("constexpr Case kCases[] = {")
    w(",\n".join(entries) + ",")
    w("};")
    w("")
    w("}  // namespace adafactor_reference")
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", out_path)


if __name__ == "__main__":
    main()
