#!/usr/bin/python3
"""Generate tests/data/torch_schedules.hpp: learning-rate schedules from PyTorch.

Run offline with a Python that has PyTorch (Debian's python3-torch, 1.13):

    /usr/bin/python3 tools/make_torch_schedules.py

It writes tests/data/torch_schedules.hpp (next to this script's repository
root), which tests/test_torch_schedules.cpp compares descent's schedulers
against.

Each case builds torch.optim.SGD with one param group, or two (the first
with weight decay, the second without, as weights and biases), in float64,
attaches the scheduler and records get_last_lr() (one lr per group) after
construction and after each of 100 scheduler.step() calls, each preceded by
an optimizer.step() as PyTorch asks. ReduceLROnPlateau has no get_last_lr()
before its first step in 1.13, so its rows are the groups' lr; its step()
takes the metric recorded with the case.

Every warning is an error (e.g. the scheduler-order warning), except the
epoch-deprecation warning that SequentialLR itself raises when it restarts
the next scheduler with step(0).

Every number is printed with repr(), which round-trips a double exactly.
"""

import math
import os
import sys
import warnings

import torch
from torch.optim import lr_scheduler as S

N_EPOCHS = 100


def plateau_metrics(kind):
    """A fixed metric sequence with improvements, plateaus and noise."""
    out = []
    for e in range(1, N_EPOCHS + 1):
        if kind == "loss":  # falls, stalls, falls again, stalls for long
            if e <= 15:
                m = 1.0 / (1.0 + 0.2 * e)
            elif e <= 40:
                m = 0.25 + 1e-6 * math.sin(e)
            elif e <= 55:
                m = 0.25 - 0.01 * (e - 40)
            else:
                m = 0.1 + 0.002 * math.cos(3.0 * e)
        else:  # "accuracy": rises in bursts, with small wiggles between
            m = 0.5 + 0.1 * math.floor(e / 12) * 0.5 + 0.004 * math.sin(1.7 * e)
            m = min(m, 0.97)
        out.append(m)
    return out


LOSS = plateau_metrics("loss")
ACCURACY = plateau_metrics("accuracy")



