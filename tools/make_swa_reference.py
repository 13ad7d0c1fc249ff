#!/usr/bin/python3
"""Generate tests/data/swa_reference.hpp: weight averaging and SWALR references.

Run offline with a Python that has PyTorch (Debian's python3-torch, 1.13) and
NumPy:

    /usr/bin/python3 tools/make_swa_reference.py

It writes tests/data/swa_reference.hpp (next to this script's repository
root), which tests/test_weight_average.cpp compares descent's WeightAverage
and SWALR against.

PyTorch (torch.optim.swa_utils of the installed 1.13): the problem of
tools/make_torch_reference.py, g(x) = a * (x - c) + 0.05 * x * x * x
(elementwise, left to right), one parameter tensor of n = 3, p.grad set by
hand before each step.

  * Trajectories: torch.optim.SGD with momentum; an AveragedModel with the
    EMA avg_fn `lambda avg, p, n: decay * avg + (1 - decay) * p` updated
    after every step, and an AveragedModel with the default (SWA) avg_fn
    updated after the steps listed. The recipe case is the torch.optim.swa_utils
    documentation's: CosineAnnealingLR until swa_start, then SWALR, which
    anneals from the lr the cosine left. Recorded after every step: the
    parameters, both averages (zeros before the first update) and the lr.
  * Schedules: get_last_lr() of SWALR (with cos and linear annealing, zero
    anneal epochs, two param groups with one swa_lr each, and after a StepLR)
    after construction and after each scheduler.step(), each preceded by an
    optimizer.step() as PyTorch asks.

Keras (not installable here, so re-implemented in NumPy float64 from the
source, line by line, in Keras's order of operations): use_ema with
ema_momentum and ema_overwrite_frequency around keras.optimizers.SGD, from
github.com/keras-team/keras

    keras/src/optimizers/base_optimizer.py  da84de543b3a0b04f4f410ec1b1e8907e619bdf7
        BaseOptimizer._backend_apply_gradients (the use_ema block) and
        _update_model_variables_moving_average,
        _overwrite_model_variables_with_average_value
    keras/src/optimizers/sgd.py             as tools/make_keras_reference.py

Every number is printed with repr(), which round-trips a double exactly;
float32 values are exact as Python floats.
"""

import math
import os
import sys
import warnings

import numpy as np
import torch
from torch.optim.swa_utils import SWALR, AveragedModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_keras_reference as keras_ref  # noqa: E402  (its SGD mirror)

A = [1.0, 10.0, 0.1]
C = [1.5, -0.7, 2.3]
X0 = [-1.2, 0.9, -0.4]
CUBIC = 0.05
N_STEPS = 40
N_EPOCHS = 15


def r(x):
    """A C++ double literal that round-trips x."""
    s = repr(float(x))
    if "e" not in s and "." not in s and "inf" not in s and "nan" not in s:
        s += ".0"
    return s


class Holder(torch.nn.Module):
    def __init__(self, dtype):
        super().__init__()
        self.p = torch.nn.Parameter(torch.tensor(X0, dtype=dtype))


