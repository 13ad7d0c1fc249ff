#!/usr/bin/python3
"""Generate tests/data/wrapper_reference.hpp: Lookahead and gradient accumulation.

Run offline with NumPy only (optax, JAX and Keras are not needed, and not
used):

    /usr/bin/python3 tools/make_wrapper_reference.py

It writes tests/data/wrapper_reference.hpp (next to this script's repository
root), which tests/test_wrappers.cpp compares descent's Lookahead and
GradientAccumulation against.

optax and Keras cannot be installed where this data was made, so their
wrapper code is re-implemented here line by line in NumPy, in their order of
operations, around the inner optimizers already mirrored by
tools/make_optax_reference.py (optax.sgd's scale_by_learning_rate,
optax.adabelief) and tools/make_keras_reference.py (keras.optimizers.SGD).
Files read:

    github.com/google-deepmind/optax
      optax/_src/lookahead.py            006cebd2adddd064757543329c83eaed0890ed82
                                         (lookahead, _lookahead_update)
      optax/transforms/_accumulation.py  006cebd2adddd064757543329c83eaed0890ed82
                                         (MultiSteps.update, use_grad_mean=True)
    github.com/keras-team/keras
      keras/src/optimizers/base_optimizer.py
                                         da84de543b3a0b04f4f410ec1b1e8907e619bdf7
                                         (_backend_apply_gradients with
                                         gradient_accumulation_steps,
                                         _backend_increment_gradient_accumulators,
                                         _backend_reset_gradient_accumulators)

The problem is tools/make_torch_reference.py's, g(x) = a * (x - c) + 0.05 * x
* x * x (elementwise, left to right); the accumulation runs give micro-batch j
(counted from 0 over the run) the gradient g(x) + s_j * D with s_j = (j % 3) -
1 in {-1, 0, 1} and D below, so that the micro-batches differ (s_j * D is
exact). The parameters are recorded after every call of step() (micro-step
for the accumulation runs). Every number is printed with repr(), which
round-trips a double exactly; float32 values are exact as Python floats.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_keras_reference as keras_ref  # noqa: E402
import make_optax_reference as optax_ref  # noqa: E402

A = [1.0, 10.0, 0.1]
C = [1.5, -0.7, 2.3]
X0 = [-1.2, 0.9, -0.4]
CUBIC = 0.05
D = [0.3, -0.2, 0.1]
N_STEPS = 40
DTYPES = dict(float32=np.float32, float64=np.float64)


def gradient(x, dtype, j=None):
    a = np.array(A, dtype=dtype)
    c = np.array(C, dtype=dtype)
    g = a * (x - c) + dtype(CUBIC) * x * x * x
    if j is not None:
        g = g + dtype((j % 3) - 1) * np.array(D, dtype=dtype)
    return g


def optax_updates(chain, grads, params):
    """The updates of an optax.chain (before apply_updates)."""
    updates = grads
    for t in chain.transforms:
        updates = t.update(updates, params)
    return updates


def lookahead(dtype, make_fast, sync_period, slow_step_size, reset_state):
    """optax.lookahead @ 006cebd2 with LookaheadParams.init_synced(x0).

    update_fn:
      updates, fast_state = fast_optimizer.update(updates, state.fast_state,
                                                  params.fast)
      sync_next = state.steps_since_sync == (sync_period - 1)
      updates = _lookahead_update(updates, sync_next, params, slow_step_size)
      if reset_state:
        initial_state = fast_optimizer.init(params.fast)
        fast_state = (1 - sync_next) * current + sync_next * init   (per leaf)
      steps_since_sync = (state.steps_since_sync + 1) % sync_period
    _lookahead_update:
      last_difference = f + u - s
      slow_updates = slow_step_size * sync_next * diff
      fast_updates = up - sync_next * (1 - slow_step_size) * diff
    then optax.apply_updates: p + u for fast and slow.
    """
    fast = np.array(X0, dtype=dtype)
    slow = fast.copy()
    chain = make_fast(dtype)
    chain.init(fast)
    since = 0
    rows = []
    for _ in range(N_STEPS):
        g = gradient(fast, dtype)
        u = optax_updates(chain, g, fast)
        sync_next = since == sync_period - 1
        s = dtype(float(sync_next))
        diff = fast + u - slow
        slow_updates = dtype(slow_step_size) * s * diff
        fast_updates = u - s * dtype(1 - slow_step_size) * diff
        if reset_state and sync_next:
            chain.init(fast)  # the initial state, selected by sync_next
        since = (since + 1) % sync_period
        fast = fast + fast_updates
        slow = slow + slow_updates
        assert fast.dtype == dtype and slow.dtype == dtype
        rows.append((fast.tolist(), slow.tolist()))
    return rows


def multi_steps(dtype, make_inner, k):
    """optax.MultiSteps(opt, every_k_schedule=k) @ 006cebd2, use_grad_mean=True,
    accumulator_dtype = the parameters' dtype:

      self._acc_update = lambda grad, acc, *, n_acc: acc + (grad - acc) / (n_acc + 1)
      _do_update: acc_grads = _acc_update(updates, state.acc_grads, n_acc=state.mini_step)
                  final_updates, new_inner_state = self._opt.update(acc_grads, ...)
                  emit = state.mini_step == (k_steps - 1)
                  mini_step = (mini_step + 1) % k_steps
                  inner_opt_state = where(emit, new_inner_state, state)
                  acc_grads = (1 - emit) * acc_grads
                  final_updates = emit * final_updates
    """
    x = np.array(X0, dtype=dtype)
    chain = make_inner(dtype)
    chain.init(x)
    acc = np.zeros_like(x)
    mini = 0
    rows = []
    for j in range(N_STEPS):
        g = gradient(x, dtype, j)
        acc = acc + (g - acc) / dtype(mini + 1)
        emit = mini == k - 1
        if emit:
            # The inner update is only kept (state and updates) when emitting.
            x = x + optax_updates(chain, acc, x)
            acc = dtype(0) * acc
        mini = (mini + 1) % k
        assert x.dtype == dtype
        rows.append(x.tolist())
    return rows


def keras_accumulation(k):
    """keras.optimizers.SGD(learning_rate=0.05, momentum=0.9,
    gradient_accumulation_steps=k), float64 (base_optimizer.py @ da84de54):

      is_update_step = (self._iterations + 1) % self.gradient_accumulation_steps == 0
      _update_step_fn: grads = [(g + acc_g) / steps ...]; update_step(grads);
                       reset accumulators to zeros
      otherwise:       acc_g.assign(g + acc_g)
      self._iterations.assign_add(1)
    """
    opt = keras_ref.SGD(learning_rate=0.05, momentum=0.9)
    x = np.array(X0)
    acc = np.zeros_like(x)
    iterations = 0
    rows = []
    for j in range(N_STEPS):
        g = gradient(x, np.float64, j)
        if (iterations + 1) % k == 0:
            x = opt.update_step((g + acc) / np.float64(k), x, opt.learning_rate)
            acc = np.zeros_like(x)
        else:
            acc = g + acc
        iterations += 1
        rows.append(x.tolist())
    return rows


def sgd(dtype):
    return optax_ref.Chain(optax_ref.ScaleByLearningRate(dtype, 0.05))


def adabelief(dtype):
    return optax_ref.adabelief(dtype, 0.01)


def adabelief_fast(dtype):
    return optax_ref.adabelief(dtype, 0.05)


def r(x):
    return optax_ref.r(x)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_path = os.path.join(root, "tests", "data", "wrapper_reference.hpp")
    out = []
    w = out.append
    w("// Generated by tools/make_wrapper_reference.py; do not edit.")
    w("#pragma once")
    w("// optax.lookahead, optax.MultiSteps and Keras's gradient_accumulation_steps,")
    w("// re-implemented in NumPy from their source (see the script), compared in")
    w("// tests/test_wrappers.cpp. Regenerate with:")
    w("//     /usr/bin/python3 tools/make_wrapper_reference.py")
    w("")
    w("namespace wrapper_reference {")
    w("")
    w("constexpr int kDim = 3;")
    w("constexpr int kSteps = %d;" % N_STEPS)
    w("constexpr double kA[kDim] = {%s};" % ", ".join(r(v) for v in A))
    w("constexpr double kC[kDim] = {%s};" % ", ".join(r(v) for v in C))
    w("constexpr double kX0[kDim] = {%s};" % ", ".join(r(v) for v in X0))
    w("constexpr double kCubic = %s;" % r(CUBIC))
    w("constexpr double kD[kDim] = {%s};" % ", ".join(r(v) for v in D))
    w("")
    w("/// One Lookahead run: after step k + 1, the fast and the slow parameters.")
    w("struct LookaheadRun {")
    w("  const char* optax_call;")
    w("  const char* dtype;")
    w("  bool adabelief;  // else optax.sgd(0.05)")
    w("  long sync_period;")
    w("  double slow_step_size;")
    w("  bool reset_state;")
    w("  double fast[kSteps][kDim];")
    w("  double slow[kSteps][kDim];")
    w("};")
    w("")
    runs = [
        ("sgd", "optax.lookahead(optax.sgd(0.05), sync_period=5, slow_step_size=0.5)",
         sgd, False, 5, 0.5, False, ("float64", "float32")),
        ("adabelief", "optax.lookahead(optax.adabelief(0.01), sync_period=4, slow_step_size=0.3)",
         adabelief, True, 4, 0.3, False, ("float64",)),
        ("adabelief_reset",
         "optax.lookahead(optax.adabelief(0.01), sync_period=3, slow_step_size=0.6, "
         "reset_state=True)",
         adabelief, True, 3, 0.6, True, ("float64",)),
    ]
    names = []
    for name, call, make, is_ab, k, alpha, reset, dtypes in runs:
        for dname in dtypes:
            rows = lookahead(DTYPES[dname], make, k, alpha, reset)
            ident = "lookahead_%s_%s" % (name, dname)
            names.append("&" + ident)
            w("constexpr LookaheadRun %s{" % ident)
            w("    \"%s\", \"%s\", %s, %d, %s, %s," % (call, dname, "true" if is_ab else "false", k,
                                                 r(alpha), "true" if reset else "false"))
            w("    {")
            for fast, _ in rows:
                w("        {%s}," % ", ".join(r(v) for v in fast))
            w("    },")
            w("    {")
            for _, slow in rows:
                w("        {%s}," % ", ".join(r(v) for v in slow))
            w("    }};")
            w("")
    w("constexpr const LookaheadRun* kLookahead[] = {%s};" % ", ".join(names))
    w("")
    w("/// One accumulation run: the parameters after micro-step j + 1.")
    w("struct AccumulationRun {")
    w("  const char* call;")
    w("  const char* dtype;")
    w("  bool optax;  // optax.MultiSteps(optax.adabelief(0.05)); else Keras SGD")
    w("  long steps;")
    w("  double x[kSteps][kDim];")
    w("};")
    w("")
    names = []
    for dname in ("float64", "float32"):
        ident = "multi_steps_adabelief_%s" % dname
        names.append("&" + ident)
        w("constexpr AccumulationRun %s{" % ident)
        w("    \"optax.MultiSteps(optax.adabelief(0.05), every_k_schedule=3)\", \"%s\", true, 3," % dname)
        w("    {")
        for x in multi_steps(DTYPES[dname], adabelief_fast, 3):
            w("        {%s}," % ", ".join(r(v) for v in x))
        w("    }};")
        w("")
    ident = "keras_sgd_accumulation_float64"
    names.append("&" + ident)
    w("constexpr AccumulationRun %s{" % ident)
    w("    \"keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, "
      "gradient_accumulation_steps=3)\", \"float64\", false, 3,")
    w("    {")
    for x in keras_accumulation(3):
        w("        {%s}," % ", ".join(r(v) for v in x))
    w("    }};")
    w("")
    w("constexpr const AccumulationRun* kAccumulation[] = {%s};" % ", ".join(names))
    w("")
    w("}  // namespace wrapper_reference")
    with open(out_path, "w") as f:
        f.write("\n".join(out) + "\n")
    print("wrote %s (%d bytes)" % (out_path, os.path.getsize(out_path)), file=sys.stderr)


if __name__ == "__main__":
    main()