# (identifier, description, base lrs (one per group), factory(optimizer) or
# (factory, metrics) for ReduceLROnPlateau)
CASES = [
    ("multistep_docs", "MultiStepLR(milestones=[30, 80], gamma=0.1), lr 0.05", [0.05],
     lambda o: S.MultiStepLR(o, milestones=[30, 80], gamma=0.1)),
    ("multistep_dense", "MultiStepLR(milestones=[0, 3, 7, 10, 50, 51, 99], gamma=0.7), lr 0.3",
     [0.3], lambda o: S.MultiStepLR(o, milestones=[0, 3, 7, 10, 50, 51, 99], gamma=0.7)),
    ("exponential_0_95", "ExponentialLR(gamma=0.95), lr 0.1", [0.1],
     lambda o: S.ExponentialLR(o, gamma=0.95)),
    ("exponential_1_03", "ExponentialLR(gamma=1.03), lr 0.01", [0.01],
     lambda o: S.ExponentialLR(o, gamma=1.03)),
    ("cosine_t100", "CosineAnnealingLR(T_max=100), lr 1.0", [1.0],
     lambda o: S.CosineAnnealingLR(o, T_max=100)),
    ("cosine_t30", "CosineAnnealingLR(T_max=30), lr 0.1 (past T_max)", [0.1],
     lambda o: S.CosineAnnealingLR(o, T_max=30)),
    ("cosine_t30_eta", "CosineAnnealingLR(T_max=30, eta_min=0.001), lr 0.1 (past T_max)", [0.1],
     lambda o: S.CosineAnnealingLR(o, T_max=30, eta_min=0.001)),
    ("cosine_t7_eta", "CosineAnnealingLR(T_max=7, eta_min=0.02), lr 0.5 (many restarts)", [0.5],
     lambda o: S.CosineAnnealingLR(o, T_max=7, eta_min=0.02)),
    ("cosine_t1", "CosineAnnealingLR(T_max=1, eta_min=0.01), lr 0.2", [0.2],
     lambda o: S.CosineAnnealingLR(o, T_max=1, eta_min=0.01)),
    ("linear_default", "LinearLR() (start 1/3, end 1, total_iters 5), lr 0.1", [0.1],
     lambda o: S.LinearLR(o)),
    ("linear_decay", "LinearLR(start_factor=0.9, end_factor=0.1, total_iters=40), lr 0.2", [0.2],
     lambda o: S.LinearLR(o, start_factor=0.9, end_factor=0.1, total_iters=40)),
    ("linear_long", "LinearLR(start_factor=0.1, end_factor=1.0, total_iters=60), lr 0.03", [0.03],
     lambda o: S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=60)),
    ("constant_default", "ConstantLR() (factor 1/3, total_iters 5), lr 0.1", [0.1],
     lambda o: S.ConstantLR(o)),
    ("constant_0_5_10", "ConstantLR(factor=0.5, total_iters=10), lr 0.3", [0.3],
     lambda o: S.ConstantLR(o, factor=0.5, total_iters=10)),
    ("sequential_linear_cosine",
     "SequentialLR([LinearLR(start_factor=0.1, total_iters=5), CosineAnnealingLR(T_max=60)], "
     "milestones=[5]), lr 0.1", [0.1],
     lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5),
                                  S.CosineAnnealingLR(o, T_max=60)], milestones=[5])),
    ("sequential_linear_exponential",
     "SequentialLR([LinearLR(start_factor=0.25, total_iters=10), ExponentialLR(gamma=0.97)], "
     "milestones=[10]), lr 0.2", [0.2],
     lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.25, total_iters=10),
                                  S.ExponentialLR(o, gamma=0.97)], milestones=[10])),
    ("sequential_three",
     "SequentialLR([ConstantLR(factor=0.5, total_iters=4), MultiStepLR(milestones=[10, 20], "
     "gamma=0.5), CosineAnnealingLR(T_max=20, eta_min=0.001)], milestones=[4, 40]), lr 0.1",
     [0.1],
     lambda o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.5, total_iters=4),
                                  S.MultiStepLR(o, milestones=[10, 20], gamma=0.5),
                                  S.CosineAnnealingLR(o, T_max=20, eta_min=0.001)],
                              milestones=[4, 40])),
    ("chained_docs",
     "ChainedScheduler([ConstantLR(factor=0.1, total_iters=2), ExponentialLR(gamma=0.9)]), "
     "lr 1.0", [1.0],
     lambda o: S.ChainedScheduler([S.ConstantLR(o, factor=0.1, total_iters=2),
                                   S.ExponentialLR(o, gamma=0.9)])),
    ("chained_four",
     "ChainedScheduler([LinearLR(start_factor=0.2, total_iters=10), StepLR(step_size=15, "
     "gamma=0.5), MultiStepLR(milestones=[40, 70], gamma=0.3), ExponentialLR(gamma=0.99)]), "
     "lr 0.2", [0.2],
     lambda o: S.ChainedScheduler([S.LinearLR(o, start_factor=0.2, total_iters=10),
                                   S.StepLR(o, step_size=15, gamma=0.5),
                                   S.MultiStepLR(o, milestones=[40, 70], gamma=0.3),
                                   S.ExponentialLR(o, gamma=0.99)])),
    ("onecycle_default", "OneCycleLR(max_lr=0.1, total_steps=100, cycle_momentum=False)",
     [0.1], lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=100, cycle_momentum=False)),
    ("onecycle_linear",
     "OneCycleLR(max_lr=0.5, total_steps=120, pct_start=0.25, anneal_strategy='linear', "
     "div_factor=10.0, final_div_factor=100.0, cycle_momentum=False)", [0.5],
     lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=120, pct_start=0.25,
                            anneal_strategy="linear", div_factor=10.0, final_div_factor=100.0,
                            cycle_momentum=False)),
    ("onecycle_three_phase",
     "OneCycleLR(max_lr=1.0, total_steps=110, three_phase=True, cycle_momentum=False)", [1.0],
     lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=110, three_phase=True,
                            cycle_momentum=False)),
    ("onecycle_three_linear",
     "OneCycleLR(max_lr=0.3, total_steps=101, pct_start=0.4, anneal_strategy='linear', "
     "three_phase=True, cycle_momentum=False)", [0.3],
     lambda o: S.OneCycleLR(o, max_lr=0.3, total_steps=101, pct_start=0.4,
                            anneal_strategy="linear", three_phase=True, cycle_momentum=False)),
    ("plateau_min_rel", "ReduceLROnPlateau(patience=3) on the loss sequence, lr 0.1", [0.1],
     (lambda o: S.ReduceLROnPlateau(o, patience=3), LOSS)),
    ("plateau_defaults", "ReduceLROnPlateau() on the loss sequence, lr 1.0", [1.0],
     (lambda o: S.ReduceLROnPlateau(o), LOSS)),
    ("plateau_min_abs_cooldown",
     "ReduceLROnPlateau(factor=0.5, patience=2, threshold=0.001, threshold_mode='abs', "
     "cooldown=3, min_lr=0.01) on the loss sequence, lr 0.1", [0.1],
     (lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=2, threshold=0.001,
                                    threshold_mode="abs", cooldown=3, min_lr=0.01), LOSS)),
    ("plateau_max_rel", "ReduceLROnPlateau(mode='max', factor=0.3, patience=4) on the accuracy "
     "sequence, lr 0.5", [0.5],
     (lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.3, patience=4), ACCURACY)),
    ("plateau_max_abs_eps",
     "ReduceLROnPlateau(mode='max', factor=0.5, patience=1, threshold=0.01, "
     "threshold_mode='abs', cooldown=1) on the accuracy sequence, lr 1e-7 (eps stops it)",
     [1e-7],
     (lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.5, patience=1, threshold=0.01,
                                    threshold_mode="abs", cooldown=1), ACCURACY)),
    # Two param groups: weights (weight decay) and biases, each its own lr.
    ("groups_step", "StepLR(step_size=7, gamma=0.5), groups lr 0.1 and 0.02", [0.1, 0.02],
     lambda o: S.StepLR(o, step_size=7, gamma=0.5)),
    ("groups_cosine", "CosineAnnealingLR(T_max=40, eta_min=0.001), groups lr 0.1 and 0.01",
     [0.1, 0.01], lambda o: S.CosineAnnealingLR(o, T_max=40, eta_min=0.001)),
    ("groups_sequential",
     "SequentialLR([LinearLR(start_factor=0.1, total_iters=5), ExponentialLR(gamma=0.95)], "
     "milestones=[5]), groups lr 0.1 and 0.03", [0.1, 0.03],
     lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5),
                                  S.ExponentialLR(o, gamma=0.95)], milestones=[5])),
    ("groups_chained",
     "ChainedScheduler([ConstantLR(factor=0.5, total_iters=3), MultiStepLR(milestones=[20, 60], "
     "gamma=0.2)]), groups lr 0.1 and 0.03", [0.1, 0.03],
     lambda o: S.ChainedScheduler([S.ConstantLR(o, factor=0.5, total_iters=3),
                                   S.MultiStepLR(o, milestones=[20, 60], gamma=0.2)])),
    ("groups_onecycle",
     "OneCycleLR(max_lr=[0.1, 0.05], total_steps=100, cycle_momentum=False), two groups",
     [0.1, 0.05],
     lambda o: S.OneCycleLR(o, max_lr=[0.1, 0.05], total_steps=100, cycle_momentum=False)),
    # torch 1.13's other schedulers.
    ("multiplicative_const", "MultiplicativeLR(lr_lambda=lambda e: 0.95), lr 0.1", [0.1],
     lambda o: S.MultiplicativeLR(o, lr_lambda=lambda e: 0.95)),
    ("multiplicative_varying",
     "MultiplicativeLR(lr_lambda=lambda e: 1.0 - 0.01 * (e % 7) if e % 10 else 1.5), lr 0.3",
     [0.3], lambda o: S.MultiplicativeLR(o, lr_lambda=lambda e: 1.0 - 0.01 * (e % 7) if e % 10 else 1.5)),
    ("polynomial_default", "PolynomialLR() (total_iters 5, power 1), lr 0.1", [0.1],
     lambda o: S.PolynomialLR(o)),
    ("polynomial_square", "PolynomialLR(total_iters=40, power=2.0), lr 0.2", [0.2],
     lambda o: S.PolynomialLR(o, total_iters=40, power=2.0)),
    ("polynomial_sqrt", "PolynomialLR(total_iters=100, power=0.5), lr 1.0", [1.0],
     lambda o: S.PolynomialLR(o, total_iters=100, power=0.5)),
    ("warm_restarts_10", "CosineAnnealingWarmRestarts(T_0=10), lr 0.1", [0.1],
     lambda o: S.CosineAnnealingWarmRestarts(o, T_0=10)),
    ("warm_restarts_5_2_eta", "CosineAnnealingWarmRestarts(T_0=5, T_mult=2, eta_min=0.001), lr 0.1",
     [0.1], lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=0.001)),
    ("warm_restarts_1_3", "CosineAnnealingWarmRestarts(T_0=1, T_mult=3, eta_min=0.01), lr 0.5",
     [0.5], lambda o: S.CosineAnnealingWarmRestarts(o, T_0=1, T_mult=3, eta_min=0.01)),
    ("cyclic_triangular",
     "CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=10, cycle_momentum=False)", [0.05],
     lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=10, cycle_momentum=False)),
    ("cyclic_triangular2",
     "CyclicLR(base_lr=0.001, max_lr=0.1, step_size_up=5, step_size_down=15, "
     "mode='triangular2', cycle_momentum=False)", [0.05],
     lambda o: S.CyclicLR(o, base_lr=0.001, max_lr=0.1, step_size_up=5, step_size_down=15,
                          mode="triangular2", cycle_momentum=False)),
    ("cyclic_exp_range",
     "CyclicLR(base_lr=0.01, max_lr=0.2, step_size_up=8, mode='exp_range', gamma=0.97, "
     "cycle_momentum=False)", [0.05],
     lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.2, step_size_up=8, mode="exp_range",
                          gamma=0.97, cycle_momentum=False)),
    ("cyclic_custom_cycle",
     "CyclicLR(base_lr=0.02, max_lr=0.3, step_size_up=6, step_size_down=4, "
     "scale_fn=lambda x: 0.5 * (1 + math.sin(x * math.pi / 2)), scale_mode='cycle', "
     "cycle_momentum=False)", [0.05],
     lambda o: S.CyclicLR(o, base_lr=0.02, max_lr=0.3, step_size_up=6, step_size_down=4,
                          scale_fn=lambda x: 0.5 * (1 + math.sin(x * math.pi / 2)),
                          scale_mode="cycle", cycle_momentum=False)),
    ("cyclic_custom_iterations",
     "CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=7, scale_fn=lambda x: 1 / (1 + 0.01 * x), "
     "scale_mode='iterations', cycle_momentum=False)", [0.05],
     lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=7,
                          scale_fn=lambda x: 1 / (1 + 0.01 * x), scale_mode="iterations",
                          cycle_momentum=False)),
    ("cyclic_sawtooth",
     "CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=9, step_size_down=0, cycle_momentum=False)",
     [0.05],
     lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=9, step_size_down=0,
                          cycle_momentum=False)),
    ("groups_multiplicative", "MultiplicativeLR(lr_lambda=lambda e: 0.97), groups lr 0.1 and 0.02",
     [0.1, 0.02], lambda o: S.MultiplicativeLR(o, lr_lambda=lambda e: 0.97)),
    ("groups_polynomial", "PolynomialLR(total_iters=60, power=1.5), groups lr 0.1 and 0.02",
     [0.1, 0.02], lambda o: S.PolynomialLR(o, total_iters=60, power=1.5)),
    ("groups_warm_restarts",
     "CosineAnnealingWarmRestarts(T_0=7, T_mult=2, eta_min=0.0005), groups lr 0.1 and 0.01",
     [0.1, 0.01], lambda o: S.CosineAnnealingWarmRestarts(o, T_0=7, T_mult=2, eta_min=0.0005)),
    ("groups_cyclic",
     "CyclicLR(base_lr=[0.01, 0.001], max_lr=[0.1, 0.02], step_size_up=12, step_size_down=8, "
     "mode='triangular2', cycle_momentum=False), two groups", [0.1, 0.02],
     lambda o: S.CyclicLR(o, base_lr=[0.01, 0.001], max_lr=[0.1, 0.02], step_size_up=12,
                          step_size_down=8, mode="triangular2", cycle_momentum=False)),
    ("groups_plateau",
     "ReduceLROnPlateau(factor=0.5, patience=2, min_lr=[0.01, 0.004]) on the loss sequence, "
     "groups lr 0.1 and 0.02", [0.1, 0.02],
     (lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=2, min_lr=[0.01, 0.004]), LOSS)),
]