def trajectory(dtype, lr, momentum, ema_decay, swa_steps, recipe):
    """SGD + EMA + SWA; recipe: (T_max, swa_start, swa_lr, anneal_epochs, strategy)."""
    model = Holder(dtype)
    a = torch.tensor(A, dtype=dtype)
    c = torch.tensor(C, dtype=dtype)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    ema = AveragedModel(model, avg_fn=lambda avg, p, n: ema_decay * avg + (1 - ema_decay) * p)
    swa = AveragedModel(model)
    if recipe:
        t_max, swa_start, swa_lr, anneal_epochs, strategy = recipe
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t_max)
        swalr = SWALR(opt, swa_lr=swa_lr, anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    rows = []
    for step in range(1, N_STEPS + 1):
        p = model.p
        with torch.no_grad():
            p.grad = a * (p - c) + CUBIC * p * p * p
        opt.step()
        ema.update_parameters(model)
        if recipe:
            if step > swa_start:
                swa.update_parameters(model)
                swalr.step()
            else:
                cosine.step()
        elif step in swa_steps:
            swa.update_parameters(model)
        rows.append((model.p.detach().tolist(), ema.module.p.detach().tolist(),
                     swa.module.p.detach().tolist() if swa.n_averaged.item() > 0 else [0.0] * 3,
                     opt.param_groups[0]["lr"], int(swa.n_averaged.item())))
    return rows


def keras_ema(lr, momentum, ema_momentum, overwrite_frequency):
    """SGD with use_ema=True (base_optimizer.py @ da84de54, float64)."""
    opt = keras_ref.SGD(learning_rate=lr, momentum=momentum)
    variable = np.array(X0, dtype=np.float64)
    # build(): "self._model_variables_moving_average" holds a copy of each
    # variable (add_variable_from_reference(var, "average") then
    # assign(var)).
    average = variable.copy()
    a = np.array(A)
    c = np.array(C)
    rows = []
    for _ in range(N_STEPS):
        gradient = a * (variable - c) + CUBIC * variable * variable * variable
        # _backend_apply_gradients: self._backend_update_step(...)
        variable = opt.update_step(gradient, variable, opt.learning_rate)
        # if self.use_ema:
        #     self._update_model_variables_moving_average(self._trainable_variables)
        #   not_first_step = ops.not_equal(self.iterations, 0)
        #   momentum = ops.cast(not_first_step, var.dtype) * self.ema_momentum
        #   average.assign(momentum * average + (1 - momentum) * var)
        not_first_step = opt.iterations != 0
        m = np.float64(float(not_first_step)) * np.float64(ema_momentum)
        average = m * average + (1 - m) * variable
        #     if self.ema_overwrite_frequency:
        #         should_overwrite_model_vars = (
        #             self.iterations + 1) % self.ema_overwrite_frequency == 0
        #         ops.cond(should_overwrite_model_vars,
        #             lambda: self._overwrite_model_variables_with_average_value(...))
        #   (var.assign(average_var))
        if overwrite_frequency and (opt.iterations + 1) % overwrite_frequency == 0:
            variable = average.copy()
        # self._iterations.assign_add(1)
        opt.iterations += 1
        rows.append((variable.tolist(), average.tolist()))
    return rows


def schedule(group_lrs, make, epochs_with_first):
    """get_last_lr() after construction and each step; make(opt) returns the
    schedulers, and epochs_with_first (or None) how many epochs step the
    first before the second takes over."""
    params = [torch.nn.Parameter(torch.zeros(1, dtype=torch.float64)) for _ in group_lrs]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, group_lrs)])
    scheds = make(opt)
    rows = [[g["lr"] for g in opt.param_groups]]
    for epoch in range(1, N_EPOCHS + 1):
        for p in params:
            p.grad = torch.zeros_like(p)
        opt.step()
        if epochs_with_first is not None and epoch <= epochs_with_first:
            scheds[0].step()
        else:
            scheds[-1].step()
        rows.append([g["lr"] for g in opt.param_groups])
    return rows


