#!/usr/bin/python3
"""Generate tests/data/optax_reference.hpp: reference data from optax's update code.

Run offline with NumPy only (optax and JAX are not needed, and not used):

    /usr/bin/python3 tools/make_optax_reference.py

It writes tests/data/optax_reference.hpp (next to this script's repository
root), which tests/test_optax_reference.cpp compares descent's Lion and
AdaBelief against.

optax cannot be installed where this data was made, so this script is
optax's update code re-implemented line by line in NumPy, as
tools/make_keras_reference.py does for Keras. Each function below names the
file it mirrors, with the commit read, and quotes the lines; the arithmetic
is kept in optax's order and grouping. Files read (github.com/google-deepmind/optax
unless said otherwise):

    optax/_src/transform.py         006cebd2adddd064757543329c83eaed0890ed82
                                    (scale_by_lion, scale_by_belief, scale,
                                    scale_by_learning_rate)
    optax/tree_utils/_tree_math.py  05a74255687ff15f55eb4a859958561e38919a9a
                                    (tree_update_moment,
                                    tree_update_moment_per_elem_norm,
                                    tree_bias_correction)
    optax/transforms/_adding.py     083e0459bfe635f361585fb852a595e576c0c06d
                                    (add_decayed_weights)
    optax/_src/update.py            25485d18441f1b6ccc7c3845d168ed1344cbfdf7
                                    (apply_updates)
    optax/_src/alias.py             47fe6554e5567201ac246292ffd00aec480f4b65
                                    (adabelief; its chain is the same in the
                                    newer file below)
    optax/_src/alias.py of github.com/tinker495/optax, a fork of
                                    google-deepmind/optax,
                                    321a0b4dc36fe34fc73234e61037c902ab48a668
                                    (lion, and adabelief as in current
                                    optax; no newer alias.py of
                                    google-deepmind/optax itself was at hand)

What one step does (the usual loop: updates, state = tx.update(grads,
state, params); params = optax.apply_updates(params, updates)):

    optax.lion(learning_rate, b1=0.9, b2=0.99, mu_dtype=None,
               weight_decay=1e-3, mask=None)
      = chain(scale_by_lion(b1, b2, mu_dtype),
              add_decayed_weights(weight_decay, mask),
              scale_by_learning_rate(learning_rate))
    optax.adabelief(learning_rate, b1=0.9, b2=0.999, eps=1e-16,
                    eps_root=1e-16, *, nesterov=False)
      = chain(scale_by_belief(b1, b2, eps, eps_root, nesterov),
              scale_by_learning_rate(learning_rate))

optax's adabelief has no weight decay; the runs with one chain
add_decayed_weights before scale_by_belief (L2, the gradient plus λ·θ) or
between it and scale_by_learning_rate (decoupled, as optax.adamw), as
optax's other aliases do. Lion's L2 run puts add_decayed_weights first too.

Precision, as JAX computes: the float32 runs are JAX's defaults (x64
disabled); every Python float hyperparameter is weakly typed and enters the
arithmetic as float32 (so 1 - b1, formed in Python double, is rounded to
float32 once), and tree_bias_correction's decay**count (count an int32) is
formed in float32. The float64 runs are those of jax_enable_x64 with float64
parameters, where the same numbers are float64. np.power stands for XLA's
pow, which may round differently in the last place.

Problem and recording: as tools/make_torch_reference.py, one fixed separable
problem in n = 3 coordinates whose gradient uses only IEEE basic operations,
so that C++ can compute the same gradient with the same operations in the
same order, in the run's dtype (a, c, x0 and 0.05 rounded to it first):

    g(x) = a * (x - c) + 0.05 * x * x * x      (elementwise, left to right)

evaluated at the current point before each update. The parameters are
recorded at x0, after steps 1..10 and after every 10th step up to 160.

Lion moves each coordinate by ±lr, the sign of c = (1 - b1)·g + b1·m, so a
rounding difference could flip a step only where c is near 0: every run here
asserts that |c| stays above 1e-4 times |(1 - b1)·g| + |b1·m| (the closest is
1.6e-3, float and double). Its betas and decay runs use lr 0.05, which
reaches the optimum and turns there: at lr 0.01 no sign of c depends on the
betas, and other betas give the same trajectory bit for bit.

Every number is printed with repr(), which round-trips a double exactly;
float32 values are exact as Python floats, so they round-trip as well.
"""

