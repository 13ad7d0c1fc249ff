// Lion and AdaBelief against optax's update code: the runs of
// optax_reference::kRuns (tools/make_optax_reference.py, which re-runs
// optax.lion, optax.adabelief and the chains with add_decayed_weights line
// by line in NumPy, float64 and float32, and cites the files and commits it
// mirrors), each with the descent optimizer and key=value options that
// reproduce it, built with make_optimizer, closed-loop on the problem of
// test_torch_reference.cpp (g(x) = a*(x - c) + 0.05*x*x*x).
//
// What optax computes, per step (lr the learning rate; u the update that
// apply_updates adds to θ):
//
//   lion:      c = (1 - b1)·g + b1·m;  u = -lr·(sign(c) + λ·θ);
//              m = (1 - b2)·g + b2·m                      (λ = 1e-3 by default)
//   adabelief: m = (1 - b1)·g + b1·m;  s = (1 - b2)·(g - m)² + b2·s + eps_root;
//              u = -lr·(m/(1 - b1ᵗ))/(√(s/(1 - b2ᵗ)) + eps)
//
// Tolerances as test_torch_optimizers.cpp: double 1e-10 relative with an
// absolute floor of 1e-14; float 1e-5 relative with a floor of 1e-6 (JAX
// rounds 1 - b1 to float from the double of the decimal, descent forms it
// in float from float(b1)). Run with -s to see the worst error of each run.
// Observed (GCC 12, x86-64), worst over each optimizer's runs, double /
// float:
//   Lion       1.1e-12 / 6.6e-6   (0 without decay: every step is ±lr exactly;
//                                  the double worst is where x[2] passes 8e-5)
//   AdaBelief  1.3e-13 / 7.2e-5   (float: see the AdaBelief test)

#include "data/optax_reference.hpp"
#include "instantiations.hpp"
#include "support.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <string>

#include <Eigen/Core>
#include <catch2/catch.hpp>
#include <descent/descent.hpp>