def main():
    warnings.simplefilter("ignore")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_path = os.path.join(root, "tests", "data", "swa_reference.hpp")
    out = []
    w = out.append
    w("// Generated by tools/make_swa_reference.py with torch %s; do not edit." % torch.__version__)
    w("#pragma once")
    w("// References for descent::WeightAverage and descent::SWALR, compared in")
    w("// tests/test_weight_average.cpp. Regenerate with:")
    w("//     /usr/bin/python3 tools/make_swa_reference.py")
    w("// torch.optim.swa_utils (AveragedModel, SWALR) of the installed PyTorch, and")
    w("// Keras's use_ema re-implemented in NumPy from keras-team/keras")
    w("// keras/src/optimizers/base_optimizer.py @ da84de543b3a0b04f4f410ec1b1e8907e619bdf7.")
    w("")
    w("namespace swa_reference {")
    w("")
    w("constexpr const char* kTorchVersion = \"%s\";" % torch.__version__)
    w("constexpr int kDim = 3;")
    w("constexpr int kSteps = %d;" % N_STEPS)
    w("constexpr int kEpochs = %d;" % N_EPOCHS)
    w("constexpr double kA[kDim] = {%s};" % ", ".join(r(v) for v in A))
    w("constexpr double kC[kDim] = {%s};" % ", ".join(r(v) for v in C))
    w("constexpr double kX0[kDim] = {%s};" % ", ".join(r(v) for v in X0))
    w("constexpr double kCubic = %s;" % r(CUBIC))
    w("")
    w("/// After step k + 1: the parameters, the EMA, the SWA mean (0 before its")
    w("/// first update), the lr the next step uses and the SWA count.")
    w("struct Row {")
    w("  double x[kDim];")
    w("  double ema[kDim];")
    w("  double swa[kDim];")
    w("  double lr;")
    w("  int swa_count;")
    w("};")
    w("")

    def emit_trajectory(name, rows):
        w("constexpr Row %s[kSteps] = {" % name)
        for x, e, s, lr, n in rows:
            w("    {{%s}, {%s}, {%s}, %s, %d}," % (", ".join(r(v) for v in x), ", ".join(r(v) for v in e),
                                               ", ".join(r(v) for v in s), r(lr), n))
        w("};")
        w("")

    # SGD(lr=0.05, momentum=0.9); EMA decay 0.8 after every step; SWA after
    # steps 6, 8, ..., 40.
    swa_steps = list(range(6, N_STEPS + 1, 2))
    w("// torch.optim.SGD(lr=0.05, momentum=0.9); AveragedModel(avg_fn=0.8 * avg + (1 - 0.8) * p)")
    w("// after every step; AveragedModel() after steps 6, 8, ..., 40.")
    w("constexpr int kSwaFirst = 6;")
    w("constexpr int kSwaEvery = 2;")
    for dname, dtype in (("float32", torch.float32), ("float64", torch.float64)):
        emit_trajectory("plain_" + dname, trajectory(dtype, 0.05, 0.9, 0.8, swa_steps, None))
    w("// The swa_utils recipe: SGD(lr=0.1, momentum=0.9), CosineAnnealingLR(T_max=30) for")
    w("// steps 1..10, then after each step AveragedModel() and SWALR(swa_lr=0.02,")
    w("// anneal_epochs=5, anneal_strategy='cos'); the EMA (0.8) after every step.")
    w("constexpr int kRecipeSwaStart = 10;")
    emit_trajectory("recipe_float64",
                    trajectory(torch.float64, 0.1, 0.9, 0.8, None, (30, 10, 0.02, 5, "cos")))

    w("/// Keras SGD(learning_rate=0.05, momentum=0.9, use_ema=True, ema_momentum=0.9,")
    w("/// ema_overwrite_frequency=4), float64: after step k + 1 the variable and its average.")
    w("struct KerasRow {")
    w("  double x[kDim];")
    w("  double average[kDim];")
    w("};")
    w("constexpr KerasRow keras_ema_float64[kSteps] = {")
    for x, avg in keras_ema(0.05, 0.9, 0.9, 4):
        w("    {{%s}, {%s}}," % (", ".join(r(v) for v in x), ", ".join(r(v) for v in avg)))
    w("};")
    w("")

    w("/// One SWALR run: lr[e][g], group g's lr after e scheduler steps (e = 0: after")
    w("/// construction). first_epochs > 0: a StepLR(step_size=2, gamma=0.5) made before")
    w("/// the SWALR steps epochs 1..first_epochs, SWALR the rest.")
    w("struct Schedule {")
    w("  const char* torch_call;")
    w("  int groups;")
    w("  double group_lr[2];")
    w("  double swa_lr[2];")
    w("  long anneal_epochs;")
    w("  bool linear;")
    w("  int first_epochs;")
    w("  double lr[kEpochs + 1][2];")
    w("};")
    w("")
    cases = [
        ("cos5", [0.5], [0.05], 5, "cos", None),
        ("linear3", [0.5], [0.05], 3, "linear", None),
        ("zero", [0.5], [0.05], 0, "cos", None),
        ("linear1", [0.3], [0.1], 1, "linear", None),
        ("groups", [0.5, 0.1], [0.05, 0.2], 4, "linear", None),
        ("after_step_lr", [0.4], [0.01], 4, "cos", 6),
    ]
    names = []
    for name, lrs, swa_lrs, epochs, strategy, first in cases:
        swa_arg = swa_lrs if len(swa_lrs) > 1 else swa_lrs[0]

        def make(opt, swa_arg=swa_arg, epochs=epochs, strategy=strategy, first=first):
            out = []
            if first:
                out.append(torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5))
            out.append(SWALR(opt, swa_lr=swa_arg, anneal_epochs=epochs, anneal_strategy=strategy))
            return out

        rows = schedule(lrs, make, first)
        call = "SWALR(swa_lr=%s, anneal_epochs=%d, anneal_strategy='%s'), lr %s" % (
            swa_arg, epochs, strategy, lrs if len(lrs) > 1 else lrs[0])
        if first:
            call = "StepLR(step_size=2, gamma=0.5) for %d epochs, then " % first + call
        pad = lambda v: list(v) + [0.0] * (2 - len(v))  # noqa: E731
        w("constexpr Schedule swalr_%s{" % name)
        w("    \"%s\"," % call)
        w("    %d, {%s}, {%s}, %d, %s, %d," % (len(lrs), ", ".join(r(v) for v in pad(lrs)),
                                            ", ".join(r(v) for v in pad(swa_lrs)), epochs,
                                            "true" if strategy == "linear" else "false", first or 0))
        w("    {")
        for e, row in enumerate(rows):
            w("        {%s},  // %d" % (", ".join(r(v) for v in pad(row)), e))
        w("    }};")
        w("")
        names.append("&swalr_" + name)
    w("constexpr const Schedule* kSchedules[] = {%s};" % ", ".join(names))
    w("")
    w("}  // namespace swa_reference")
    with open(out_path, "w") as f:
        f.write("\n".join(out) + "\n")
    print("wrote %s (%d bytes)" % (out_path, os.path.getsize(out_path)), file=sys.stderr)


if __name__ == "__main__":
    main()
