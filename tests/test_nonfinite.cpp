// The nonfinite option, and numerical robustness: long runs, zero and huge
// gradients.

#include "support.hpp"
#include "variants.hpp"

#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>

#include <descent/descent.hpp>

using Catch::Matchers::Contains;
using descent::NonFinite;
using support::Vec;

using support::bytes_of;

namespace {

template <typename Opt>
Opt with_policy(NonFinite policy) {
  typename Opt::Options o;
  o.nonfinite = policy;
  return Opt(o);
}

/// Runs the three policies on one optimizer class with a gradient that has
/// a NaN at index 37 and a +inf at 50, after two good steps.
template <typename Opt>
void check_policies() {
  using S = typename Opt::Scalar;
  const support::Bowl<S> bowl(64);
  Vec<S> bad = bowl.grad(bowl.start());
  bad(37) = std::numeric_limits<S>::quiet_NaN();
  bad(50) = std::numeric_limits<S>::infinity();

  for (const NonFinite policy : {NonFinite::Throw, NonFinite::Skip}) {
    Opt opt = with_policy<Opt>(policy);
    Vec<S> x = bowl.start();
    opt.step(x, bowl.grad(x));
    opt.step(x, bowl.grad(x));
    const Vec<S> before = x;
    const std::string state = bytes_of(opt);
    if (policy == NonFinite::Throw) {
      try {
        opt.step(x, bad);
        FAIL("no std::domain_error");
      } catch (const std::domain_error& e) {
        CHECK_THAT(std::string(e.what()),
                   Contains("descent::" + std::string(opt.name())) && Contains("grad[37] is nan"));
      }
      CHECK(opt.skipped_steps() == 0);
    } else {
      opt.step(x, bad);
      CHECK(opt.skipped_steps() == 1);
    }
    CHECK(support::bitwise_equal(x, before));
    CHECK(opt.iterations() == 2);
    // Everything but the skip count is as before.
    if (policy == NonFinite::Throw) CHECK(bytes_of(opt) == state);
    opt.step(x, bowl.grad(x));
    CHECK(opt.iterations() == 3);
  }
  // Propagate: the formulas run, and the NaN lands in params.
  Opt opt = with_policy<Opt>(NonFinite::Propagate);
  Vec<S> x = bowl.start();
  opt.step(x, bad);
  CHECK(std::isnan(x(37)));
  if constexpr (std::is_same_v<Opt, descent::LAMB<S>> || std::is_same_v<Opt, descent::LARS<S>>) {
    // The step is scaled by a norm of the whole tensor, which the NaN makes
    // NaN: every element is NaN, as with optax. (Adafactor's norms enter
    // through Python's max and min, which pass a NaN over, as torch's do.)
    CHECK(std::isnan(x(0)));
  } else {
    CHECK(std::isfinite(x(0)));
  }
}

}  // namespace

TEMPLATE_LIST_TEST_CASE(
    "nonfinite: Throw and Skip leave params and state untouched, Propagate runs", "[nonfinite]",
    support::AllOptimizers) {
  check_policies<TestType>();
}

TEMPLATE_TEST_CASE("nonfinite: the check finds the first bad element at every position",
                   "[nonfinite]", float, double) {
  using S = TestType;
  for (const Eigen::Index n : support::tail_sizes()) {
    for (Eigen::Index bad = 0; bad < n; bad += std::max<Eigen::Index>(1, n / 9)) {
      Vec<S> g = Vec<S>::Ones(n);
      g(bad) = -std::numeric_limits<S>::infinity();
      INFO("n = " << n << ", bad = " << bad);
      CHECK(descent::detail::first_nonfinite(g.data(), n) == bad);
    }
    const Vec<S> good = Vec<S>::Constant(n, std::numeric_limits<S>::max());
    CHECK(descent::detail::first_nonfinite(good.data(), n) == -1);
  }
}

TEST_CASE("robustness: a million float Adam steps on a noisy problem stay finite", "[robustness]") {
  // Bias corrections are formed in double from a 64-bit step count: at
  // t = 1e6, 1 − 0.999^t is exactly 1 and nothing degenerates.
  descent::Adam<float> adam({1e-3f});
  Eigen::VectorXf x = Eigen::VectorXf::LinSpaced(4, -2.0f, 2.0f);
  Eigen::VectorXf g(4);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> noise(-1.0f, 1.0f);
  for (int t = 0; t < 1000000; ++t) {
    for (int i = 0; i < 4; ++i) g(i) = x(i) + noise(rng);
    adam.step(x, g);
  }
  CHECK(adam.iterations() == 1000000);
  CHECK(x.allFinite());
  CHECK(x.cwiseAbs().maxCoeff() < 0.2f);  // it hovers around the minimum 0
}

