// descent's Options::keras() profiles against Keras 3's optimizer update code.
//
// Keras is not installable where these tests are built, so the reference is
// Keras 3's backend-agnostic update code re-implemented line by line in NumPy
// float64 by tools/make_keras_reference.py (which writes
// tests/data/keras_reference.hpp and quotes every line it mirrors). Files of
// github.com/keras-team/keras read (commit in brackets):
//
//   keras/src/optimizers/sgd.py             [26083041390163cf3d1774c8538da496feaac231]
//   keras/src/optimizers/rmsprop.py         [13de96aef1a446c21f545eb929a194ac06b343fd]
//   keras/src/optimizers/adagrad.py         [40c749738e5f82fe5404492913d4700d2965bb64]
//   keras/src/optimizers/adam.py            [13de96aef1a446c21f545eb929a194ac06b343fd]
//   keras/src/optimizers/adamw.py           [26083041390163cf3d1774c8538da496feaac231]
//   keras/src/optimizers/base_optimizer.py  [001750db0fbf592a39f1099aef40f8dd595dd7a5]
//   keras/src/version.py: 3.8.0             [179ebebc2906cdd8e3964de2306a44e744c2867d]
//
// What Keras computes, per step (lr the learning rate; variables float64, as
// under keras.config.set_floatx("float64"), so lr is the exact double):
//
//   base_optimizer: variable = variable - variable * wd * lr  (weight_decay set:
//                   AdamW), before update_step; then iterations += 1
//   SGD:      m = m * momentum - g * lr;  variable += m
//             (nesterov: variable += m * momentum - g * lr;
//              momentum 0: variable -= g * lr)
//   RMSprop:  velocity = rho * velocity + (1 - rho) * g²
//             centered: average_grad = rho * average_grad + (1 - rho) * g,
//                       denominator = velocity - average_grad² + epsilon
//             else      denominator = velocity + epsilon
//             increment = lr * g / sqrt(denominator)
//             momentum > 0: momentum_slot = momentum * momentum_slot + increment,
//                           variable -= momentum_slot
//             else          variable -= increment
//   Adagrad:  accumulator (initially initial_accumulator_value) += g²
//             variable -= lr * g / sqrt(accumulator + epsilon)
//   Adam:     local_step = iterations + 1
//             alpha = lr * sqrt(1 - beta_2^local_step) / (1 - beta_1^local_step)
//             m += (g - m) * (1 - beta_1);  v += (g² - v) * (1 - beta_2)
//             amsgrad: v_hat = max(v_hat, v); v = v_hat
//             variable -= m * alpha / (sqrt(v) + epsilon)
//   AdamW:    Adam with weight_decay (default 0.004) applied by base_optimizer.
//
// Each case starts from the same x0 and feeds descent the gradient of the
// same problem with the same IEEE operations in the same order,
//
//     g(x) = a * (x - c) + 0.05 * x * x * x      (elementwise, left to right),
//
// so the two runs differ only by how the update formulas are grouped (Keras's
// m += (g - m)(1 - β₁) against descent's β₁·m + (1 − β₁)·g; x − x·λ·lr
// against (1 − lr·λ)·x; RMSprop momentum's μ·b + lr·g/√d against μ·b +
// lr·(g/√d)) and by FMA contraction.

#include "data/keras_reference.hpp"
#include "instantiations.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>

#include <Eigen/Core>
#include <catch2/catch.hpp>
#include <descent/adagrad.hpp>
#include <descent/adam.hpp>
#include <descent/adamw.hpp>
#include <descent/eps_placement.hpp>
#include <descent/make_optimizer.hpp>
#include <descent/momentum_form.hpp>
#include <descent/rmsprop.hpp>
#include <descent/sgd.hpp>

