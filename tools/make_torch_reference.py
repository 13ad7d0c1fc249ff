#!/usr/bin/python3
"""Generate tests/data/torch_reference.hpp: reference data from PyTorch.

Run offline with a Python that has PyTorch (Debian's python3-torch, 1.13):

    /usr/bin/python3 tools/make_torch_reference.py

It writes tests/data/torch_reference.hpp (next to this script's repository
root), which tests/test_torch_reference.cpp compares descent against.

Optimizer trajectories: one fixed separable problem in n = 3 coordinates
whose gradient uses only IEEE basic operations, so that C++ can compute the
same gradient with the same operations in the same order:

    g(x) = a * (x - c) + 0.05 * x * x * x      (elementwise, left to right)

p.grad is set to that tensor by hand (no autograd) before each opt.step().
Each case is run in float32 (gradient computed in float32 as well) and in
float64. The parameters are recorded at x0, after steps 1..10 and after every
10th step up to 160.

Variants (float64): torch.optim options beyond the lecture's (weight decay,
maximize, dampening, lr_decay, centered, momentum, amsgrad, AdamW), each
with the descent optimizer name and key=value options that reproduce it
(make_optimizer). A case with negate set feeds the optimizer -g (so maximize
climbs -E, i.e. descends E, and the run stays bounded); a case with
halve_every > 0 halves the lr before steps 1 + k*halve_every (k >= 1), which
separates PyTorch's momentum buffer (lr outside) from Keras's (lr inside).

Runs of torch.optim's other optimizers (Adamax, NAdam, RAdam, Adadelta,
Rprop, ASGD): their defaults in float64 and float32, and each option away
from its default, weight decay and maximize in float64, each with the descent
optimizer name and key=value options that reproduce it. Where torch.optim
1.13 lacks an option that descent has for every optimizer, the torch run
stands in for it exactly: NAdam and RAdam have no maximize, so descent with
maximize fed -g is compared with the plain torch run; Rprop has no
weight_decay, so the torch run is fed g + weight_decay * p (computed as
grad.add(p, alpha=weight_decay), the other optimizers' own L2 term). ASGD's
averaged parameters state['ax'] are recorded beside the parameters.

Schedulers (float64): get_last_lr()[0] after construction and after each of
100 scheduler.step() calls, each preceded by an optimizer.step() as PyTorch
asks.

Every number is printed with repr(), which round-trips a double exactly;
float32 values are exact as Python floats, so they round-trip as well.
"""

import os
import sys
import warnings

import torch

N_STEPS = 160
RECORDED_STEPS = [0] + list(range(1, 11)) + list(range(20, N_STEPS + 1, 10))
N_EPOCHS = 100

# The problem. a has curvatures spread over two decades; c and x0 are chosen
# so every coordinate travels a noticeable distance over the run.
A = [1.0, 10.0, 0.1]
C = [1.5, -0.7, 2.3]
X0 = [-1.2, 0.9, -0.4]

DTYPES = [("float32", torch.float32), ("float64", torch.float64)]

# (identifier, torch call as text, factory, hyperparameters for the C++ side)
OPTIMIZER_CASES = [
    ("sgd_lr0_05", "torch.optim.SGD(params, lr=0.05)",
     lambda ps: torch.optim.SGD(ps, lr=0.05),
     dict(lr=0.05)),
    ("sgd_momentum", "torch.optim.SGD(params, lr=0.01, momentum=0.9)",
     lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9),
     dict(lr=0.01, momentum=0.9)),
    ("sgd_nesterov", "torch.optim.SGD(params, lr=0.01, momentum=0.9, nesterov=True)",
     lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, nesterov=True),
     dict(lr=0.01, momentum=0.9, nesterov=True)),
    ("adagrad_default", "torch.optim.Adagrad(params, lr=0.1)",
     lambda ps: torch.optim.Adagrad(ps, lr=0.1),
     dict(lr=0.1, eps=1e-10, initial_accumulator=0.0)),
    ("adagrad_init_acc",
     "torch.optim.Adagrad(params, lr=0.1, initial_accumulator_value=0.1, eps=1e-6)",
     lambda ps: torch.optim.Adagrad(ps, lr=0.1, initial_accumulator_value=0.1, eps=1e-6),
     dict(lr=0.1, eps=1e-6, initial_accumulator=0.1)),
    ("rmsprop_lr0_01", "torch.optim.RMSprop(params, lr=0.01, alpha=0.99, eps=1e-8)",
     lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.99, eps=1e-8),
     dict(lr=0.01, rho=0.99, eps=1e-8)),
    ("rmsprop_lr0_001", "torch.optim.RMSprop(params, lr=0.001, alpha=0.9, eps=1e-6)",
     lambda ps: torch.optim.RMSprop(ps, lr=0.001, alpha=0.9, eps=1e-6),
     dict(lr=0.001, rho=0.9, eps=1e-6)),
    ("adam_default", "torch.optim.Adam(params, lr=0.01)",
     lambda ps: torch.optim.Adam(ps, lr=0.01),
     dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8)),
    ("adam_betas", "torch.optim.Adam(params, lr=0.05, betas=(0.8, 0.99), eps=1e-6)",
     lambda ps: torch.optim.Adam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-6),
     dict(lr=0.05, beta1=0.8, beta2=0.99, eps=1e-6)),
]

