// Adamax, NAdam, RAdam, Adadelta, Rprop and ASGD against PyTorch 1.13: the
// runs of torch_reference::kRuns (tools/make_torch_reference.py), each with
// the descent optimizer and key=value options that reproduce it, built here
// with make_optimizer, closed-loop on the problem of test_torch_reference.cpp
// (g(x) = a*(x - c) + 0.05*x*x*x).
//
// Tolerances as there: double 1e-10 relative with an absolute floor of
// 1e-14; float 1e-5 relative with a floor of 1e-6, for the reason given
// there (PyTorch forms 1 - beta and the like in double from the decimal,
// descent in float from float(beta)); RAdam's float runs get 5e-5 (see its
// test). Run with -s to see the worst error of each run. Observed (GCC 12,
// x86-64, -O2), worst over each optimizer's runs, double / float:
//   Adamax   4.6e-15 / 2.2e-6     NAdam  4.5e-14 / 3.4e-6
//   RAdam    1.4e-14 / 3.4e-5     Adadelta 1.9e-14 / 1.2e-6
//   Rprop    0 (bitwise) / 0      ASGD   3.2e-14 / 2.0e-7

#include "data/torch_reference.hpp"
#include "instantiations.hpp"
#include "support.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Core>
#include <catch2/catch.hpp>
#include <descent/descent.hpp>