# (identifier, description, optimizer "SGD" or "Adam", base lrs, factory): the
# scheduler cycles momentum; each row records the groups' lr and momentum
# (SGD's `momentum`, Adam's betas[0]) from optimizer.param_groups.
CYCLED = [
    ("cycled_cyclic_sgd",
     "CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=10, step_size_down=5), SGD(momentum=0.9)",
     "SGD", [0.05],
     lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=10, step_size_down=5)),
    ("cycled_cyclic_exp_range",
     "CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=6, mode='exp_range', gamma=0.98, "
     "base_momentum=0.7, max_momentum=0.95), SGD(momentum=0.9)", "SGD", [0.05],
     lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=6, mode="exp_range",
                          gamma=0.98, base_momentum=0.7, max_momentum=0.95)),
    ("cycled_cyclic_groups",
     "CyclicLR(base_lr=[0.01, 0.002], max_lr=[0.1, 0.05], step_size_up=8, mode='triangular2', "
     "base_momentum=[0.8, 0.85], max_momentum=[0.9, 0.95]), SGD(momentum=0.9), two groups",
     "SGD", [0.05, 0.01],
     lambda o: S.CyclicLR(o, base_lr=[0.01, 0.002], max_lr=[0.1, 0.05], step_size_up=8,
                          mode="triangular2", base_momentum=[0.8, 0.85],
                          max_momentum=[0.9, 0.95])),
    ("cycled_onecycle_sgd", "OneCycleLR(max_lr=0.1, total_steps=100), SGD(momentum=0.9)", "SGD",
     [0.1], lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=100)),
    ("cycled_onecycle_adam", "OneCycleLR(max_lr=0.01, total_steps=100), Adam (betas[0])", "Adam",
     [0.01], lambda o: S.OneCycleLR(o, max_lr=0.01, total_steps=100)),
    ("cycled_onecycle_adam_linear_three",
     "OneCycleLR(max_lr=0.02, total_steps=101, pct_start=0.4, anneal_strategy='linear', "
     "three_phase=True, base_momentum=0.8, max_momentum=0.9), Adam (betas[0])", "Adam", [0.02],
     lambda o: S.OneCycleLR(o, max_lr=0.02, total_steps=101, pct_start=0.4,
                            anneal_strategy="linear", three_phase=True, base_momentum=0.8,
                            max_momentum=0.9)),
    ("cycled_onecycle_groups",
     "OneCycleLR(max_lr=[0.1, 0.05], total_steps=101, base_momentum=[0.85, 0.8], "
     "max_momentum=[0.95, 0.9]), Adam (betas[0]), two groups", "Adam", [0.1, 0.05],
     lambda o: S.OneCycleLR(o, max_lr=[0.1, 0.05], total_steps=101, base_momentum=[0.85, 0.8],
                            max_momentum=[0.95, 0.9])),
]