HYPERPARAMETER_DEFAULTS = dict(lr=0.0, momentum=0.0, nesterov=False, eps=0.0,
                               initial_accumulator=0.0, rho=0.0, beta1=0.0, beta2=0.0)

# (identifier, description, base lr, factory(optimizer), C++ side parameters)
SCHEDULER_CASES = [
    ("lambda_lr_0_95", "LambdaLR(opt, lambda e: 0.95 ** e), base lr 0.1", 0.1,
     lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.95 ** e),
     dict(step_size=0, gamma=0.0)),
    ("step_lr_30_0_1", "StepLR(opt, step_size=30, gamma=0.1), base lr 0.1", 0.1,
     lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1),
     dict(step_size=30, gamma=0.1)),
    ("step_lr_docs", "StepLR(opt, step_size=30, gamma=0.1), base lr 0.05 (PyTorch docs example)",
     0.05,
     lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1),
     dict(step_size=30, gamma=0.1)),
    ("step_lr_7_0_5", "StepLR(opt, step_size=7, gamma=0.5), base lr 0.3", 0.3,
     lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5),
     dict(step_size=7, gamma=0.5)),
]


# (identifier, torch call, factory, descent name, descent options as
# key=value, negate, halve_every)
VARIANT_CASES = [
    ("gd_weight_decay", "torch.optim.SGD(params, lr=0.05, weight_decay=0.1)",
     lambda ps: torch.optim.SGD(ps, lr=0.05, weight_decay=0.1),
     "gradient_descent", "lr=0.05,weight_decay=0.1", False, 0),
    ("gd_maximize", "torch.optim.SGD(params, lr=0.05, maximize=True), fed -g",
     lambda ps: torch.optim.SGD(ps, lr=0.05, maximize=True),
     "gradient_descent", "lr=0.05,maximize=true", True, 0),
    ("sgd_dampening", "torch.optim.SGD(params, lr=0.01, momentum=0.9, dampening=0.3)",
     lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, dampening=0.3),
     "sgd", "profile=pytorch,lr=0.01,momentum=0.9,dampening=0.3", False, 0),
    ("sgd_momentum_halved",
     "torch.optim.SGD(params, lr=0.02, momentum=0.9), lr halved every 40 steps",
     lambda ps: torch.optim.SGD(ps, lr=0.02, momentum=0.9),
     "sgd", "profile=pytorch,lr=0.02,momentum=0.9", False, 40),
    ("sgd_nesterov_wd_max",
     "torch.optim.SGD(params, lr=0.01, momentum=0.8, nesterov=True, weight_decay=0.05, "
     "maximize=True), fed -g",
     lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.8, nesterov=True, weight_decay=0.05,
                                maximize=True),
     "sgd", "profile=pytorch,lr=0.01,momentum=0.8,nesterov=true,weight_decay=0.05,maximize=true",
     True, 0),
    ("adagrad_lr_decay", "torch.optim.Adagrad(params, lr=0.1, lr_decay=0.01)",
     lambda ps: torch.optim.Adagrad(ps, lr=0.1, lr_decay=0.01),
     "adagrad", "profile=pytorch,lr=0.1,lr_decay=0.01", False, 0),
    ("adagrad_wd_max",
     "torch.optim.Adagrad(params, lr=0.1, weight_decay=0.05, maximize=True), fed -g",
     lambda ps: torch.optim.Adagrad(ps, lr=0.1, weight_decay=0.05, maximize=True),
     "adagrad", "profile=pytorch,lr=0.1,weight_decay=0.05,maximize=true", True, 0),
    ("rmsprop_centered", "torch.optim.RMSprop(params, lr=0.01, centered=True)",
     lambda ps: torch.optim.RMSprop(ps, lr=0.01, centered=True),
     "rmsprop", "profile=pytorch,lr=0.01,centered=true", False, 0),
    ("rmsprop_momentum_halved",
     "torch.optim.RMSprop(params, lr=0.005, momentum=0.9), lr halved every 40 steps",
     lambda ps: torch.optim.RMSprop(ps, lr=0.005, momentum=0.9),
     "rmsprop", "profile=pytorch,lr=0.005,momentum=0.9", False, 40),
    ("rmsprop_centered_momentum_wd",
     "torch.optim.RMSprop(params, lr=0.005, alpha=0.9, eps=1e-6, centered=True, momentum=0.5, "
     "weight_decay=0.05)",
     lambda ps: torch.optim.RMSprop(ps, lr=0.005, alpha=0.9, eps=1e-6, centered=True,
                                    momentum=0.5, weight_decay=0.05),
     "rmsprop",
     "profile=pytorch,lr=0.005,rho=0.9,eps=1e-6,centered=true,momentum=0.5,weight_decay=0.05",
     False, 0),
    # At lr 0.01, v only grows on this problem, so AMSGrad would be Adam.
    ("adam_amsgrad", "torch.optim.Adam(params, lr=0.05, betas=(0.9, 0.99), amsgrad=True)",
     lambda ps: torch.optim.Adam(ps, lr=0.05, betas=(0.9, 0.99), amsgrad=True),
     "adam", "profile=pytorch,lr=0.05,beta2=0.99,amsgrad=true", False, 0),
    ("adam_weight_decay", "torch.optim.Adam(params, lr=0.01, weight_decay=0.1)",
     lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.1),
     "adam", "profile=pytorch,lr=0.01,weight_decay=0.1", False, 0),
    ("adam_amsgrad_wd_max",
     "torch.optim.Adam(params, lr=0.02, betas=(0.8, 0.99), amsgrad=True, weight_decay=0.05, "
     "maximize=True), fed -g",
     lambda ps: torch.optim.Adam(ps, lr=0.02, betas=(0.8, 0.99), amsgrad=True,
                                 weight_decay=0.05, maximize=True),
     "adam",
     "profile=pytorch,lr=0.02,beta1=0.8,beta2=0.99,amsgrad=true,weight_decay=0.05,"
     "maximize=true", True, 0),
    ("adamw_default", "torch.optim.AdamW(params, lr=0.01)",
     lambda ps: torch.optim.AdamW(ps, lr=0.01),
     "adamw", "profile=pytorch,lr=0.01", False, 0),
    ("adamw_amsgrad",
     "torch.optim.AdamW(params, lr=0.05, betas=(0.9, 0.99), weight_decay=0.2, amsgrad=True)",
     lambda ps: torch.optim.AdamW(ps, lr=0.05, betas=(0.9, 0.99), weight_decay=0.2,
                                  amsgrad=True),
     "adamw", "profile=pytorch,lr=0.05,beta2=0.99,weight_decay=0.2,amsgrad=true", False, 0),
    ("adam_decoupled", "torch.optim.AdamW(params, lr=0.01, weight_decay=0.2), as descent::Adam",
     lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.2),
     "adam", "profile=pytorch,lr=0.01,weight_decay=0.2,decoupled_weight_decay=true", False, 0),
]


