#!/usr/bin/python3
"""Generate tests/data/torch_lbfgs.hpp: torch.optim.LBFGS trajectories.

Run offline with a Python that has PyTorch (Debian's python3-torch, 1.13):

    /usr/bin/python3 tools/make_lbfgs_reference.py

It writes tests/data/torch_lbfgs.hpp (next to this script's repository
root), which tests/test_lbfgs.cpp compares descent::LBFGS against.

Each case runs torch.optim.LBFGS for a few opt.step(closure) calls and
records, after each call, the loss it returned, the parameters, and the
state: func_evals, n_iter, the number of stored pairs, t and H_diag.

The closures compute loss and gradient by hand (no autograd), with the same
operations in the same order as the C++ test, so that the C++ side can
evaluate the very same numbers: every sum is a cumsum (torch's CPU cumsum adds
one element at a time, first to last; for float32 it accumulates in double),
the matrix products go to the reference BLAS dgemm that Debian's torch calls
(each element a sum of products in order), and exp and log are Python's
math.exp and math.log (glibc's, as C++'s std::exp and std::log; torch's own
vectorised exp and log differ from them in the last bit for a few percent of
arguments):

- Rosenbrock (extended, Moré, Garbow & Hillstrom 1981, problem 21), on
  pairs (a, b) = (x[2i], x[2i+1]):
      r1 = b - a * a;  r2 = 1 - a
      f  = sum(100 * r1 * r1 + r2 * r2)        (pair by pair)
      df/da = -400 * a * r1 - 2 * r2;  df/db = 200 * r1
  in 2-D from (-1.2, 1), and in 100-D from x[2i] = -1.2 + 0.01 i,
  x[2i+1] = 1 - 0.005 i (i = 0..49), so the 50 pairs do not move in lockstep.
- Multinomial logistic regression on the first N_SAMPLES of the UCI digits
  (examples/data/digits.csv.gz), features = pixel counts / 16, 10 classes,
  parameters W (10x64, row-major) then b (10), from zero, with an L2 penalty
  LAMBDA/2 |W|^2:
      z = X W^T + b;  m = rowmax(z);  zs = z - m;  e = exp(zs);  s = rowsum(e)
      f = -sum_i (zs - log s)[i, y_i] / N + 0.5 * LAMBDA * sum(W * W)
      D = (e / s - onehot(y)) / N
      df/dW = D^T X + LAMBDA * W;  df/db = colsum(D)
  (sums over i in sample order, over W in row-major order). In float32 exp
  and log are taken in double and rounded to float.

Every case runs in float64 and in float32 (the closure in the same dtype).
Every number is printed with repr(), which round-trips a double exactly;
float32 values are exact as Python floats, so they round-trip as well.
"""

import gzip
import math
import os
import sys

import torch

N_SAMPLES = 150
LAMBDA = 1e-3

# (identifier, problem, dimension, LBFGS keyword arguments, step() calls)
CASES = [
    ("rosenbrock2_wolfe", "rosenbrock", 2, dict(line_search_fn="strong_wolfe"), 4),
    ("rosenbrock2_none", "rosenbrock", 2, dict(), 4),
    ("rosenbrock100_wolfe", "rosenbrock", 100,
     dict(history_size=5, max_iter=25, line_search_fn="strong_wolfe"), 4),
    ("rosenbrock100_none", "rosenbrock", 100, dict(lr=0.1, history_size=5), 4),
    ("logistic_wolfe", "logistic", 650,
     dict(history_size=10, line_search_fn="strong_wolfe"), 3),
    ("logistic_none", "logistic", 650, dict(history_size=10, max_iter=15), 3),
]

DTYPES = [("float64", torch.float64), ("float32", torch.float32)]


def load_digits(root):
    path = os.path.join(root, "examples", "data", "digits.csv.gz")
    rows = []
    with gzip.open(path, "rt") as f:
        for line in f:
            if line.strip():
                rows.append([int(v) for v in line.split(",")])
            if len(rows) == N_SAMPLES:
                break
    return [r[:64] for r in rows], [r[64] for r in rows]


def rosenbrock(x):
    a = x[0::2]
    b = x[1::2]
    r1 = b - a * a
    r2 = 1 - a
    f = (100 * r1 * r1 + r2 * r2).cumsum(0)[-1]
    g = torch.empty_like(x)
    g[0::2] = -400 * a * r1 - 2 * r2
    g[1::2] = 200 * r1
    return f, g


def make_logistic(pixels, labels, dtype):
    X = torch.tensor(pixels, dtype=dtype) / 16
    y = torch.tensor(labels)
    n = X.shape[0]
    Y = torch.zeros(n, 10, dtype=dtype)
    Y[torch.arange(n), y] = 1

    def logistic(x):
        W = x[:640].view(10, 64)
        b = x[640:]
        z = X @ W.T + b
        m = z.max(dim=1, keepdim=True).values
        zs = z - m
        e = zs.clone().apply_(math.exp)
        s = e.cumsum(dim=1)[:, -1:]
        logp = zs - s.clone().apply_(math.log)
        f = (-logp[torch.arange(n), y].cumsum(0)[-1] / n
             + 0.5 * LAMBDA * (W * W).reshape(-1).cumsum(0)[-1])
        D = (e / s - Y) / n
        g = torch.empty_like(x)
        g[:640] = (D.T @ X + LAMBDA * W).reshape(-1)
        g[640:] = D.cumsum(dim=0)[-1]
        return f, g

    return logistic