import os
import sys

import numpy as np

N_STEPS = 160
RECORDED_STEPS = [0] + list(range(1, 11)) + list(range(20, N_STEPS + 1, 10))

# The problem (the same as tools/make_torch_reference.py's).
A = [1.0, 10.0, 0.1]
C = [1.5, -0.7, 2.3]
X0 = [-1.2, 0.9, -0.4]
CUBIC = 0.05

DTYPES = dict(float32=np.float32, float64=np.float64)


class Transform:
    """One gradient transformation: init(params) and update(updates, params),
    which returns the new updates and keeps its state on self. dtype is the
    run's float type: a weakly typed Python scalar s enters as dtype(s)."""

    def __init__(self, dtype):
        self.dtype = dtype

    def w(self, s):
        return self.dtype(s)

    def init(self, params):
        pass


class ScaleByLion(Transform):
    """optax/_src/transform.py @ 006cebd2adddd064757543329c83eaed0890ed82.

    def scale_by_lion(b1=0.9, b2=0.99, mu_dtype=None, *, mode='hard',
                      smooth_beta=1.0):
      init_fn: mu = optax.tree.zeros_like(params, dtype=mu_dtype);
               count = jnp.zeros([], jnp.int32)
      update_fn:
        def _comb(g, m):
          x = (1.0 - b1) * g + b1 * m
          if mode == 'hard':
            return jnp.sign(x)
        updates_new = jax.tree.map(_comb, updates, state.mu)
        mu = optax.tree.update_moment(updates, state.mu, b2, 1)
        mu = optax.tree.cast(mu, mu_dtype)       # mu_dtype None: no-op
        count_inc = numerics.safe_increment(state.count)
    """

    def __init__(self, dtype, b1=0.9, b2=0.99):
        super().__init__(dtype)
        self.b1 = b1
        self.b2 = b2

    def init(self, params):
        self.mu = np.zeros_like(params)
        self.count = 0
        self.tie_margin = float("inf")

    def update(self, updates, params):
        g, m = updates, self.mu
        x = self.w(1.0 - self.b1) * g + self.w(self.b1) * m
        # Not optax: how close x came to a tie, |x| over the sum of its
        # terms' magnitudes. Far from 0, the rounding that descent and optax
        # do differently cannot flip a sign (a flip moves θ by 2·lr).
        terms = np.abs(self.w(1.0 - self.b1) * g) + np.abs(self.w(self.b1) * m)
        nonzero = terms > 0
        if nonzero.any():
            self.tie_margin = min(self.tie_margin, float(np.min(np.abs(x[nonzero]) / terms[nonzero])))
        updates_new = np.sign(x)
        self.mu = update_moment(self, updates, self.mu, self.b2, 1)
        self.count += 1
        return updates_new


class ScaleByBelief(Transform):
    """optax/_src/transform.py @ 006cebd2adddd064757543329c83eaed0890ed82.

    def scale_by_belief(b1=0.9, b2=0.999, eps=1e-16, eps_root=1e-16, *,
                        nesterov=False):
      init_fn: mu = zeros_like(params); s = zeros_like(params); count = 0
      update_fn:
        mu = optax.tree.update_moment(updates, state.mu, b1, 1)
        prediction_error = optax.tree.sub(updates, mu)
        nu = optax.tree.update_moment_per_elem_norm(prediction_error,
                                                    state.nu, b2, 2)
        nu = jax.tree.map(lambda v: v + eps_root, nu)
        count_inc = numerics.safe_increment(state.count)
        mu_hat = optax.tree.bias_correction(mu, b1, count_inc)   # not nesterov
        nu_hat = optax.tree.bias_correction(nu, b2, count_inc)
        updates = jax.tree.map(
            lambda m, v: None if m is None else m / (jnp.sqrt(v) + eps),
            mu_hat, nu_hat, ...)
        return updates, ScaleByBeliefState(count=count_inc, mu=mu, nu=nu)

    So eps_root is added to the stored second moment every step, before the
    bias correction, and eps to the square root of the corrected one.
    """

    def __init__(self, dtype, b1=0.9, b2=0.999, eps=1e-16, eps_root=1e-16):
        super().__init__(dtype)
        self.b1 = b1
        self.b2 = b2
        self.eps = eps
        self.eps_root = eps_root

    def init(self, params):
        self.mu = np.zeros_like(params)
        self.nu = np.zeros_like(params)
        self.count = 0

    def update(self, updates, params):
        mu = update_moment(self, updates, self.mu, self.b1, 1)
        prediction_error = updates - mu
        nu = update_moment_per_elem_norm(self, prediction_error, self.nu, self.b2, 2)
        nu = nu + self.w(self.eps_root)
        count_inc = self.count + 1
        mu_hat = bias_correction(self, mu, self.b1, count_inc)
        nu_hat = bias_correction(self, nu, self.b2, count_inc)
        out = mu_hat / (np.sqrt(nu_hat) + self.w(self.eps))
        self.mu, self.nu, self.count = mu, nu, count_inc
        return out