# (identifier, torch call, factory, dtypes, torch's gradient, descent name,
# descent options as key=value, descent fed -g). torch's gradient: "g", "-g"
# or a weight decay w (float): g + w * p.
BOTH = ("float64", "float32")
F64 = ("float64",)
OPTIM_CASES = [
    ("adamax_default", "torch.optim.Adamax(params)",
     lambda ps: torch.optim.Adamax(ps), BOTH, "g", "adamax", "profile=pytorch", False),
    ("adamax_lr", "torch.optim.Adamax(params, lr=0.05)",
     lambda ps: torch.optim.Adamax(ps, lr=0.05), BOTH, "g", "adamax", "lr=0.05", False),
    ("adamax_betas_eps", "torch.optim.Adamax(params, lr=0.05, betas=(0.8, 0.99), eps=1e-3)",
     lambda ps: torch.optim.Adamax(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-3), F64, "g",
     "adamax", "lr=0.05,beta1=0.8,beta2=0.99,eps=1e-3", False),
    ("adamax_wd_max",
     "torch.optim.Adamax(params, lr=0.02, weight_decay=0.1, maximize=True), fed -g",
     lambda ps: torch.optim.Adamax(ps, lr=0.02, weight_decay=0.1, maximize=True), F64, "-g",
     "adamax", "lr=0.02,weight_decay=0.1,maximize=true", True),
    ("nadam_default", "torch.optim.NAdam(params)",
     lambda ps: torch.optim.NAdam(ps), BOTH, "g", "nadam", "profile=pytorch", False),
    ("nadam_lr", "torch.optim.NAdam(params, lr=0.05)",
     lambda ps: torch.optim.NAdam(ps, lr=0.05), BOTH, "g", "nadam", "profile=pytorch,lr=0.05", False),
    ("nadam_momentum_decay",
     "torch.optim.NAdam(params, lr=0.05, betas=(0.8, 0.99), eps=1e-6, momentum_decay=0.1)",
     lambda ps: torch.optim.NAdam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-6, momentum_decay=0.1),
     F64, "g", "nadam", "profile=pytorch,lr=0.05,beta1=0.8,beta2=0.99,eps=1e-6,momentum_decay=0.1",
     False),
    ("nadam_weight_decay", "torch.optim.NAdam(params, lr=0.05, weight_decay=0.1)",
     lambda ps: torch.optim.NAdam(ps, lr=0.05, weight_decay=0.1), F64, "g",
     "nadam", "profile=pytorch,lr=0.05,weight_decay=0.1", False),
    ("nadam_maximize", "torch.optim.NAdam(params, lr=0.05) (no maximize in 1.13)",
     lambda ps: torch.optim.NAdam(ps, lr=0.05), F64, "g",
     "nadam", "profile=pytorch,lr=0.05,maximize=true", True),
    ("radam_default", "torch.optim.RAdam(params)",
     lambda ps: torch.optim.RAdam(ps), BOTH, "g", "radam", "profile=pytorch", False),
    ("radam_lr", "torch.optim.RAdam(params, lr=0.05)",
     lambda ps: torch.optim.RAdam(ps, lr=0.05), BOTH, "g", "radam", "lr=0.05", False),
    ("radam_betas_eps", "torch.optim.RAdam(params, lr=0.05, betas=(0.8, 0.9), eps=1e-3)",
     lambda ps: torch.optim.RAdam(ps, lr=0.05, betas=(0.8, 0.9), eps=1e-3), F64, "g",
     "radam", "lr=0.05,beta1=0.8,beta2=0.9,eps=1e-3", False),
    # rho_inf = 2 / (1 - 0.6) - 1 = 4: never rectified.
    ("radam_unrectified", "torch.optim.RAdam(params, lr=0.05, betas=(0.9, 0.6))",
     lambda ps: torch.optim.RAdam(ps, lr=0.05, betas=(0.9, 0.6)), F64, "g",
     "radam", "lr=0.05,beta2=0.6", False),
    ("radam_weight_decay", "torch.optim.RAdam(params, lr=0.05, weight_decay=0.1)",
     lambda ps: torch.optim.RAdam(ps, lr=0.05, weight_decay=0.1), F64, "g",
     "radam", "lr=0.05,weight_decay=0.1", False),
    ("radam_maximize", "torch.optim.RAdam(params, lr=0.05) (no maximize in 1.13)",
     lambda ps: torch.optim.RAdam(ps, lr=0.05), F64, "g",
     "radam", "lr=0.05,maximize=true", True),
    ("adadelta_default", "torch.optim.Adadelta(params)",
     lambda ps: torch.optim.Adadelta(ps), BOTH, "g", "adadelta", "profile=pytorch", False),
    ("adadelta_rho_eps_lr", "torch.optim.Adadelta(params, lr=0.5, rho=0.95, eps=1e-4)",
     lambda ps: torch.optim.Adadelta(ps, lr=0.5, rho=0.95, eps=1e-4), F64, "g",
     "adadelta", "lr=0.5,rho=0.95,eps=1e-4", False),
    ("adadelta_wd_max", "torch.optim.Adadelta(params, weight_decay=0.1, maximize=True), fed -g",
     lambda ps: torch.optim.Adadelta(ps, weight_decay=0.1, maximize=True), F64, "-g",
     "adadelta", "weight_decay=0.1,maximize=true", True),
    ("rprop_default", "torch.optim.Rprop(params)",
     lambda ps: torch.optim.Rprop(ps), BOTH, "g", "rprop", "profile=pytorch", False),
    ("rprop_etas_step_sizes",
     "torch.optim.Rprop(params, lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2))",
     lambda ps: torch.optim.Rprop(ps, lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2)), F64,
     "g", "rprop", "lr=0.05,eta_minus=0.3,eta_plus=1.5,step_size_min=1e-3,step_size_max=0.2",
     False),
    ("rprop_maximize", "torch.optim.Rprop(params, maximize=True), fed -g",
     lambda ps: torch.optim.Rprop(ps, maximize=True), F64, "-g",
     "rprop", "maximize=true", True),
    ("rprop_weight_decay",
     "torch.optim.Rprop(params) fed g + 0.1 * p (no weight_decay in 1.13)",
     lambda ps: torch.optim.Rprop(ps), F64, 0.1, "rprop", "weight_decay=0.1", False),
    ("asgd_default", "torch.optim.ASGD(params)",
     lambda ps: torch.optim.ASGD(ps), BOTH, "g", "asgd", "profile=pytorch", False),
    ("asgd_averaging", "torch.optim.ASGD(params, lr=0.05, lambd=1e-3, alpha=0.6, t0=50)",
     lambda ps: torch.optim.ASGD(ps, lr=0.05, lambd=1e-3, alpha=0.6, t0=50), BOTH, "g",
     "asgd", "lr=0.05,lambd=1e-3,alpha=0.6,t0=50", False),
    ("asgd_wd_max",
     "torch.optim.ASGD(params, lr=0.02, t0=20, weight_decay=0.1, maximize=True), fed -g",
     lambda ps: torch.optim.ASGD(ps, lr=0.02, t0=20, weight_decay=0.1, maximize=True), F64,
     "-g", "asgd", "lr=0.02,t0=20,weight_decay=0.1,maximize=true", True),
]


