#!/usr/bin/python3
"""Generate tests/data/schedule_free_reference.hpp: Schedule-Free SGD and AdamW.

Run offline with a Python that has PyTorch (Debian's python3-torch, 1.13):

    /usr/bin/python3 tools/make_schedule_free_reference.py

It writes tests/data/schedule_free_reference.hpp (next to this script's
repository root), which tests/test_wrappers.cpp compares
descent::ScheduleFree against.

The schedulefree package cannot be installed where this data was made, so
its two optimizers are re-implemented here line by line from
github.com/facebookresearch/schedule_free @ 008357290775d286f850fc13328d99a63b9ba715:

    schedulefree/sgd_schedulefree.py    SGDScheduleFree.step, .eval, .train
    schedulefree/adamw_schedulefree.py  AdamWScheduleFree.step, .eval, .train

The per-parameter path (foreach=False) is kept statement for statement and
runs on PyTorch's own tensor kernels (lerp_, addcmul_, add_ with alpha), so
its rounding is the reference's; the per-group scalars are the same Python
expressions. The problem is tools/make_torch_reference.py's, g(x) = a * (x -
c) + 0.05 * x * x * x (elementwise, left to right), p.grad set by hand. Each
run takes 40 steps; after step 20 it calls eval() (recording x) and train()
(recording y again), and after step 40 eval() (recording x). Every number is
printed with repr(), which round-trips a double exactly.
"""

import math
import os
import sys

import torch

A = [1.0, 10.0, 0.1]
C = [1.5, -0.7, 2.3]
X0 = [-1.2, 0.9, -0.4]
CUBIC = 0.05
N_STEPS = 40
MIDDLE = 20


class ScheduleFree:
    """The state of one param group with one parameter, as the reference keeps it."""

    def __init__(self, p, adamw, lr, beta1, beta2=0.999, eps=1e-8, weight_decay=0,
                 warmup_steps=0, r=0.0, weight_lr_power=2.0):
        self.p = p
        self.adamw = adamw
        self.group = dict(lr=lr, momentum=beta1, betas=(beta1, beta2), eps=eps, r=r, k=0,
                          warmup_steps=warmup_steps, train_mode=True, weight_sum=0.0,
                          lr_max=-1.0, weight_lr_power=weight_lr_power,
                          weight_decay=weight_decay)
        self.state = {}

    def eval(self):
        group = self.group
        beta1 = group['momentum']
        if group['train_mode']:
            if 'z' in self.state:
                # Set p.data to x
                self.p.data.lerp_(end=self.state['z'], weight=1 - 1 / beta1)
            group['train_mode'] = False

    def train(self):
        group = self.group
        beta1 = group['momentum']
        if not group['train_mode']:
            if 'z' in self.state:
                # Set p.data to y
                self.p.data.lerp_(end=self.state['z'], weight=1 - beta1)
            group['train_mode'] = True

    def step(self):
        group = self.group
        k = group['k']
        warmup_steps = group['warmup_steps']
        if k < warmup_steps:
            sched = (k + 1) / warmup_steps
        else:
            sched = 1.0
        if self.adamw:
            beta1, beta2 = group['betas']
            bias_correction2 = 1 - beta2 ** (k + 1)
            lr = group['lr'] * sched * math.sqrt(bias_correction2)
        else:
            beta1 = group['momentum']
            lr = group['lr'] * sched
        weight_lr_power = group['weight_lr_power']
        r = group['r']
        lr_max = group['lr_max'] = max(lr, group['lr_max'])
        weight = ((k + 1) ** r) * (lr_max ** weight_lr_power)
        weight_sum = group['weight_sum'] = group['weight_sum'] + weight
        try:
            ckp1 = weight / weight_sum
        except ZeroDivisionError:
            ckp1 = 0
        if not group['train_mode']:
            raise Exception("Not in train mode!")
        p = self.p
        if 'z' not in self.state:
            self.state['z'] = torch.clone(p.data)
            if self.adamw:
                self.state['exp_avg_sq'] = torch.zeros_like(p.data)
        y = p.data  # Notation to match theory
        grad = p.grad.data
        z = self.state['z']
        decay = group['weight_decay']
        if self.adamw:
            exp_avg_sq = self.state['exp_avg_sq']
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = exp_avg_sq.sqrt().add_(group['eps'])
            # Reuse grad buffer for memory efficiency
            grad_normalized = grad.div_(denom)
            # Weight decay calculated at y
            if decay != 0:
                grad_normalized.add_(y, alpha=decay)
            y.lerp_(end=z, weight=ckp1)
            y.add_(grad_normalized, alpha=lr * (beta1 * (1 - ckp1) - 1))
            # z step
            z.sub_(grad_normalized, alpha=lr)
        else:
            # Apply weight decay
            if decay != 0:
                grad.add_(y, alpha=decay)
            y.lerp_(end=z, weight=ckp1)
            y.add_(grad, alpha=lr * (beta1 * (1 - ckp1) - 1))
            # SGD step
            z.sub_(grad, alpha=lr)
        group['k'] = k + 1