def update_moment(t, updates, moments, decay, order):
    """optax/tree_utils/_tree_math.py @ 05a74255687ff15f55eb4a859958561e38919a9a.

    def tree_update_moment(updates, moments, decay, order):
      return jax.tree.map(
          lambda g, t: (1 - decay) * (g**order) + decay * t ...)

    g**1 is jax's integer_pow(g, 1), g itself.
    """
    assert order == 1
    return t.w(1 - decay) * updates + t.w(decay) * moments


def update_moment_per_elem_norm(t, updates, moments, decay, order):
    """optax/tree_utils/_tree_math.py @ 05a74255687ff15f55eb4a859958561e38919a9a.

    def tree_update_moment_per_elem_norm(updates, moments, decay, order):
      def orderth_norm(g):
        if jnp.isrealobj(g):
          return g ** order
      ...
      return jax.tree.map(
          lambda g, t: (1 - decay) * orderth_norm(g) + decay * t ...)

    g ** 2 is jax's integer_pow(g, 2), the one product g * g.
    """
    assert order == 2
    return t.w(1 - decay) * (updates * updates) + t.w(decay) * moments


def bias_correction(t, moment, decay, count):
    """optax/tree_utils/_tree_math.py @ 05a74255687ff15f55eb4a859958561e38919a9a.

    def tree_bias_correction(moment, decay, count):
      bias_correction_ = 1 - decay**count
      return jax.tree.map(
          lambda t: t / bias_correction_.astype(t.dtype), moment)

    decay (a Python float) ** count (an int32 array) is a float of the
    default precision: float32, or float64 under jax_enable_x64.
    """
    bias_correction_ = t.w(1) - np.power(t.w(decay), t.w(count))
    return moment / bias_correction_


class AddDecayedWeights(Transform):
    """optax/transforms/_adding.py @ 083e0459bfe635f361585fb852a595e576c0c06d.

    def add_decayed_weights(weight_decay=0.0, mask=None):
      update_fn: updates = jax.tree.map(
          lambda g, p: None if g is None else g + s * p, updates, params, ...)
      (s = weight_decay, not a schedule here)
    """

    def __init__(self, dtype, weight_decay):
        super().__init__(dtype)
        self.weight_decay = weight_decay

    def update(self, updates, params):
        return updates + self.w(self.weight_decay) * params


class ScaleByLearningRate(Transform):
    """optax/_src/transform.py @ 006cebd2adddd064757543329c83eaed0890ed82.

    def scale_by_learning_rate(learning_rate, *, flip_sign=True):
      m = -1 if flip_sign else 1
      ...
      return scale(m * learning_rate)
    def scale(step_size):
      update_fn: updates = jax.tree.map(lambda g: step_size * g, updates)
    """

    def __init__(self, dtype, learning_rate):
        super().__init__(dtype)
        self.step_size = -1 * learning_rate

    def update(self, updates, params):
        return self.w(self.step_size) * updates


class Chain:
    """optax.chain: each transformation's updates feed the next; then
    optax/_src/update.py @ 25485d18441f1b6ccc7c3845d168ed1344cbfdf7:

    def apply_updates(params, updates):
      return jax.tree.map(
          lambda p, u: jnp.asarray(p + u).astype(jnp.asarray(p).dtype),
          params, updates)
    """

    def __init__(self, *transforms):
        self.transforms = transforms

    def init(self, params):
        for t in self.transforms:
            t.init(params)

    def step(self, grads, params):
        updates = grads
        for t in self.transforms:
            updates = t.update(updates, params)
        out = params + updates
        assert out.dtype == params.dtype
        return out