namespace {

namespace tr = torch_reference;

template <typename S>
using Tolerance = support::ReferenceTolerance<S>;

template <typename S>
using Vec = Eigen::Matrix<S, tr::kDim, 1>;

template <typename S>
Vec<S> gradient(const Vec<S>& x) {
  Vec<S> g;
  for (int i = 0; i < tr::kDim; ++i) {
    const S a = static_cast<S>(tr::kA[i]);
    const S c = static_cast<S>(tr::kC[i]);
    const S k = static_cast<S>(tr::kCubic);
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

/// The worst error |descent − torch| / max(|torch|, abs/rel) over a run's
/// recorded parameters and, for ASGD, averaged parameters.
template <typename S>
double run(const tr::Run& ref, const std::map<std::string, std::string>& options) {
  using T = Tolerance<S>;
  const auto opt = descent::make_optimizer<S>(ref.optimizer, options);
  const auto* asgd = dynamic_cast<const descent::ASGD<S>*>(opt.get());
  REQUIRE(ref.has_averaged == (asgd != nullptr));
  Vec<S> x;
  for (int i = 0; i < tr::kDim; ++i) x(i) = static_cast<S>(tr::kX0[i]);
  double worst = 0;
  const auto compare = [&worst](double got, double want) {
    const double err = std::abs(got - want) / std::max(std::abs(want), T::abs / T::rel);
    worst = err <= worst ? worst : err;  // NaN wins
  };
  int step = 0;
  for (int k = 0; k < tr::kNumRecorded; ++k) {
    while (step < tr::kRecordedSteps[k]) {
      ++step;
      const Vec<S> g = gradient(x);
      opt->step(x, ref.negate ? Vec<S>(-g) : g);
    }
    for (int i = 0; i < tr::kDim; ++i) {
      compare(double(x(i)), ref.params[k][i]);
      if (asgd != nullptr && step > 0) compare(double(asgd->averaged()(i)), ref.averaged[k][i]);
    }
  }
  return worst;
}

/// Every run of optimizer `name` in the scalar type of its dtype, the float
/// runs to float_rel; returns how many there were.
int check_runs(const std::string& name, double float_rel = Tolerance<float>::rel) {
  int runs = 0;
  for (const tr::Run& ref : tr::kRuns) {
    if (ref.optimizer != name) continue;
    const bool is_double = std::string(ref.dtype) == "float64";
    const double worst = is_double ? run<double>(ref, parse_options(ref.options))
                                   : run<float>(ref, parse_options(ref.options));
    const double tolerance = is_double ? Tolerance<double>::rel : float_rel;
    INFO(ref.torch_call << " (" << ref.dtype << ") as descent::make_optimizer(\"" << ref.optimizer
                        << "\", {" << ref.options << "}): worst error " << worst);
    CHECK(worst <= tolerance);
    ++runs;
  }
  return runs;
}

/// The worst error of run `id` (float64) with one option changed.
double changed(const std::string& id, const std::string& key, const std::string& value) {
  for (const tr::Run& ref : tr::kRuns) {
    if (ref.id != id || std::string(ref.dtype) != "float64") continue;
    auto options = parse_options(ref.options);
    options[key] = value;
    return run<double>(ref, options);
  }
  FAIL("no run " << id);
  return 0;
}

}  // namespace

TEST_CASE("torch optimizers: Adamax reproduces torch.optim.Adamax", "[torch][adamax]") {
  CHECK(check_runs("adamax") == 6);
  // Each option under test moves the trajectory far beyond the tolerance.
  CHECK(changed("adamax_betas_eps", "eps", "1e-8") > 1e4 * Tolerance<double>::rel);
  CHECK(changed("adamax_betas_eps", "beta2", "0.999") > 1e4 * Tolerance<double>::rel);
  CHECK(changed("adamax_wd_max", "weight_decay", "0") > 1e4 * Tolerance<double>::rel);
}

TEST_CASE("torch optimizers: NAdam reproduces torch.optim.NAdam of PyTorch 1.13",
          "[torch][nadam]") {
  // The runs' options either start from profile=pytorch or set
  // pytorch_1_13, which PyTorch 1.13 needs.
  for (const tr::Run& ref : tr::kRuns) {
    if (std::string(ref.optimizer) != "nadam") continue;
    const std::string options = ref.options;
    CHECK((options.find("profile=pytorch") != std::string::npos ||
           options.find("pytorch_1_13=true") != std::string::npos));
  }
  CHECK(check_runs("nadam") == 7);
  CHECK(changed("nadam_lr", "pytorch_1_13", "false") > 1e4 * Tolerance<double>::rel);
  CHECK(changed("nadam_momentum_decay", "momentum_decay", "0.004") > 1e4 * Tolerance<double>::rel);
  CHECK(changed("nadam_weight_decay", "weight_decay", "0") > 1e4 * Tolerance<double>::rel);
}

TEST_CASE("torch optimizers: RAdam reproduces torch.optim.RAdam", "[torch][radam]") {
  // In float, r_t is formed from float(0.999), not 0.999: ρ_∞ moves from
  // 1999 to 2000.03 and every rectified step is 1.29e-5 (relative) shorter
  // than PyTorch's, which adds up to 3.4e-5 over the 160 steps at lr 0.05.
  CHECK(check_runs("radam", 5e-5) == 8);
  // The threshold decides which steps are rectified: at 4 (the paper's)
  // step 5 of the default betas already is.
  CHECK(changed("radam_lr", "threshold", "4") > 1e4 * Tolerance<double>::rel);
  CHECK(changed("radam_betas_eps", "eps", "1e-8") > 1e4 * Tolerance<double>::rel);
  CHECK(changed("radam_weight_decay", "weight_decay", "0") > 1e4 * Tolerance<double>::rel);
}

TEST_CASE("torch optimizers: Adadelta reproduces torch.optim.Adadelta", "[torch][adadelta]") {
  CHECK(check_runs("adadelta") == 4);
  CHECK(changed("adadelta_rho_eps_lr", "rho", "0.9") > 1e4 * Tolerance<double>::rel);
  CHECK(changed("adadelta_rho_eps_lr", "eps", "1e-6") > 1e4 * Tolerance<double>::rel);
  CHECK(changed("adadelta_wd_max", "weight_decay", "0") > 1e4 * Tolerance<double>::rel);
}

TEST_CASE("torch optimizers: Rprop reproduces torch.optim.Rprop", "[torch][rprop]") {
  CHECK(check_runs("rprop") == 5);
  CHECK(changed("rprop_etas_step_sizes", "eta_minus", "0.5") > 1e4 * Tolerance<double>::rel);
  CHECK(changed("rprop_etas_step_sizes", "eta_plus", "1.2") > 1e4 * Tolerance<double>::rel);
  CHECK(changed("rprop_etas_step_sizes", "step_size_max", "50") > 1e4 * Tolerance<double>::rel);
  CHECK(changed("rprop_weight_decay", "weight_decay", "0") > 1e4 * Tolerance<double>::rel);
}

TEST_CASE("torch optimizers: ASGD and its averaged parameters reproduce torch.optim.ASGD",
          "[torch][asgd]") {
  CHECK(check_runs("asgd") == 5);
  CHECK(changed("asgd_averaging", "t0", "60") > 1e4 * Tolerance<double>::rel);
  CHECK(changed("asgd_averaging", "alpha", "0.75") > 1e4 * Tolerance<double>::rel);
  CHECK(changed("asgd_averaging", "lambd", "1e-4") > 1e4 * Tolerance<double>::rel);
  CHECK(changed("asgd_wd_max", "weight_decay", "0") > 1e4 * Tolerance<double>::rel);
}

// The fused kernels run whole packets and a one-lane tail: a vector of every
// size that leaves a tail steps as its coordinates do one by one (each a
// one-element optimizer, all tail).
TEMPLATE_TEST_CASE("torch optimizers: packets and tails agree at every size", "[torch][tails]",
                   float, double) {
  using S = TestType;
  using V = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  const double tol = std::is_same<S, float>::value ? 2e-5 : 1e-12;
  for (const char* name : {"adamax", "nadam", "radam", "adadelta", "rprop", "asgd"}) {
    for (const char* options : {"", "weight_decay=0.1,maximize=true", "lr=0.05,t0=3"}) {
      const auto parsed = parse_options(options);
      if (parsed.count("t0") > 0 && std::string(name) != "asgd") continue;
      for (const Eigen::Index n : {1, 7, 8, 9, 15, 16, 17, 1023}) {
        const auto whole = descent::make_optimizer<S>(name, parsed);
        std::vector<std::unique_ptr<descent::Optimizer<S>>> each;
        for (Eigen::Index i = 0; i < n; ++i)
          each.push_back(descent::make_optimizer<S>(name, parsed));
        V x(n);
        for (Eigen::Index i = 0; i < n; ++i) x(i) = S(2 * std::cos(0.7 * double(i)));
        V y = x;
        const auto grad = [](const V& p) {
          V g(p.size());
          for (Eigen::Index i = 0; i < p.size(); ++i) {
            g(i) = S(1 + i % 5) * (p(i) - S(0.3)) + S(0.1) * std::sin(p(i));
          }
          return g;
        };
        for (int t = 0; t < 40; ++t) {
          whole->step(x, grad(x));
          const V g = grad(y);
          for (Eigen::Index i = 0; i < n; ++i) {
            Eigen::Matrix<S, 1, 1> yi(y(i));
            each[std::size_t(i)]->step(yi, Eigen::Matrix<S, 1, 1>(g(i)));
            y(i) = yi(0);
          }
        }
        double worst = 0;
        for (Eigen::Index i = 0; i < n; ++i) {
          const double err =
              std::abs(double(x(i)) - double(y(i))) / std::max(1.0, std::abs(double(y(i))));
          worst = err <= worst ? worst : err;
        }
        INFO(name << " {" << options << "}, n = " << n << ": worst " << worst);
        CHECK(worst <= tol);
      }
    }
  }
}