TEMPLATE_TEST_CASE("robustness: AdaGrad leaves a coordinate whose gradients are all zero alone",
                   "[robustness]", float, double) {
  using S = TestType;
  for (const auto p : {descent::EpsPlacement::OutsideSqrt, descent::EpsPlacement::InsideSqrt}) {
    descent::AdaGrad<S> adagrad({S(0.5), S(1e-10), S(0), p});
    Vec<S> x = Vec<S>::Constant(3, S(1.5));
    Vec<S> g(3);
    for (int t = 0; t < 100; ++t) {
      g << S(0), x(1), S(0);
      adagrad.step(x, g);
    }
    CHECK(x(0) == S(1.5));
    CHECK(x(2) == S(1.5));
    CHECK(x(1) != S(1.5));
  }
}

TEST_CASE("robustness: huge float gradients give no NaN", "[robustness]") {
  // 1e30 in float: g² overflows to inf, so the adaptive methods divide by
  // sqrt(inf) and take a zero step where the math says lr·sign(g) (see the
  // README); no method with its default options produces NaN, and momentum
  // methods take the huge finite steps the formulas give. SparseAdam is the
  // exception, as torch.optim.SparseAdam is: its v + (1 − β₂)·(g² − v) is
  // inf − inf once g² has overflowed, NaN from the second step on. So is
  // Adafactor, as torch.optim.Adafactor is: torch.lerp's v = g² − (g² − v)·0
  // at the first step is inf − inf·0, NaN at once.
  const Eigen::VectorXf g = Eigen::VectorXf::Constant(3, 1e30f);
  auto check = [&](descent::Optimizer<float>& opt) {
    Eigen::VectorXf x = Eigen::VectorXf::Zero(3);
    for (int t = 0; t < 3; ++t) opt.step(x, g);
    INFO(opt.name() << ": x = " << x.transpose());
    CHECK(!x.array().isNaN().any());
  };
  descent::detail::for_each_optimizer<float>([&](const auto&, auto tag) {
    typename decltype(tag)::type opt;  // default options
    if (opt.name() != "SparseAdam" && opt.name() != "Adafactor") check(opt);
  });
  descent::Adafactor<float> adafactor;
  Eigen::VectorXf y = Eigen::VectorXf::Zero(3);
  adafactor.step(y, g);
  CHECK(y.array().isNaN().all());
  descent::SparseAdam<float> sparse_adam;
  Eigen::VectorXf x = Eigen::VectorXf::Zero(3);
  sparse_adam.step(x, g);
  CHECK(x == Eigen::VectorXf::Zero(3));  // m/√inf: the zero step
  sparse_adam.step(x, g);
  CHECK(x.array().isNaN().all());
}

TEMPLATE_TEST_CASE(
    "nonfinite: Muon's matrix step checks the whole matrix, and a NaN spreads over it",
    "[nonfinite]", float, double) {
  using S = TestType;
  using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  M bad = M::Constant(5, 3, S(0.5));
  bad(4, 2) = std::numeric_limits<S>::quiet_NaN();
  for (const NonFinite policy : {NonFinite::Throw, NonFinite::Skip}) {
    auto opt = with_policy<descent::Muon<S>>(policy);
    M x = M::Ones(5, 3);
    opt.step(x, M::Constant(5, 3, S(0.25)));
    const std::string state = bytes_of(opt);
    const M before = x;
    if (policy == NonFinite::Throw) {
      CHECK_THROWS_WITH(opt.step(x, bad), Contains("grad[14] is nan"));
      CHECK(bytes_of(opt) == state);
    } else {
      opt.step(x, bad);
      CHECK(opt.skipped_steps() == 1);
    }
    CHECK(x == before);
  }
  // Propagate: the NaN enters the norm and the products, so every entry of
  // the orthogonalized update is NaN, not only the one whose gradient was.
  auto opt = with_policy<descent::Muon<S>>(NonFinite::Propagate);
  M x = M::Ones(5, 3);
  opt.step(x, bad);
  CHECK(x.array().isNaN().all());
}

TEST_CASE("robustness: Muon orthogonalizes a huge float gradient as a unit one", "[robustness]") {
  // The norm is scaled (no overflow of ‖X‖² at 1e30), and the update depends
  // on the direction of the momentum only.
  using M = Eigen::MatrixXf;
  const M direction = M::Random(6, 4);
  descent::Muon<float> huge, unit;
  M x = M::Ones(6, 4), y = M::Ones(6, 4);
  for (int t = 0; t < 3; ++t) {
    huge.step(x, M(direction * 1e30f));
    unit.step(y, direction);
  }
  CHECK(x.allFinite());
  CHECK((x - y).cwiseAbs().maxCoeff() <= 1e-6f);
}
