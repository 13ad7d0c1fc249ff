#!/usr/bin/python3
"""Generate tests/data/sparse_reference.hpp: sparse-gradient steps of PyTorch.

Run offline with a Python that has PyTorch (Debian's python3-torch, 1.13):

    /usr/bin/python3 tools/make_sparse_reference.py

It writes tests/data/sparse_reference.hpp, which tests/test_sparse.cpp
compares descent::SparseAdam and descent::AdaGrad's sparse steps against.

Two parameters, stepped open-loop by a fixed list of sparse gradients:
  - a table of 6 rows by 3 columns, whose gradients are torch.sparse_coo_tensor
    with one sparse dimension (a set of rows, as nn.Embedding(sparse=True)
    gives), and
  - a vector of 7 elements, whose gradients are 1-D sparse tensors.
Indices repeat within a step (torch's coalesce() sums them, in the order
given), come unsorted, one step of the vector holds none (the step count still advances),
and the last row of the table and the last element of the vector are never
touched. Every input (x0, gradient values) is a float32 value, so the same
data drives the float32 and the float64 runs. The parameters are recorded
after every step.

Cases: torch.optim.SparseAdam (defaults but lr; betas, eps and maximize) and
torch.optim.Adagrad with sparse gradients (defaults but lr; lr_decay,
initial_accumulator_value and eps; maximize).

Every number is printed with repr(), which round-trips a double exactly.
"""

import os
import random
import sys

import torch

ROWS, COLS, LENGTH, STEPS = 6, 3, 7, 12

# (identifier, torch call, factory, hyperparameters for the C++ side)
CASES = [
    ("sparse_adam_lr", "torch.optim.SparseAdam(params, lr=0.05)",
     lambda ps: torch.optim.SparseAdam(ps, lr=0.05),
     dict(optimizer="sparse_adam", lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8)),
    ("sparse_adam_betas_max",
     "torch.optim.SparseAdam(params, lr=0.1, betas=(0.8, 0.99), eps=1e-3, maximize=True)",
     lambda ps: torch.optim.SparseAdam(ps, lr=0.1, betas=(0.8, 0.99), eps=1e-3, maximize=True),
     dict(optimizer="sparse_adam", lr=0.1, beta1=0.8, beta2=0.99, eps=1e-3, maximize=True)),
    ("adagrad_lr", "torch.optim.Adagrad(params, lr=0.1)",
     lambda ps: torch.optim.Adagrad(ps, lr=0.1),
     dict(optimizer="adagrad", lr=0.1, eps=1e-10)),
    ("adagrad_decay_acc",
     "torch.optim.Adagrad(params, lr=0.2, lr_decay=0.05, initial_accumulator_value=0.1, eps=1e-6)",
     lambda ps: torch.optim.Adagrad(ps, lr=0.2, lr_decay=0.05, initial_accumulator_value=0.1,
                                    eps=1e-6),
     dict(optimizer="adagrad", lr=0.2, eps=1e-6, lr_decay=0.05, initial_accumulator=0.1)),
    ("adagrad_maximize", "torch.optim.Adagrad(params, lr=0.1, maximize=True)",
     lambda ps: torch.optim.Adagrad(ps, lr=0.1, maximize=True),
     dict(optimizer="adagrad", lr=0.1, eps=1e-10, maximize=True)),
]

HYPER_FIELDS = ["lr", "beta1", "beta2", "eps", "lr_decay", "initial_accumulator", "maximize"]


def f32(x):
    return float(torch.tensor(x, dtype=torch.float32))


def schedule(rng, n_touchable, empty_step):
    """Each step's indices: fixed first steps for the cases that matter, then random.

    torch 1.13 fails on an empty sparse gradient with dense dimensions (a
    table's: "The size of tensor a (3) must match the size of tensor b (0)"),
    so only the vector has an empty step.
    """
    fixed = [[0, 2, 2], [3], [] if empty_step else [2], [4, 0, 4, 4], [1, 0]]
    steps = [list(s) for s in fixed]
    while len(steps) < STEPS:
        steps.append([rng.randrange(n_touchable) for _ in range(rng.randint(1, 5))])
    return steps


def make_data():
    rng = random.Random(13)
    x0_table = [[f32(rng.uniform(-1, 1)) for _ in range(COLS)] for _ in range(ROWS)]
    x0_vec = [f32(rng.uniform(-1, 1)) for _ in range(LENGTH)]
    table_steps = []
    for idx in schedule(rng, ROWS - 1, False):
        table_steps.append((idx, [[f32(rng.gauss(0, 1)) for _ in range(COLS)] for _ in idx]))
    vec_steps = []
    for idx in schedule(rng, LENGTH - 1, True):
        vec_steps.append((idx, [f32(rng.gauss(0, 1)) for _ in idx]))
    # Large values whose sum depends on the order it is taken in: torch adds
    # a repeated index's values in the order given, and so must descent.
    idx, vals = vec_steps[STEPS - 1]
    vec_steps[STEPS - 1] = (idx + [5, 5, 5], vals + [f32(1e17), f32(1.0), f32(-1e17)])
    return x0_table, x0_vec, table_steps, vec_steps