namespace {

namespace kr = keras_reference;

using Vec = Eigen::Matrix<double, kr::kDim, 1>;

// ---------------------------------------------------------------------------
// Tolerance, as the double cases of test_torch_reference.cpp: a recorded
// value passes when |descent - keras| <= max(1e-10·|keras|, 1e-14); the error
// reported is |descent - keras| / max(|keras|, 1e-4), which passes exactly
// when it is <= 1e-10.
//
// Observed (GCC 12, x86-64, Debug, no -march): worst error / max |diff|
//   SGD()                      0 (bitwise)        SGD momentum 0.9     0 (bitwise)
//   SGD nesterov               0 (bitwise)        Adagrad lr 0.05      0 (bitwise)
//   RMSprop lr 0.01            4.0e-16 / 2.2e-16  RMSprop centered     5.5e-15 / 2.2e-15
//   RMSprop momentum 0.9       6.5e-15 / 4.6e-15  centered + momentum  1.2e-15 / 2.2e-16
//   Adam lr 0.01               8.2e-14 / 5.9e-16  Adam amsgrad 0.05    1.9e-13 / 2.2e-15
//   AdamW lr 0.01              1.5e-13 / 3.6e-15  AdamW wd 0.1         5.1e-14 / 1.9e-15
// (the larger Adam errors are where x[2] crosses zero, relative to
// max(|x|, 1e-4)). The tolerance still resolves the conventions: the
// "resolves" tests at the end switch each one to its alternative and miss
// the reference by 1.2e-6 to 4.6.
// It cannot resolve momentum_form: at a constant lr, Keras's buffer (lr
// inside) and PyTorch's give the same iterates up to rounding (measured:
// 6.5e-15 for RMSprop momentum, 7.3e-16 for SGD momentum against this data).
constexpr double kRel = 1e-10;
constexpr double kAbs = 1e-14;

Vec gradient(const Vec& x) {
  Vec g;
  for (int i = 0; i < kr::kDim; ++i) {
    g(i) = kr::kA[i] * (x(i) - kr::kC[i]) + kr::kCubic * x(i) * x(i) * x(i);
  }
  return g;
}

/// What a run observed: the worst tested error, the worst absolute
/// difference, and where the worst error was.
struct Observed {
  double error = 0, abs = 0;
  int step = 0, coordinate = 0;
  double got = 0, want = 0;
};

/// Runs opt from x0 over the whole trajectory and measures every recorded
/// step against ref; fails only on a wrong step count.
Observed measure(descent::Optimizer<double>& opt, const kr::Trajectory& ref) {
  Vec x;
  for (int i = 0; i < kr::kDim; ++i) x(i) = kr::kX0[i];
  Observed seen;
  std::int64_t step = 0;
  for (int k = 0; k < kr::kNumRecorded; ++k) {
    while (step < kr::kRecordedSteps[k]) {
      opt.step(x, gradient(x));
      ++step;
    }
    REQUIRE(opt.iterations() == step);
    for (int i = 0; i < kr::kDim; ++i) {
      const double want = ref.params[k][i];
      const double diff = std::abs(x(i) - want);
      const double err = diff / std::max(std::abs(want), kAbs / kRel);
      if (!(err <= seen.error)) {  // NaN wins
        seen.error = err;
        seen.step = static_cast<int>(step);
        seen.coordinate = i;
        seen.got = x(i);
        seen.want = want;
      }
      if (!(diff <= seen.abs)) seen.abs = diff;
    }
  }
  REQUIRE(step == kr::kSteps);
  return seen;
}

std::string describe(const kr::Trajectory& ref, const Observed& seen) {
  std::ostringstream os;
  os.precision(17);
  os << ref.keras_call << " vs descent::" << ref.optimizer << "::Options::keras(): worst error "
     << seen.error << " (tolerance " << kRel << ") after step " << seen.step << " at x["
     << seen.coordinate << "]: descent " << seen.got << ", keras " << seen.want << "; max |diff| "
     << seen.abs;
  return os.str();
}

void check_trajectory(descent::Optimizer<double>& opt, const kr::Trajectory& ref) {
  const Observed seen = measure(opt, ref);
  INFO(describe(ref, seen));  // run with -s to see it
  CHECK(seen.error <= kRel);
}

// ---------------------------------------------------------------------------
// Options: descent's Keras profile, the case's overrides on top, and a check
// that the result holds exactly the hyperparameters the Keras run used (so a
// wrong default is named, not only seen as a wrong trajectory).

descent::SGD<double>::Options sgd_options(const kr::Trajectory& ref) {
  auto o = descent::SGD<double>::Options::keras();
  const kr::Hyper& h = ref.hyper;
  if (ref.overrides.lr) o.lr = h.lr;
  if (ref.overrides.momentum) o.momentum = h.momentum;
  if (ref.overrides.nesterov) o.nesterov = h.nesterov;
  if (ref.overrides.weight_decay) o.weight_decay = h.weight_decay;
  return o;
}

void check_sgd_profile(const descent::SGD<double>::Options& o, const kr::Hyper& h) {
  CHECK(o.lr == h.lr);
  CHECK(o.momentum == h.momentum);
  CHECK(o.nesterov == h.nesterov);
  CHECK(o.decay == 0.0);
  CHECK(o.dampening == 0.0);
  CHECK(o.momentum_form == descent::MomentumForm::Keras);
  CHECK(o.weight_decay == h.weight_decay);
  CHECK(o.decoupled_weight_decay);
  CHECK_FALSE(o.maximize);
}

descent::RMSprop<double>::Options rmsprop_options(const kr::Trajectory& ref) {
  auto o = descent::RMSprop<double>::Options::keras();
  const kr::Hyper& h = ref.hyper;
  if (ref.overrides.lr) o.lr = h.lr;
  if (ref.overrides.momentum) o.momentum = h.momentum;
  if (ref.overrides.centered) o.centered = h.centered;
  if (ref.overrides.weight_decay) o.weight_decay = h.weight_decay;
  return o;
}

void check_rmsprop_profile(const descent::RMSprop<double>::Options& o, const kr::Hyper& h) {
  CHECK(o.lr == h.lr);
  CHECK(o.rho == h.rho);
  CHECK(o.eps == h.eps);
  CHECK(o.eps_placement == descent::EpsPlacement::InsideSqrt);
  CHECK(o.centered == h.centered);
  CHECK(o.momentum == h.momentum);
  CHECK(o.momentum_form == descent::MomentumForm::Keras);
  CHECK(o.weight_decay == h.weight_decay);
  CHECK(o.decoupled_weight_decay);
  CHECK_FALSE(o.maximize);
}

descent::AdaGrad<double>::Options adagrad_options(const kr::Trajectory& ref) {
  auto o = descent::AdaGrad<double>::Options::keras();
  if (ref.overrides.lr) o.lr = ref.hyper.lr;
  if (ref.overrides.weight_decay) o.weight_decay = ref.hyper.weight_decay;
  return o;
}

void check_adagrad_profile(const descent::AdaGrad<double>::Options& o, const kr::Hyper& h) {
  CHECK(o.lr == h.lr);
  CHECK(o.eps == h.eps);
  CHECK(o.initial_accumulator == h.initial_accumulator);
  CHECK(o.eps_placement == descent::EpsPlacement::InsideSqrt);
  CHECK(o.lr_decay == 0.0);
  CHECK(o.weight_decay == h.weight_decay);
  CHECK(o.decoupled_weight_decay);
  CHECK_FALSE(o.maximize);
}

template <typename Options>
Options adam_options(Options o, const kr::Trajectory& ref) {
  const kr::Hyper& h = ref.hyper;
  if (ref.overrides.lr) o.lr = h.lr;
  if (ref.overrides.amsgrad) o.amsgrad = h.amsgrad;
  if (ref.overrides.weight_decay) o.weight_decay = h.weight_decay;
  return o;
}

/// Adam and AdamW: Keras's AdamW is its Adam with base_optimizer's decoupled
/// decay, so weight_decay != 0 must come decoupled.
template <typename Options>
void check_adam_profile(const Options& o, const kr::Hyper& h) {
  CHECK(o.lr == h.lr);
  CHECK(o.beta1 == h.beta1);
  CHECK(o.beta2 == h.beta2);
  CHECK(o.eps == h.eps);
  CHECK(o.eps_placement == descent::EpsPlacement::EpsHat);
  CHECK(o.amsgrad == h.amsgrad);
  CHECK(o.weight_decay == h.weight_decay);
  CHECK(o.decoupled_weight_decay);
  CHECK_FALSE(o.maximize);
}

descent::Adam<double>::Options adam_options(const kr::Trajectory& ref) {
  return adam_options(descent::Adam<double>::Options::keras(), ref);
}
descent::AdamW<double>::Options adamw_options(const kr::Trajectory& ref) {
  return adam_options(descent::AdamW<double>::Options::keras(), ref);
}

void run_sgd(const kr::Trajectory& ref) {
  const auto o = sgd_options(ref);
  check_sgd_profile(o, ref.hyper);
  descent::SGD<double> opt(o);
  check_trajectory(opt, ref);
}
void run_rmsprop(const kr::Trajectory& ref) {
  const auto o = rmsprop_options(ref);
  check_rmsprop_profile(o, ref.hyper);
  descent::RMSprop<double> opt(o);
  check_trajectory(opt, ref);
}
void run_adagrad(const kr::Trajectory& ref) {
  const auto o = adagrad_options(ref);
  check_adagrad_profile(o, ref.hyper);
  descent::AdaGrad<double> opt(o);
  check_trajectory(opt, ref);
}
void run_adam(const kr::Trajectory& ref) {
  const auto o = adam_options(ref);
  check_adam_profile(o, ref.hyper);
  descent::Adam<double> opt(o);
  check_trajectory(opt, ref);
}
void run_adamw(const kr::Trajectory& ref) {
  const auto o = adamw_options(ref);
  check_adam_profile(o, ref.hyper);
  descent::AdamW<double> opt(o);
  check_trajectory(opt, ref);
}

}  // namespace

