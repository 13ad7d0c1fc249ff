#!/usr/bin/python3
"""Generate tests/data/warmup_cosine_reference.hpp: a warm-up then a cosine decay,
as optax and Keras compute it.

Run offline with NumPy only (optax, JAX and Keras are not needed, and not used):

    /usr/bin/python3 tools/make_warmup_cosine_reference.py

It writes tests/data/warmup_cosine_reference.hpp, which
tests/test_schedulers.cpp compares descent::WarmupCosineLR against.

As tools/make_optax_reference.py and tools/make_keras_reference.py do for
the optimizers, this re-implements each framework's schedule line by line in
NumPy float64 (JAX with x64 enabled; Keras with a float64
initial_learning_rate, whose dtype every cast follows), keeping each
framework's order and grouping. Files read:

    github.com/google-deepmind/optax
      optax/schedules/_schedule.py  006cebd2adddd064757543329c83eaed0890ed82
                                    (warmup_cosine_decay_schedule,
                                    linear_schedule, polynomial_schedule,
                                    cosine_decay_schedule)
      optax/schedules/_join.py      58f8353e6883290002c64867bbbfc57515c68b29
                                    (join_schedules)
    github.com/keras-team/keras
      keras/src/optimizers/schedules/learning_rate_schedule.py
                                    2534b643145262fc2c9ee638065ee14fdb623984
                                    (CosineDecay: __call__, _warmup_function,
                                    _decay_function)

Every number is printed with repr(), which round-trips a double exactly.
"""

import math
import os
import sys

import numpy as np

F = np.float64
STEPS = 130  # steps 0 .. STEPS - 1: past the end of every case


# optax/schedules/_schedule.py, polynomial_schedule's inner schedule:
#     count = jnp.clip(count - transition_begin, 0, transition_steps)
#     frac = 1 - count / transition_steps
#     return (init_val - end_val) * (frac**power) + end_val
def optax_polynomial(init_value, end_value, power, transition_steps, transition_begin=0):
    if transition_steps <= 0:
        return lambda count: F(init_value)

    def schedule(count):
        init_val, end_val = F(init_value), F(end_value)
        count = np.clip(F(count) - transition_begin, 0, transition_steps)
        frac = 1 - count / F(transition_steps)
        return (init_val - end_val) * (frac ** power) + end_val

    return schedule


# linear_schedule: polynomial_schedule with power=1.
def optax_linear(init_value, end_value, transition_steps):
    return optax_polynomial(init_value, end_value, 1, transition_steps)


# cosine_decay_schedule's inner schedule (decay_steps and count made float):
#     count = jnp.minimum(count, decay_steps)
#     cosine_decay = 0.5 * (1 + jnp.cos(jnp.pi * count / decay_steps))
#     decayed = (1 - alpha) * cosine_decay**exponent + alpha
#     return init_value * decayed
def optax_cosine_decay(init_value, decay_steps, alpha=0.0, exponent=1.0):
    assert decay_steps > 0

    def schedule(count):
        count = np.minimum(F(count), F(decay_steps))
        cosine_decay = 0.5 * (1 + np.cos(F(math.pi) * count / F(decay_steps)))
        decayed = (1 - F(alpha)) * cosine_decay ** F(exponent) + F(alpha)
        return F(init_value) * decayed

    return schedule


# _join.py, join_schedules:
#     output = schedules[0](step)
#     for boundary, schedule in zip(boundaries, schedules[1:]):
#       output = jnp.where(step < boundary, output, schedule(step - boundary))
def optax_join(schedules, boundaries):
    def schedule(step):
        output = schedules[0](step)
        for boundary, s in zip(boundaries, schedules[1:]):
            output = output if step < boundary else s(step - boundary)
        return output

    return schedule


# warmup_cosine_decay_schedule:
#     alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
#     schedules = [linear_schedule(init_value, peak_value, warmup_steps),
#                  cosine_decay_schedule(peak_value, decay_steps - warmup_steps,
#                                        alpha, exponent)]
#     return _join.join_schedules(schedules, [warmup_steps])
def optax_warmup_cosine(init_value, peak_value, warmup_steps, decay_steps, end_value=0.0,
                        exponent=1.0):
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    schedules = [
        optax_linear(init_value, peak_value, warmup_steps),
        optax_cosine_decay(peak_value, decay_steps - warmup_steps, alpha, exponent),
    ]
    return optax_join(schedules, [warmup_steps])