# CosineAnnealingWarmRestarts stepped per batch with fractional epochs, as its
# documentation shows, mixed with plain step() calls (None).
FRACTIONAL_STEPS = ([e + i / 5 for e in range(0, 12) for i in range(5)]
                    + [None] * 10 + [2.5, None, None, 31.75, None, 0.3, None])
FRACTIONAL = [
    ("fractional_t10", "CosineAnnealingWarmRestarts(T_0=10), lr 0.1", 0.1,
     lambda o: S.CosineAnnealingWarmRestarts(o, T_0=10)),
    ("fractional_t3_mult2_eta",
     "CosineAnnealingWarmRestarts(T_0=3, T_mult=2, eta_min=0.001), lr 0.1", 0.1,
     lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.001)),
    ("fractional_t2_mult3", "CosineAnnealingWarmRestarts(T_0=2, T_mult=3), lr 0.5", 0.5,
     lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3)),
]


def run_cycled(kind, base_lrs, make):
    params = [torch.zeros(1, dtype=torch.float64, requires_grad=True) for _ in base_lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, base_lrs)]
    if kind == "SGD":
        opt = torch.optim.SGD(groups, lr=base_lrs[0], momentum=0.9)
        mom = lambda g: g["momentum"]
    else:
        opt = torch.optim.Adam(groups, lr=base_lrs[0])
        mom = lambda g: g["betas"][0]
    sched = make(opt)
    rows = [([g["lr"] for g in opt.param_groups], [mom(g) for g in opt.param_groups])]
    assert rows[0][0] == list(sched.get_last_lr())
    for _ in range(N_EPOCHS):
        for p in params:
            p.grad = torch.zeros_like(p)
        opt.step()
        sched.step()
        rows.append(([g["lr"] for g in opt.param_groups], [mom(g) for g in opt.param_groups]))
    for lrs, moms in rows:
        for v in lrs + moms:
            assert type(v) is float, type(v)
    return rows