// ---------------------------------------------------------------------------
// The profiles hold Keras's defaults (the __init__ signatures read).

TEST_CASE("keras reference: Options::keras() holds Keras's defaults", "[keras]") {
  SECTION("SGD") { check_sgd_profile(descent::SGD<double>::Options::keras(), kr::kSGDDefaults); }
  SECTION("RMSprop") {
    check_rmsprop_profile(descent::RMSprop<double>::Options::keras(), kr::kRMSpropDefaults);
  }
  SECTION("AdaGrad") {
    check_adagrad_profile(descent::AdaGrad<double>::Options::keras(), kr::kAdaGradDefaults);
  }
  SECTION("Adam") {
    check_adam_profile(descent::Adam<double>::Options::keras(), kr::kAdamDefaults);
    CHECK(descent::Adam<double>::Options::keras().weight_decay == 0.0);
  }
  SECTION("AdamW") {
    check_adam_profile(descent::AdamW<double>::Options::keras(), kr::kAdamWDefaults);
  }
}

// ---------------------------------------------------------------------------
// Trajectories.

TEST_CASE("keras reference: SGD() (double)", "[keras]") { run_sgd(kr::sgd_default); }
TEST_CASE("keras reference: SGD lr 0.01 momentum 0.9 (double)", "[keras]") {
  run_sgd(kr::sgd_momentum);
}
TEST_CASE("keras reference: SGD lr 0.01 momentum 0.9 nesterov (double)", "[keras]") {
  run_sgd(kr::sgd_nesterov);
}