def start(problem, dim, dtype):
    if problem == "logistic":
        return torch.zeros(dim, dtype=dtype)
    if dim == 2:
        return torch.tensor([-1.2, 1.0], dtype=dtype)
    x = []
    for i in range(dim // 2):
        x += [-1.2 + 0.01 * i, 1.0 - 0.005 * i]
    return torch.tensor(x, dtype=dtype)


def run(fn, x0, kwargs, steps):
    p = x0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([p], **kwargs)

    def closure():
        with torch.no_grad():
            f, g = fn(p)
        p.grad = g
        return f

    records = []
    for _ in range(steps):
        loss = opt.step(closure)
        st = opt.state[p]
        records.append(dict(
            loss=float(loss),
            func_evals=int(st["func_evals"]),
            n_iter=int(st["n_iter"]),
            pairs=len(st.get("old_dirs", [])),
            t=float(st.get("t", 0.0)),
            h_diag=float(st.get("H_diag", 1.0)),
            params=p.detach().tolist()))
    return records, opt.defaults


def r(x):
    """A C++ double literal that round-trips x."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    s = repr(float(x))
    if "e" not in s and "." not in s and "inf" not in s and "nan" not in s:
        s += ".0"
    return s


def numbers(values, per_line=4, indent="    "):
    out = []
    for i in range(0, len(values), per_line):
        out.append(indent + ", ".join(r(v) for v in values[i:i + per_line]) + ",")
    return out


def main():
    torch.set_num_threads(1)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_path = os.path.join(root, "tests", "data", "torch_lbfgs.hpp")
    pixels, labels = load_digits(root)

    lines = []
    w = lines.append
    w("// Generated by tools/make_lbfgs_reference.py with torch %s; do not edit."
      % torch.__version__)
    w("#pragma once")
    w("// torch.optim.LBFGS trajectories, compared against descent::LBFGS in")
    w("// tests/test_lbfgs.cpp. Regenerate with:")
    w("//     /usr/bin/python3 tools/make_lbfgs_reference.py")
    w("// The problems are described in that script.")
    w("")
    w("namespace torch_lbfgs {")
    w("")
    w('constexpr const char* kTorchVersion = "%s";' % torch.__version__)
    w("")
    w("// The logistic regression's data: the first kSamples rows of")
    w("// examples/data/digits.csv.gz (pixel counts, then the digit).")
    w("constexpr int kSamples = %d;" % N_SAMPLES)
    w("constexpr double kLambda = %s;" % r(LAMBDA))
    w("constexpr int kPixels[kSamples][64] = {")
    for row in pixels:
        w("    {%s}," % ",".join(str(v) for v in row))
    w("};")
    w("constexpr int kLabels[kSamples] = {")
    for i in range(0, len(labels), 30):
        w("    %s," % ", ".join(str(v) for v in labels[i:i + 30]))
    w("};")
    w("")
    w("enum class Problem { Rosenbrock, Logistic };")
    w("")
    w("/// The state after one opt.step(closure) call.")
    w("struct Record {")
    w("  double loss;  // what step() returned")
    w("  long func_evals, n_iter;")
    w("  int pairs;  // len(state['old_dirs'])")
    w("  double t, h_diag;")
    w("};")
    w("")
    w("/// One run: x0 then the parameters after each step() in params, row")
    w("/// k = 0..steps, dim values each. float32 runs hold float values,")
    w("/// exactly representable as double.")
    w("struct Case {")
    w("  const char* id;")
    w("  const char* torch_call;")
    w("  const char* dtype;")
    w("  Problem problem;")
    w("  int dim;")
    w("  double lr;")
    w("  int max_iter, max_eval;")
    w("  double tolerance_grad, tolerance_change;")
    w("  int history_size;")
    w("  bool strong_wolfe;")
    w("  int steps;")
    w("  const Record* records;")
    w("  const double* params;")
    w("};")
    w("")
    entries = []
    for ident, problem, dim, kwargs, steps in CASES:
        for dname, dtype in DTYPES:
            if problem == "logistic":
                fn = make_logistic(pixels, labels, dtype)
            else:
                fn = rosenbrock
            x0 = start(problem, dim, dtype)
            records, d = run(fn, x0, kwargs, steps)
            name = "%s_%s" % (ident, dname)
            call = "torch.optim.LBFGS(params%s)" % "".join(
                ", %s=%r" % (k, v) for k, v in kwargs.items())
            w("constexpr Record %s_records[] = {" % name)
            for rec in records:
                w("    {%s, %d, %d, %d, %s, %s}," % (
                    r(rec["loss"]), rec["func_evals"], rec["n_iter"], rec["pairs"],
                    r(rec["t"]), r(rec["h_diag"])))
            w("};")
            w("constexpr double %s_params[] = {" % name)
            for k, row in enumerate([x0.tolist()] + [rec["params"] for rec in records]):
                w("    // %s" % ("x0" if k == 0 else "after step() %d" % k))
                lines.extend(numbers(row))
            w("};")
            entries.append('    {"%s", "%s", "%s", Problem::%s, %d, %s, %d, %d, %s, %s, %d, %s, %d, '
                           '%s_records, %s_params},' % (
                               ident, call, dname,
                               "Logistic" if problem == "logistic" else "Rosenbrock",
                               dim, r(d["lr"]), d["max_iter"], d["max_eval"],
                               r(d["tolerance_grad"]), r(d["tolerance_change"]),
                               d["history_size"], r(d["line_search_fn"] == "strong_wolfe"),
                               steps, name, name))
            w("")
    w("constexpr Case kCases[] = {")
    lines.extend(entries)
    w("};")
    w("")
    w("}  // namespace torch_lbfgs")
    w("")
    with open(out_path, "w") as f:
        f.write("\n".join(lines))
    print("wrote %s (%d bytes)" % (out_path, os.path.getsize(out_path)), file=sys.stderr)


if __name__ == "__main__":
    main()