def run_optim_case(factory, dtype, torch_grad):
    """Like run_optimizer, with torch's gradient g, -g or g + w * p; also
    returns state['ax'] (ASGD) at the recorded steps, or None."""
    a = torch.tensor(A, dtype=dtype)
    c = torch.tensor(C, dtype=dtype)
    p = torch.tensor(X0, dtype=dtype, requires_grad=True)
    opt = factory([p])
    recorded = {0: p.detach().tolist()}
    averaged = {0: [0.0] * len(X0)}
    for step in range(1, N_STEPS + 1):
        with torch.no_grad():
            g = a * (p - c) + 0.05 * p * p * p
            if torch_grad == "-g":
                g = -g
            elif torch_grad != "g":
                g = g.add(p, alpha=torch_grad)
            p.grad = g
        assert p.grad.dtype == dtype
        opt.step()
        if step in RECORDED_STEPS:
            recorded[step] = p.detach().tolist()
            if "ax" in opt.state[p]:
                averaged[step] = opt.state[p]["ax"].tolist()
    has_ax = "ax" in opt.state[p]
    return ([recorded[s] for s in RECORDED_STEPS],
            [averaged[s] for s in RECORDED_STEPS] if has_ax else None)


def run_optimizer(factory, dtype, negate=False, halve_every=0):
    a = torch.tensor(A, dtype=dtype)
    c = torch.tensor(C, dtype=dtype)
    p = torch.tensor(X0, dtype=dtype, requires_grad=True)
    opt = factory([p])
    recorded = {0: p.detach().tolist()}
    for step in range(1, N_STEPS + 1):
        if halve_every and step > 1 and (step - 1) % halve_every == 0:
            for group in opt.param_groups:
                group["lr"] = group["lr"] / 2
        with torch.no_grad():
            p.grad = a * (p - c) + 0.05 * p * p * p
            if negate:
                p.grad = -p.grad
        assert p.grad.dtype == dtype
        opt.step()
        if step in RECORDED_STEPS:
            recorded[step] = p.detach().tolist()
    return [recorded[s] for s in RECORDED_STEPS]