TEST_CASE("keras reference: RMSprop lr 0.01 (double)", "[keras]") {
  run_rmsprop(kr::rmsprop_default);
}
TEST_CASE("keras reference: RMSprop lr 0.01 centered (double)", "[keras]") {
  run_rmsprop(kr::rmsprop_centered);
}
TEST_CASE("keras reference: RMSprop lr 0.005 momentum 0.9 (double)", "[keras]") {
  run_rmsprop(kr::rmsprop_momentum);
}
TEST_CASE("keras reference: RMSprop lr 0.005 momentum 0.9 centered (double)", "[keras]") {
  run_rmsprop(kr::rmsprop_centered_momentum);
}

TEST_CASE("keras reference: Adagrad lr 0.05 (double)", "[keras]") {
  run_adagrad(kr::adagrad_default);
}

TEST_CASE("keras reference: Adam lr 0.01 (double)", "[keras]") { run_adam(kr::adam_default); }
TEST_CASE("keras reference: Adam lr 0.05 amsgrad (double)", "[keras]") {
  run_adam(kr::adam_amsgrad);
}

TEST_CASE("keras reference: AdamW lr 0.01 (double)", "[keras]") { run_adamw(kr::adamw_default); }
TEST_CASE("keras reference: AdamW lr 0.05 weight_decay 0.1 (double)", "[keras]") {
  run_adamw(kr::adamw_wd0_1);
}