def run_fractional(base_lr, make):
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = make(opt)
    rows = []
    for epoch in FRACTIONAL_STEPS:
        p.grad = torch.zeros_like(p)
        opt.step()
        if epoch is None:
            sched.step()
        else:
            sched.step(epoch)
        rows.append((sched.last_epoch, opt.param_groups[0]["lr"]))
    return rows


def run(base_lrs, make):
    params = [torch.zeros(1, dtype=torch.float64, requires_grad=True) for _ in base_lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, base_lrs)]
    if len(groups) == 2:
        groups[0]["weight_decay"] = 1e-4
    opt = torch.optim.SGD(groups, lr=base_lrs[0])
    metrics = None
    if isinstance(make, tuple):
        make, metrics = make
    sched = make(opt)

    def lrs():
        if metrics is not None:
            return [g["lr"] for g in opt.param_groups]
        return list(sched.get_last_lr())

    rows = [lrs()]
    for e in range(N_EPOCHS):
        for p in params:
            p.grad = torch.zeros_like(p)
        opt.step()
        if metrics is not None:
            sched.step(metrics[e])
        else:
            sched.step()
        rows.append(lrs())
    for row in rows:
        assert len(row) == len(base_lrs)
        for v in row:
            assert type(v) is float, type(v)
    return rows, metrics