def run_scheduler(base_lr, factory):
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = factory(opt)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(N_EPOCHS):
        p.grad = torch.zeros_like(p)
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    for v in lrs:
        assert type(v) is float
    return lrs


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


def main():
    torch.set_num_threads(1)
    warnings.simplefilter("error")  # e.g. the scheduler-order warning
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_path = os.path.join(root, "tests", "data", "torch_reference.hpp")

    lines = []
    w = lines.append
    w("// Generated by tools/make_torch_reference.py with torch %s; do not edit."
      % torch.__version__)
    w("#pragma once")
    w("// Reference data from PyTorch, compared against descent in")
    w("// tests/test_torch_reference.cpp. Regenerate with:")
    w("//     /usr/bin/python3 tools/make_torch_reference.py")
    w("")
    w("namespace torch_reference {")
    w("")
    w('constexpr const char* kTorchVersion = "%s";' % torch.__version__)
    w("")
    w("// The problem: g(x) = a * (x - c) + 0.05 * x * x * x, elementwise, evaluated")
    w("// left to right in the run's dtype (for float32: a, c, x0 and 0.05 rounded")
    w("// to float first). p.grad was set to g(p) by hand before every opt.step().")
    w("constexpr int kDim = %d;" % len(A))
    w("constexpr double kA[kDim] = {%s};" % ", ".join(r(v) for v in A))
    w("constexpr double kC[kDim] = {%s};" % ", ".join(r(v) for v in C))
    w("constexpr double kX0[kDim] = {%s};" % ", ".join(r(v) for v in X0))
    w("constexpr double kCubic = 0.05;")
    w("constexpr int kSteps = %d;" % N_STEPS)
    w("constexpr int kNumRecorded = %d;" % len(RECORDED_STEPS))
    w("// Step after which params[k] was recorded (0: x0).")
    w("constexpr int kRecordedSteps[kNumRecorded] = {%s};"
      % ", ".join(str(s) for s in RECORDED_STEPS))
    w("")
    w("/// Hyperparameters of one torch.optim case; fields a case does not use are 0.")
    w("struct Hyper {")
    w("  double lr, momentum;")
    w("  bool nesterov;")
    w("  double eps, initial_accumulator, rho, beta1, beta2;")
    w("};")
    w("")
    w("/// One optimizer run: params[k] after step kRecordedSteps[k]. float32 runs")
    w("/// hold float values, exactly representable as double.")
    w("struct Trajectory {")
    w("  const char* torch_call;")
    w("  const char* dtype;")
    w("  Hyper hyper;")
    w("  double params[kNumRecorded][kDim];")
    w("};")
    w("")
    for ident, call, factory, hyper in OPTIMIZER_CASES:
        h = dict(HYPERPARAMETER_DEFAULTS)
        h.update(hyper)
        hyper_text = "{%s}" % ", ".join(
            r(h[k]) for k in ["lr", "momentum", "nesterov", "eps", "initial_accumulator",
                              "rho", "beta1", "beta2"])
        for dname, dtype in DTYPES:
            traj = run_optimizer(factory, dtype)
            w("constexpr Trajectory %s_%s{" % (ident, dname))
            w('    "%s", "%s",' % (call, dname))
            w("    %s," % hyper_text)
            w("    {")
            for step, row in zip(RECORDED_STEPS, traj):
                w("        {%s},  // %d" % (", ".join(r(v) for v in row), step))
            w("    }};")
            w("")

    w("/// A variant run (float64): descent's optimizer and key=value options")
    w("/// (comma-separated, for make_optimizer) that reproduce the torch call.")
    w("struct Variant {")
    w("  const char* id;")
    w("  const char* torch_call;")
    w("  const char* optimizer;")
    w("  const char* options;")
    w("  bool negate;       // the optimizer was fed -g")
    w("  int halve_every;   // lr halved before steps 1 + k*halve_every, k >= 1")
    w("  double params[kNumRecorded][kDim];")
    w("};")
    w("")
    w("constexpr Variant kVariants[] = {")
    for ident, call, factory, name, options, negate, halve in VARIANT_CASES:
        traj = run_optimizer(factory, torch.float64, negate, halve)
        w('    {"%s",' % ident)
        w('     "%s",' % call)
        w('     "%s", "%s", %s, %d,' % (name, options, r(negate), halve))
        w("     {")
        for step, row in zip(RECORDED_STEPS, traj):
            w("         {%s},  // %d" % (", ".join(r(v) for v in row), step))
        w("     }},")
    w("};")
    w("")
    w("/// A run of one of torch.optim's optimizers beyond the lecture's (Adamax,")
    w("/// NAdam, RAdam, Adadelta, Rprop, ASGD) in float64 or float32, with descent's")
    w("/// optimizer and key=value options (comma-separated, for make_optimizer) that")
    w("/// reproduce it. float32 runs hold float values, exactly representable as")
    w("/// double.")
    w("struct Run {")
    w("  const char* id;")
    w("  const char* torch_call;")
    w("  const char* dtype;")
    w("  const char* optimizer;")
    w("  const char* options;")
    w("  bool negate;        // descent was fed -g")
    w("  bool has_averaged;  // averaged[k]: ASGD's state['ax'] after step k")
    w("  double params[kNumRecorded][kDim];")
    w("  double averaged[kNumRecorded][kDim];")
    w("};")
    w("")
    w("constexpr Run kRuns[] = {")
    for ident, call, factory, dtypes, torch_grad, name, options, negate in OPTIM_CASES:
        for dname in dtypes:
            dtype = dict(DTYPES)[dname]
            traj, ax = run_optim_case(factory, dtype, torch_grad)
            w('    {"%s",' % ident)
            w('     "%s",' % call)
            w('     "%s", "%s", "%s", %s, %s,' % (dname, name, options, r(negate), r(ax is not None)))
            w("     {")
            for step, row in zip(RECORDED_STEPS, traj):
                w("         {%s},  // %d" % (", ".join(r(v) for v in row), step))
            w("     },")
            if ax is None:
                w("     {}},")
            else:
                w("     {")
                for step, row in zip(RECORDED_STEPS, ax):
                    w("         {%s},  // %d" % (", ".join(r(v) for v in row), step))
                w("     }},")
    w("};")
    w("")
    w("/// One scheduler run (float64): lr[e] = get_last_lr()[0] after e")
    w("/// scheduler.step() calls (lr[0]: right after construction).")
    w("constexpr int kEpochs = %d;" % N_EPOCHS)
    w("struct Schedule {")
    w("  const char* torch_call;")
    w("  double base_lr;")
    w("  long step_size;  // StepLR only")
    w("  double gamma;    // StepLR only")
    w("  double lr[kEpochs + 1];")
    w("};")
    w("")
    for ident, desc, base_lr, factory, params in SCHEDULER_CASES:
        lrs = run_scheduler(base_lr, factory)
        w("constexpr Schedule %s{" % ident)
        w('    "%s", %s, %d, %s,' % (desc, r(base_lr), params["step_size"], r(params["gamma"])))
        w("    {")
        for i in range(0, len(lrs), 4):
            w("        %s," % ", ".join(r(v) for v in lrs[i:i + 4]))
        w("    }};")
        w("")
    w("}  // namespace torch_reference")
    w("")

    with open(out_path, "w") as f:
        f.write("\n".join(lines))
    print("wrote %s (%d bytes)" % (out_path, os.path.getsize(out_path)), file=sys.stderr)


if __name__ == "__main__":
    main()