// ---------------------------------------------------------------------------
// The data resolves the conventions: each profile with one convention
// switched to its alternative misses the reference by far more than the
// tolerance. The worst errors observed (same build as above) are in the
// comments; each is required to exceed 1000 times the tolerance.

namespace {

constexpr double kResolved = 1e3 * kRel;

template <typename Opt>
void check_resolves(const char* what, Opt opt, const kr::Trajectory& ref) {
  const Observed seen = measure(opt, ref);
  INFO(what << ": " << describe(ref, seen));  // run with -s to see it
  CHECK(seen.error > kResolved);
}

}  // namespace

TEST_CASE("keras reference: resolves eps placement", "[keras]") {
  using descent::EpsPlacement;
  {  // 1.6e-4
    auto o = adam_options(kr::adam_default);
    o.eps_placement = EpsPlacement::OutsideSqrt;
    check_resolves("Adam EpsHat -> OutsideSqrt", descent::Adam<double>(o), kr::adam_default);
  }
  {  // 1.7e-4
    auto o = adamw_options(kr::adamw_default);
    o.eps_placement = EpsPlacement::OutsideSqrt;
    check_resolves("AdamW EpsHat -> OutsideSqrt", descent::AdamW<double>(o), kr::adamw_default);
  }
  {  // 2.4e-5
    auto o = rmsprop_options(kr::rmsprop_default);
    o.eps_placement = EpsPlacement::OutsideSqrt;
    check_resolves("RMSprop InsideSqrt -> OutsideSqrt", descent::RMSprop<double>(o),
                   kr::rmsprop_default);
  }
  {  // 2.7e-5
    auto o = rmsprop_options(kr::rmsprop_centered);
    o.eps_placement = EpsPlacement::OutsideSqrt;
    check_resolves("RMSprop centered InsideSqrt -> OutsideSqrt", descent::RMSprop<double>(o),
                   kr::rmsprop_centered);
  }
  {  // 1.2e-6
    auto o = adagrad_options(kr::adagrad_default);
    o.eps_placement = EpsPlacement::OutsideSqrt;
    check_resolves("AdaGrad InsideSqrt -> OutsideSqrt", descent::AdaGrad<double>(o),
                   kr::adagrad_default);
  }
}

TEST_CASE("keras reference: resolves the other Keras conventions", "[keras]") {
  {  // 4.6
    auto o = adagrad_options(kr::adagrad_default);
    o.initial_accumulator = 0.0;
    check_resolves("AdaGrad initial_accumulator 0.1 -> 0", descent::AdaGrad<double>(o),
                   kr::adagrad_default);
  }
  {  // 1.1e-3
    auto o = adam_options(kr::adam_amsgrad);
    o.amsgrad = false;
    check_resolves("Adam amsgrad -> off", descent::Adam<double>(o), kr::adam_amsgrad);
  }
  {  // 1.5
    auto o = adamw_options(kr::adamw_wd0_1);
    o.decoupled_weight_decay = false;
    check_resolves("AdamW decoupled -> L2", descent::AdamW<double>(o), kr::adamw_wd0_1);
  }
  {  // 1.3
    auto o = adamw_options(kr::adamw_wd0_1);
    o.weight_decay = 0.0;
    check_resolves("AdamW weight_decay 0.1 -> 0", descent::AdamW<double>(o), kr::adamw_wd0_1);
  }
}

TEST_CASE("keras reference: weight_decay is decoupled on every Keras optimizer (double)",
          "[keras]") {
  SECTION("SGD momentum 0.9 weight_decay 0.5") { run_sgd(kr::sgd_momentum_wd); }
  SECTION("RMSprop weight_decay 0.5") { run_rmsprop(kr::rmsprop_wd); }
  SECTION("Adagrad weight_decay 0.5") { run_adagrad(kr::adagrad_wd); }
  SECTION("resolved: L2 instead misses") {
    auto o = sgd_options(kr::sgd_momentum_wd);
    o.decoupled_weight_decay = false;
    check_resolves("SGD decoupled -> L2", descent::SGD<double>(o), kr::sgd_momentum_wd);
  }
}