def r(x):
    """A C++ double literal that round-trips x."""
    s = repr(float(x))
    if "e" not in s and "." not in s and "inf" not in s and "nan" not in s:
        s += ".0"
    return s


def main():
    torch.set_num_threads(1)
    warnings.simplefilter("error")
    warnings.filterwarnings("ignore", message="The epoch parameter in `scheduler.step\\(\\)`")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_path = os.path.join(root, "tests", "data", "torch_schedules.hpp")

    lines = []
    w = lines.append
    w("// Generated by tools/make_torch_schedules.py with torch %s; do not edit."
      % torch.__version__)
    w("#pragma once")
    w("// Learning-rate schedules from PyTorch, compared against descent in")
    w("// tests/test_torch_schedules.cpp. Regenerate with:")
    w("//     /usr/bin/python3 tools/make_torch_schedules.py")
    w("")
    w("namespace torch_schedules {")
    w("")
    w('constexpr const char* kTorchVersion = "%s";' % torch.__version__)
    w("constexpr int kEpochs = %d;" % N_EPOCHS)
    w("")
    w("/// One run (float64): lr[e][g] = param group g's lr after e scheduler.step()")
    w("/// calls (e = 0: right after construction); metric[e - 1] is what step e was")
    w("/// given (ReduceLROnPlateau only; 0 otherwise). Unused groups hold 0.")
    w("struct Schedule {")
    w("  const char* torch_call;")
    w("  int groups;")
    w("  double base_lr[2];")
    w("  double metric[kEpochs];")
    w("  double lr[kEpochs + 1][2];")
    w("};")
    w("")
    for ident, desc, base_lrs, make in CASES:
        rows, metrics = run(base_lrs, make)
        pad = lambda row: list(row) + [0.0] * (2 - len(row))
        w("constexpr Schedule %s{" % ident)
        w('    "%s",' % desc.replace('"', '\\"'))
        w("    %d, {%s}," % (len(base_lrs), ", ".join(r(v) for v in pad(base_lrs))))
        if metrics is None:
            w("    {},")
        else:
            w("    {")
            for i in range(0, len(metrics), 4):
                w("        %s," % ", ".join(r(v) for v in metrics[i:i + 4]))
            w("    },")
        w("    {")
        for e, row in enumerate(rows):
            w("        {%s},  // %d" % (", ".join(r(v) for v in pad(row)), e))
        w("    }};")
        w("")
    w("/// A run whose scheduler also cycles momentum: momentum[e][g] is param group")
    w("/// g's momentum (SGD) or betas[0] (Adam) after e scheduler.step() calls.")
    w("struct Cycled {")
    w("  const char* torch_call;")
    w("  const char* optimizer;  // \"SGD\" (momentum 0.9) or \"Adam\"")
    w("  int groups;")
    w("  double base_lr[2];")
    w("  double lr[kEpochs + 1][2];")
    w("  double momentum[kEpochs + 1][2];")
    w("};")
    w("")
    for ident, desc, kind, base_lrs, make in CYCLED:
        rows = run_cycled(kind, base_lrs, make)
        pad = lambda row: list(row) + [0.0] * (2 - len(row))
        w("constexpr Cycled %s{" % ident)
        w('    "%s",' % desc.replace('"', '\\"'))
        w('    "%s", %d, {%s},' % (kind, len(base_lrs), ", ".join(r(v) for v in pad(base_lrs))))
        for part in (0, 1):
            w("    {")
            for e, row in enumerate(rows):
                w("        {%s},  // %d" % (", ".join(r(v) for v in pad(row[part])), e))
            w("    }%s" % (",", "};")[part])
        w("")
    w("/// CosineAnnealingWarmRestarts stepped with step(epoch[k]), or step() where")
    w("/// epoch[k] < 0; after it PyTorch's last_epoch is last_epoch[k], the lr lr[k].")
    w("constexpr int kFractionalSteps = %d;" % len(FRACTIONAL_STEPS))
    w("constexpr double kFractionalEpochs[kFractionalSteps] = {")
    for i in range(0, len(FRACTIONAL_STEPS), 6):
        w("    %s," % ", ".join(r(-1.0 if v is None else v) for v in FRACTIONAL_STEPS[i:i + 6]))
    w("};")
    w("struct Fractional {")
    w("  const char* torch_call;")
    w("  double base_lr;")
    w("  long last_epoch[kFractionalSteps];")
    w("  double lr[kFractionalSteps];")
    w("};")
    w("")
    for ident, desc, base_lr, make in FRACTIONAL:
        rows = run_fractional(base_lr, make)
        w("constexpr Fractional %s{" % ident)
        w('    "%s", %s,' % (desc, r(base_lr)))
        w("    {%s}," % ", ".join(str(e) for e, _ in rows))
        w("    {")
        for i in range(0, len(rows), 4):
            w("        %s," % ", ".join(r(v) for _, v in rows[i:i + 4]))
        w("    }};")
        w("")
    w("}  // namespace torch_schedules")
    w("")

    with open(out_path, "w") as f:
        f.write("\n".join(lines))
    print("wrote %s (%d bytes, %d cases)" % (out_path, os.path.getsize(out_path),
                                          len(CASES) + len(CYCLED) + len(FRACTIONAL)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