def lion(dtype, learning_rate, b1=0.9, b2=0.99, weight_decay=1e-3):
    """optax.lion (alias.py of tinker495/optax @ 321a0b4dc36fe34fc73234e61037c902ab48a668):

    return combine.chain(
        transform.scale_by_lion(b1=b1, b2=b2, mu_dtype=mu_dtype),
        transform.add_decayed_weights(weight_decay, mask),
        transform.scale_by_learning_rate(learning_rate),
    )
    """
    return Chain(ScaleByLion(dtype, b1, b2), AddDecayedWeights(dtype, weight_decay),
                 ScaleByLearningRate(dtype, learning_rate))


def adabelief(dtype, learning_rate, b1=0.9, b2=0.999, eps=1e-16, eps_root=1e-16):
    """optax.adabelief (alias.py @ 47fe6554e5567201ac246292ffd00aec480f4b65, and
    tinker495/optax @ 321a0b4dc36fe34fc73234e61037c902ab48a668 with nesterov=False):

    return combine.chain(
        transform.scale_by_belief(b1=b1, b2=b2, eps=eps, eps_root=eps_root),
        _scale_by_learning_rate(learning_rate),
    )
    """
    return Chain(ScaleByBelief(dtype, b1, b2, eps, eps_root),
                 ScaleByLearningRate(dtype, learning_rate))


BOTH = ("float64", "float32")
F64 = ("float64",)

# (identifier, optax call as text, factory(dtype), dtypes, descent's
# make_optimizer name, key=value options that reproduce it)
RUNS = [
    ("lion_optax", "optax.lion(learning_rate=0.02)",
     lambda d: lion(d, 0.02), BOTH, "lion", "profile=optax,lr=0.02"),
    ("lion_no_decay", "optax.lion(learning_rate=0.02, weight_decay=0.0)",
     lambda d: lion(d, 0.02, weight_decay=0.0), BOTH, "lion", "lr=0.02"),
    ("lion_betas_decay",
     "optax.lion(learning_rate=0.05, b1=0.8, b2=0.95, weight_decay=0.5)",
     lambda d: lion(d, 0.05, b1=0.8, b2=0.95, weight_decay=0.5), F64, "lion",
     "lr=0.05,beta1=0.8,beta2=0.95,weight_decay=0.5"),
    ("lion_l2",
     "optax.chain(optax.add_decayed_weights(0.5), optax.scale_by_lion(), "
     "optax.scale_by_learning_rate(0.05))",
     lambda d: Chain(AddDecayedWeights(d, 0.5), ScaleByLion(d), ScaleByLearningRate(d, 0.05)),
     F64, "lion", "lr=0.05,weight_decay=0.5,decoupled_weight_decay=false"),
    ("adabelief_default", "optax.adabelief(learning_rate=0.01)",
     lambda d: adabelief(d, 0.01), BOTH, "adabelief", "lr=0.01"),
    ("adabelief_betas_eps",
     "optax.adabelief(learning_rate=0.05, b1=0.8, b2=0.99, eps=1e-3, eps_root=1e-4)",
     lambda d: adabelief(d, 0.05, b1=0.8, b2=0.99, eps=1e-3, eps_root=1e-4), F64, "adabelief",
     "lr=0.05,beta1=0.8,beta2=0.99,eps=1e-3,eps_root=1e-4"),
    ("adabelief_l2",
     "optax.chain(optax.add_decayed_weights(0.1), optax.scale_by_belief(), "
     "optax.scale_by_learning_rate(0.01))",
     lambda d: Chain(AddDecayedWeights(d, 0.1), ScaleByBelief(d), ScaleByLearningRate(d, 0.01)),
     F64, "adabelief", "lr=0.01,weight_decay=0.1"),
    ("adabelief_decoupled",
     "optax.chain(optax.scale_by_belief(), optax.add_decayed_weights(0.1), "
     "optax.scale_by_learning_rate(0.01))",
     lambda d: Chain(ScaleByBelief(d), AddDecayedWeights(d, 0.1), ScaleByLearningRate(d, 0.01)),
     F64, "adabelief", "lr=0.01,weight_decay=0.1,decoupled_weight_decay=true"),
]