CASES = [
    # (identifier, call text, adamw, kwargs, dtypes)
    ("sgd", "SGDScheduleFree(lr=0.05, momentum=0.9)", False,
     dict(lr=0.05, beta1=0.9), ("float64", "float32")),
    ("sgd_warmup_decay",
     "SGDScheduleFree(lr=0.05, momentum=0.8, weight_decay=0.1, warmup_steps=10, r=1.0, "
     "weight_lr_power=1.0)", False,
     dict(lr=0.05, beta1=0.8, weight_decay=0.1, warmup_steps=10, r=1.0, weight_lr_power=1.0),
     ("float64",)),
    ("adamw", "AdamWScheduleFree(lr=0.05, warmup_steps=5)", True,
     dict(lr=0.05, beta1=0.9, warmup_steps=5), ("float64", "float32")),
    ("adamw_decay",
     "AdamWScheduleFree(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, r=0.5)", True,
     dict(lr=0.05, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1, r=0.5), ("float64",)),
]


def run(adamw, kwargs, dtype):
    p = torch.nn.Parameter(torch.tensor(X0, dtype=dtype))
    a = torch.tensor(A, dtype=dtype)
    c = torch.tensor(C, dtype=dtype)
    opt = ScheduleFree(p, adamw, **kwargs)
    ys, middle = [], None
    for step in range(1, N_STEPS + 1):
        with torch.no_grad():
            p.grad = a * (p - c) + CUBIC * p * p * p
        opt.step()
        ys.append(p.detach().tolist())
        if step == MIDDLE:
            opt.eval()
            x_middle = p.detach().tolist()
            opt.train()
            middle = (x_middle, p.detach().tolist())
    opt.eval()
    return ys, middle, p.detach().tolist()


def r(x):
    s = repr(float(x))
    if "e" not in s and "." not in s and "inf" not in s and "nan" not in s:
        s += ".0"
    return s


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_path = os.path.join(root, "tests", "data", "schedule_free_reference.hpp")
    out = []
    w = out.append
    w("// Generated by tools/make_schedule_free_reference.py with torch %s; do not edit."
      % torch.__version__)
    w("#pragma once")
    w("// Schedule-Free SGD and AdamW (facebookresearch/schedule_free @ 00835729,")
    w("// re-implemented on PyTorch's kernels), compared in tests/test_wrappers.cpp.")
    w("")
    w("namespace schedule_free_reference {")
    w("")
    w("constexpr int kDim = 3;")
    w("constexpr int kSteps = %d;" % N_STEPS)
    w("constexpr int kMiddle = %d;" % MIDDLE)
    w("")
    w("/// One run: y after each step; x (eval) and y again (train) after step kMiddle;")
    w("/// x (eval) after the last step.")
    w("struct Run {")
    w("  const char* call;")
    w("  const char* dtype;")
    w("  bool adamw;")
    w("  double lr, beta1, beta2, eps, weight_decay;")
    w("  long warmup_steps;")
    w("  double r, weight_lr_power;")
    w("  double y[kSteps][kDim];")
    w("  double x_middle[kDim];")
    w("  double y_middle[kDim];")
    w("  double x_end[kDim];")
    w("};")
    w("")
    names = []
    for ident, call, adamw, kwargs, dtypes in CASES:
        full = dict(beta2=0.999, eps=1e-8, weight_decay=0.0, warmup_steps=0, r=0.0,
                    weight_lr_power=2.0)
        full.update(kwargs)
        for dname in dtypes:
            ys, (xm, ym), xe = run(adamw, kwargs, getattr(torch, dname))
            name = "%s_%s" % (ident, dname)
            names.append("&" + name)
            w("constexpr Run %s{" % name)
            w("    \"%s\", \"%s\", %s," % (call, dname, "true" if adamw else "false"))
            w("    %s, %s, %s, %s, %s, %d, %s, %s," % (
                r(full["lr"]), r(full["beta1"]), r(full["beta2"]), r(full["eps"]),
                r(full["weight_decay"]), full["warmup_steps"], r(full["r"]),
                r(full["weight_lr_power"])))
            w("    {")
            for y in ys:
                w("        {%s}," % ", ".join(r(v) for v in y))
            w("    },")
            w("    {%s}," % ", ".join(r(v) for v in xm))
            w("    {%s}," % ", ".join(r(v) for v in ym))
            w("    {%s}};" % ", ".join(r(v) for v in xe))
            w("")
    w("constexpr const Run* kRuns[] = {%s};" % ", ".join(names))
    w("")
    w("}  // namespace schedule_free_reference")
    with open(out_path, "w") as f:
        f.write("\n".join(out) + "\n")
    print("wrote %s (%d bytes)" % (out_path, os.path.getsize(out_path)), file=sys.stderr)


if __name__ == "__main__":
    main()