// ---------------------------------------------------------------------------
// Adamax, Adadelta, Nadam and Lion: keras_reference::kRuns, each with the
// make_optimizer options (profile=keras and what the call sets) that
// reproduce it; same tolerance.

namespace {

/// The worst error of run `ref` with options `text` (key=value, comma-separated).
double keras_run_error(const kr::Run& ref, const std::string& text) {
  std::map<std::string, std::string> options;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto eq = item.find('=');
    REQUIRE(eq != std::string::npos);
    options[item.substr(0, eq)] = item.substr(eq + 1);
  }
  const auto opt = descent::make_optimizer<double>(ref.optimizer, options);
  Vec x;
  for (int i = 0; i < kr::kDim; ++i) x(i) = kr::kX0[i];
  double worst = 0;
  int step = 0;
  for (int k = 0; k < kr::kNumRecorded; ++k) {
    while (step < kr::kRecordedSteps[k]) {
      opt->step(x, gradient(x));
      ++step;
    }
    for (int i = 0; i < kr::kDim; ++i) {
      const double want = ref.params[k][i];
      const double err = std::abs(x(i) - want) / std::max(std::abs(want), kAbs / kRel);
      worst = err <= worst ? worst : err;  // NaN wins
    }
  }
  return worst;
}

/// Every run of `name`; returns how many.
int check_keras_runs(const std::string& name) {
  int runs = 0;
  for (const kr::Run& ref : kr::kRuns) {
    if (ref.optimizer != name) continue;
    const double worst = keras_run_error(ref, ref.options);
    INFO(ref.keras_call << " as descent::make_optimizer(\"" << ref.optimizer << "\", {"
                        << ref.options << "}): worst error " << worst);
    CHECK(worst <= kRel);
    ++runs;
  }
  return runs;
}

/// The worst error of run `id` with `extra` options appended.
double keras_run_changed(const std::string& id, const std::string& extra) {
  for (const kr::Run& ref : kr::kRuns) {
    if (ref.id == id) return keras_run_error(ref, std::string(ref.options) + "," + extra);
  }
  FAIL("no run " << id);
  return 0;
}

}  // namespace

TEST_CASE("keras reference: Adamax's keras() profile reproduces keras.optimizers.Adamax",
          "[keras][adamax]") {
  CHECK(check_keras_runs("adamax") == 3);
  // ε inside the maximum (PyTorch's) and decay as L2 miss by far.
  CHECK(keras_run_changed("adamax_betas_eps", "eps_in_norm=true") > kResolved);
  CHECK(keras_run_changed("adamax_wd", "decoupled_weight_decay=false") > kResolved);
}

TEST_CASE("keras reference: Adadelta's keras() profile reproduces keras.optimizers.Adadelta",
          "[keras][adadelta]") {
  CHECK(check_keras_runs("adadelta") == 2);
  CHECK(keras_run_changed("adadelta_rho_eps", "decoupled_weight_decay=false") > kResolved);
}

TEST_CASE("keras reference: NAdam's keras() profile reproduces keras.optimizers.Nadam",
          "[keras][nadam]") {
  CHECK(check_keras_runs("nadam") == 2);
  // Keras's schedule is 0.96^t (ψ = 1), with the paper's product.
  CHECK(keras_run_changed("nadam_default", "momentum_decay=0.004") > kResolved);
  CHECK(keras_run_changed("nadam_default", "pytorch_1_13=true") > kResolved);
}

TEST_CASE("keras reference: Lion's keras() profile reproduces keras.optimizers.Lion",
          "[keras][lion]") {
  // keras.optimizers.Lion's defaults (its __init__ signature).
  const auto o = descent::Lion<double>::Options::keras();
  CHECK(o.lr == 0.001);
  CHECK(o.beta1 == 0.9);
  CHECK(o.beta2 == 0.99);
  CHECK(o.weight_decay == 0.0);
  CHECK(o.decoupled_weight_decay);
  CHECK_FALSE(o.maximize);

  CHECK(check_keras_runs("lion") == 2);
  CHECK(keras_run_changed("lion_betas_wd", "decoupled_weight_decay=false") > kResolved);
  CHECK(keras_run_changed("lion_betas_wd", "beta2=0.99") > kResolved);
}