def gradient(x, a, c, cubic):
    """g(x) = a * (x - c) + 0.05 * x * x * x, elementwise, left to right."""
    return a * (x - c) + cubic * x * x * x


def run(factory, dtype_name):
    dtype = DTYPES[dtype_name]
    a = np.array(A, dtype=dtype)
    c = np.array(C, dtype=dtype)
    cubic = dtype(CUBIC)
    x = np.array(X0, dtype=dtype)
    tx = factory(dtype)
    tx.init(x)
    recorded = {0: x.tolist()}
    for step in range(1, N_STEPS + 1):
        g = gradient(x, a, c, cubic)
        assert g.dtype == dtype
        x = tx.step(g, x)
        assert x.dtype == dtype
        if step in RECORDED_STEPS:
            recorded[step] = x.tolist()
    for t in tx.transforms:
        # Every Lion run keeps its signs at least 1e-4 (relative) from a tie.
        assert getattr(t, "tie_margin", 1.0) > 1e-4, (t.tie_margin, dtype_name)
    return [recorded[s] for s in RECORDED_STEPS]


def r(x):
    """A C++ double literal that round-trips x."""
    s = repr(float(x))
    if "e" not in s and "." not in s and "inf" not in s and "nan" not in s:
        s += ".0"
    return s


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_path = os.path.join(root, "tests", "data", "optax_reference.hpp")

    lines = []
    w = lines.append
    w("// Generated by tools/make_optax_reference.py with NumPy %s; do not edit." % np.__version__)
    w("#pragma once")
    w("// Reference data from optax's update code (optax/_src/{alias,transform,update}.py,")
    w("// optax/tree_utils/_tree_math.py, optax/transforms/_adding.py), re-implemented")
    w("// line by line in NumPy float64 and float32; commits in the script), compared")
    w("// against descent in tests/test_optax_reference.cpp. Regenerate with:")
    w("//     /usr/bin/python3 tools/make_optax_reference.py")
    w("")
    w("namespace optax_reference {")
    w("")
    w("// The problem: g(x) = a * (x - c) + 0.05 * x * x * x, elementwise, evaluated")
    w("// left to right in the run's dtype (for float32: a, c, x0 and 0.05 rounded")
    w("// to float first) at the current point before every update.")
    w("constexpr int kDim = %d;" % len(A))
    w("constexpr double kA[kDim] = {%s};" % ", ".join(r(v) for v in A))
    w("constexpr double kC[kDim] = {%s};" % ", ".join(r(v) for v in C))
    w("constexpr double kX0[kDim] = {%s};" % ", ".join(r(v) for v in X0))
    w("constexpr double kCubic = %s;" % r(CUBIC))
    w("constexpr int kSteps = %d;" % N_STEPS)
    w("constexpr int kNumRecorded = %d;" % len(RECORDED_STEPS))
    w("// Step after which params[k] was recorded (0: x0).")
    w("constexpr int kRecordedSteps[kNumRecorded] = {%s};"
      % ", ".join(str(s) for s in RECORDED_STEPS))
    w("")
    w("/// One optax run in float64 or float32, with descent's make_optimizer name")
    w("/// and key=value options (comma-separated) that reproduce it. float32 runs")
    w("/// hold float values, exactly representable as double.")
    w("struct Run {")
    w("  const char* id;")
    w("  const char* optax_call;")
    w("  const char* dtype;")
    w("  const char* optimizer;")
    w("  const char* options;")
    w("  double params[kNumRecorded][kDim];")
    w("};")
    w("")
    w("constexpr Run kRuns[] = {")
    for ident, call, factory, dtypes, name, options in RUNS:
        for dtype_name in dtypes:
            traj = run(factory, dtype_name)
            w('    {"%s",' % ident)
            w('     "%s",' % call)
            w('     "%s", "%s", "%s",' % (dtype_name, name, options))
            w("     {")
            for step, row in zip(RECORDED_STEPS, traj):
                w("         {%s},  // %d" % (", ".join(r(v) for v in row), step))
            w("     }},")
    w("};")
    w("")
    w("}  // namespace optax_reference")
    w("")

    with open(out_path, "w") as f:
        f.write("\n".join(lines))
    print("wrote %s (%d bytes)" % (out_path, os.path.getsize(out_path)), file=sys.stderr)


if __name__ == "__main__":
    main()