def run(factory, dtype, x0, steps, shape):
    p = torch.tensor(x0, dtype=dtype, requires_grad=True)
    opt = factory([p])
    out = []
    for idx, vals in steps:
        if idx:
            i = torch.tensor([idx], dtype=torch.int64)
            v = torch.tensor(vals, dtype=dtype)
        else:
            i = torch.zeros((1, 0), dtype=torch.int64)
            v = torch.zeros((0,) + tuple(shape[1:]), dtype=dtype)
        p.grad = torch.sparse_coo_tensor(i, v, shape)
        opt.step()
        out.append(p.detach().clone().reshape(-1).tolist())
    return out


def r(x):
    """A C++ literal that round-trips x."""
    if isinstance(x, bool):
        return "true" if x else "false"
    s = repr(float(x))
    if "e" not in s and "." not in s:
        s += ".0"
    return s


def main():
    torch.set_num_threads(1)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_path = os.path.join(root, "tests", "data", "sparse_reference.hpp")
    x0_table, x0_vec, table_steps, vec_steps = make_data()

    lines = []
    w = lines.append
    w("// Generated by tools/make_sparse_reference.py with torch %s; do not edit."
      % torch.__version__)
    w("#pragma once")
    w("// Sparse-gradient steps of torch.optim.SparseAdam and torch.optim.Adagrad,")
    w("// compared against descent in tests/test_sparse.cpp. Regenerate with:")
    w("//     /usr/bin/python3 tools/make_sparse_reference.py")
    w("")
    w("namespace sparse_reference {")
    w("")
    w("constexpr int kRows = %d, kCols = %d, kLength = %d, kSteps = %d;" % (ROWS, COLS, LENGTH, STEPS))
    w("// Every input is a float32 value.")
    w("constexpr double kTableX0[kRows][kCols] = {%s};"
      % ", ".join("{%s}" % ", ".join(r(v) for v in row) for row in x0_table))
    w("constexpr double kVectorX0[kLength] = {%s};" % ", ".join(r(v) for v in x0_vec))
    w("")
    w("// Step k's gradient: kCount[k] entries from kFirst[k] on, each an index")
    w("// and its row (table) or value (vector), in the order torch was given them.")
    for name, steps in (("Table", table_steps), ("Vector", vec_steps)):
        counts = [len(idx) for idx, _ in steps]
        firsts = [sum(counts[:k]) for k in range(STEPS)]
        w("constexpr int k%sCount[kSteps] = {%s};" % (name, ", ".join(str(c) for c in counts)))
        w("constexpr int k%sFirst[kSteps] = {%s};" % (name, ", ".join(str(c) for c in firsts)))
        w("constexpr long k%sIndex[%d] = {%s};"
          % (name, sum(counts), ", ".join(str(i) for idx, _ in steps for i in idx)))
        if name == "Table":
            w("constexpr double kTableValue[%d][kCols] = {" % sum(counts))
            for _, vals in steps:
                for row in vals:
                    w("    {%s}," % ", ".join(r(v) for v in row))
            w("};")
        else:
            w("constexpr double kVectorValue[%d] = {%s};"
              % (sum(counts), ", ".join(r(v) for _, vals in steps for v in vals)))
    w("")
    w("/// The options of descent's optimizer; fields a case does not use are 0.")
    w("struct Hyper {")
    w("  double lr, beta1, beta2, eps, lr_decay, initial_accumulator;")
    w("  bool maximize;")
    w("};")
    w("")
    w("/// One case in one dtype: the table and the vector after each step.")
    w("struct Case {")
    w("  const char* id;")
    w("  const char* torch_call;")
    w("  const char* dtype;")
    w("  const char* optimizer;  // sparse_adam or adagrad")
    w("  Hyper hyper;")
    w("  double table[kSteps][kRows * kCols];")
    w("  double vector[kSteps][kLength];")
    w("};")
    w("")
    w("constexpr Case kCases[] = {")
    for ident, call, factory, hyper in CASES:
        h = dict(hyper)
        text = ", ".join(r(h.get(k, 0.0) if k != "maximize" else h.get(k, False))
                         for k in HYPER_FIELDS)
        for dname, dtype in (("float64", torch.float64), ("float32", torch.float32)):
            table = run(factory, dtype, x0_table, table_steps, (ROWS, COLS))
            vector = run(factory, dtype, x0_vec, vec_steps, (LENGTH,))
            w('    {"%s", "%s", "%s", "%s",' % (ident, call, dname, h["optimizer"]))
            w("     {%s}," % text)
            w("     {")
            for k, row in enumerate(table):
                w("         {%s},  // %d" % (", ".join(r(v) for v in row), k + 1))
            w("     },")
            w("     {")
            for k, row in enumerate(vector):
                w("         {%s},  // %d" % (", ".join(r(v) for v in row), k + 1))
            w("     }},")
    w("};")
    w("")
    w("}  // namespace sparse_reference")
    w("")
    with open(out_path, "w") as f:
        f.write("\n".join(lines))
    print("wrote %s (%d bytes)" % (out_path, os.path.getsize(out_path)), file=sys.stderr)


if __name__ == "__main__":
    main()