# Keras's CosineDecay.__call__ with warmup_target set:
#     global_step_recomp = minimum(global_step_recomp, decay_steps + warmup_steps)
#     cond(global_step_recomp < warmup_steps,
#          _warmup_function(global_step_recomp, warmup_steps, warmup_target,
#                           initial_learning_rate),
#          _decay_function(global_step_recomp - warmup_steps, decay_steps,
#                          warmup_target, dtype))
# _warmup_function:
#     completed_fraction = step / warmup_steps
#     total_step_delta = warmup_target - initial_learning_rate
#     return total_step_delta * completed_fraction + initial_learning_rate
# _decay_function:
#     completed_fraction = divide(step, decay_steps)
#     cosine_decayed = 0.5 * (1.0 + cos(multiply(pi, completed_fraction)))
#     decayed = (1 - self.alpha) * cosine_decayed + self.alpha
#     return multiply(decay_from_lr, decayed)
def keras_cosine_decay(initial_learning_rate, decay_steps, alpha, warmup_target, warmup_steps):
    def schedule(step):
        initial = F(initial_learning_rate)
        decay = F(decay_steps)
        target, warmup = F(warmup_target), F(warmup_steps)
        s = np.minimum(F(step), decay + warmup)
        if s < warmup:
            completed_fraction = s / warmup
            total_step_delta = target - initial
            return total_step_delta * completed_fraction + initial
        completed_fraction = np.divide(s - warmup, decay)
        cosine_decayed = 0.5 * (1.0 + np.cos(np.multiply(F(math.pi), completed_fraction)))
        decayed = (1 - alpha) * cosine_decayed + alpha
        return np.multiply(target, decayed)

    return schedule


# (identifier, description, form, arguments, schedule)
CASES = [
    ("optax_basic",
     "optax.warmup_cosine_decay_schedule(init_value=0.0, peak_value=0.1, warmup_steps=10, "
     "decay_steps=100)", "optax", (0.0, 0.1, 10, 100, 0.0, 1.0),
     optax_warmup_cosine(0.0, 0.1, 10, 100)),
    ("optax_end_exponent",
     "optax.warmup_cosine_decay_schedule(init_value=0.001, peak_value=0.3, warmup_steps=25, "
     "decay_steps=120, end_value=0.002, exponent=2.0)", "optax",
     (0.001, 0.3, 25, 120, 0.002, 2.0),
     optax_warmup_cosine(0.001, 0.3, 25, 120, end_value=0.002, exponent=2.0)),
    ("optax_no_warmup",
     "optax.warmup_cosine_decay_schedule(init_value=0.05, peak_value=0.05, warmup_steps=0, "
     "decay_steps=77, end_value=0.0005, exponent=0.5)", "optax",
     (0.05, 0.05, 0, 77, 0.0005, 0.5),
     optax_warmup_cosine(0.05, 0.05, 0, 77, end_value=0.0005, exponent=0.5)),
    ("keras_basic",
     "keras.optimizers.schedules.CosineDecay(initial_learning_rate=0.0, decay_steps=90, "
     "warmup_target=0.1, warmup_steps=10)", "keras", (0.0, 90, 0.0, 0.1, 10),
     keras_cosine_decay(0.0, 90, 0.0, 0.1, 10)),
    ("keras_alpha",
     "keras.optimizers.schedules.CosineDecay(initial_learning_rate=0.001, decay_steps=95, "
     "alpha=0.05, warmup_target=0.3, warmup_steps=25)", "keras", (0.001, 95, 0.05, 0.3, 25),
     keras_cosine_decay(0.001, 95, 0.05, 0.3, 25)),
]


def r(x):
    """A C++ double literal that round-trips x."""
    s = repr(float(x))
    if "e" not in s and "." not in s and "inf" not in s and "nan" not in s:
        s += ".0"
    return s


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_path = os.path.join(root, "tests", "data", "warmup_cosine_reference.hpp")
    lines = []
    w = lines.append
    w("// Generated by tools/make_warmup_cosine_reference.py with NumPy %s; do not edit."
      % np.__version__)
    w("#pragma once")
    w("// A warm-up then a cosine decay, optax's and Keras's schedule code re-run")
    w("// line by line in NumPy float64 (files and commits in the script), compared")
    w("// against descent::WarmupCosineLR in tests/test_schedulers.cpp.")
    w("")
    w("namespace warmup_cosine_reference {")
    w("")
    w("constexpr int kSteps = %d;" % STEPS)
    w("")
    w("/// lr[s]: the schedule at step s. optax's arguments are (init_value,")
    w("/// peak_value, warmup_steps, decay_steps, end_value, exponent); Keras's")
    w("/// (initial_learning_rate, decay_steps, alpha, warmup_target, warmup_steps).")
    w("struct Case {")
    w("  const char* call;")
    w("  bool keras;")
    w("  double args[6];")
    w("  double lr[kSteps];")
    w("};")
    w("")
    for ident, desc, form, args, schedule in CASES:
        values = [schedule(s) for s in range(STEPS)]
        for v in values:
            assert isinstance(v, np.float64), type(v)
        padded = list(args) + [0.0] * (6 - len(args))
        w("constexpr Case %s{" % ident)
        w('    "%s",' % desc)
        w("    %s, {%s}," % ("true" if form == "keras" else "false",
                            ", ".join(r(a) for a in padded)))
        w("    {")
        for i in range(0, STEPS, 4):
            w("        %s," % ", ".join(r(v) for v in values[i:i + 4]))
        w("    }};")
        w("")
    w("}  // namespace warmup_cosine_reference")
    w("")
    with open(out_path, "w") as f:
        f.write("\n".join(lines))
    print("wrote %s (%d cases)" % (out_path, len(CASES)), file=sys.stderr)


if __name__ == "__main__":
    main()