namespace {

namespace ox = optax_reference;

template <typename S>
using Tolerance = support::ReferenceTolerance<S>;

template <typename S>
using Vec = Eigen::Matrix<S, ox::kDim, 1>;

template <typename S>
Vec<S> gradient(const Vec<S>& x) {
  Vec<S> g;
  for (int i = 0; i < ox::kDim; ++i) {
    const S a = static_cast<S>(ox::kA[i]);
    const S c = static_cast<S>(ox::kC[i]);
    const S k = static_cast<S>(ox::kCubic);
    g(i) = a * (x(i) - c) + k * x(i) * x(i) * x(i);
  }
  return g;
}

std::map<std::string, std::string> parse_options(const std::string& text) {
  std::map<std::string, std::string> options;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto eq = item.find('=');
    REQUIRE(eq != std::string::npos);
    options[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return options;
}

/// The worst error |descent − optax| / max(|optax|, abs/rel) over a run's
/// recorded parameters.
template <typename S>
double run(const ox::Run& ref, const std::map<std::string, std::string>& options) {
  using T = Tolerance<S>;
  const auto opt = descent::make_optimizer<S>(ref.optimizer, options);
  Vec<S> x;
  for (int i = 0; i < ox::kDim; ++i) x(i) = static_cast<S>(ox::kX0[i]);
  double worst = 0;
  int step = 0;
  for (int k = 0; k < ox::kNumRecorded; ++k) {
    while (step < ox::kRecordedSteps[k]) {
      ++step;
      opt->step(x, gradient(x));
    }
    for (int i = 0; i < ox::kDim; ++i) {
      const double want = ref.params[k][i];
      const double err = std::abs(double(x(i)) - want) / std::max(std::abs(want), T::abs / T::rel);
      worst = err <= worst ? worst : err;  // NaN wins
    }
  }
  REQUIRE(step == ox::kSteps);
  return worst;
}

/// Every run of optimizer `name` in the scalar type of its dtype, the float
/// runs to float_rel; returns how many there were.
int check_runs(const std::string& name, double float_rel = Tolerance<float>::rel) {
  int runs = 0;
  for (const ox::Run& ref : ox::kRuns) {
    if (ref.optimizer != name) continue;
    const bool is_double = std::string(ref.dtype) == "float64";
    const double worst = is_double ? run<double>(ref, parse_options(ref.options))
                                   : run<float>(ref, parse_options(ref.options));
    const double tolerance = is_double ? Tolerance<double>::rel : float_rel;
    INFO(ref.optax_call << " (" << ref.dtype << ") as descent::make_optimizer(\"" << ref.optimizer
                        << "\", {" << ref.options << "}): worst error " << worst);
    CHECK(worst <= tolerance);
    ++runs;
  }
  return runs;
}

/// The worst error of run `id` (float64) with one option changed.
double changed(const std::string& id, const std::string& key, const std::string& value) {
  for (const ox::Run& ref : ox::kRuns) {
    if (ref.id != id || std::string(ref.dtype) != "float64") continue;
    auto options = parse_options(ref.options);
    options[key] = value;
    return run<double>(ref, options);
  }
  FAIL("no run " << id);
  return 0;
}

constexpr double kResolved = 1e4 * Tolerance<double>::rel;

}  // namespace

TEST_CASE("optax reference: Lion reproduces optax.lion", "[optax][lion]") {
  // optax.lion's defaults but for lr, which it requires.
  const auto o = descent::Lion<double>::Options::optax();
  CHECK(o.beta1 == 0.9);
  CHECK(o.beta2 == 0.99);
  CHECK(o.weight_decay == 1e-3);
  CHECK(o.decoupled_weight_decay);
  CHECK_FALSE(o.maximize);

  CHECK(check_runs("lion") == 6);
  // Each option under test moves the trajectory far beyond the tolerance.
  CHECK(changed("lion_optax", "weight_decay", "0") > kResolved);
  CHECK(changed("lion_betas_decay", "beta1", "0.9") > kResolved);
  CHECK(changed("lion_betas_decay", "beta2", "0.99") > kResolved);
  CHECK(changed("lion_betas_decay", "decoupled_weight_decay", "false") > kResolved);
  CHECK(changed("lion_l2", "decoupled_weight_decay", "true") > kResolved);
}

TEST_CASE("optax reference: AdaBelief reproduces optax.adabelief", "[optax][adabelief]") {
  // optax.adabelief's defaults, lr 0.001 (optax requires one).
  const auto o = descent::AdaBelief<double>::Options::optax();
  CHECK(o.lr == 0.001);
  CHECK(o.beta1 == 0.9);
  CHECK(o.beta2 == 0.999);
  CHECK(o.eps == 1e-16);
  CHECK(o.eps_root == 1e-16);
  CHECK(o.weight_decay == 0.0);
  CHECK_FALSE(o.maximize);

  // In float, JAX rounds 1 − b2 from the double 1 − 0.999 (0.001f), descent
  // forms it in float from float(0.999) (1.3e-5 smaller, so that β₂ and
  // 1 − β₂ sum to 1 exactly); JAX's float32 run then drifts 7.4e-5 from the
  // float64 one over the 160 steps at lr 0.01, and from descent's by as much.
  CHECK(check_runs("adabelief", 1e-4) == 5);
  // descent's float run stays close to the float64 trajectory (observed
  // 1.9e-6).
  for (const ox::Run& ref : ox::kRuns) {
    if (std::string(ref.id) != "adabelief_default" || std::string(ref.dtype) != "float64") continue;
    const double worst = run<float>(ref, parse_options(ref.options));
    INFO("descent<float> against optax's float64 run: worst error " << worst);
    CHECK(worst <= Tolerance<float>::rel);
  }
  CHECK(changed("adabelief_betas_eps", "eps", "1e-16") > kResolved);
  // ε_r accumulates in s: at 1e-4 it moves the trajectory.
  CHECK(changed("adabelief_betas_eps", "eps_root", "0") > kResolved);
  CHECK(changed("adabelief_betas_eps", "beta2", "0.999") > kResolved);
  CHECK(changed("adabelief_l2", "decoupled_weight_decay", "true") > kResolved);
  CHECK(changed("adabelief_decoupled", "decoupled_weight_decay", "false") > kResolved);
}
