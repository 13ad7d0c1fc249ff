// Identities between optimizers: special cases of one that are another.

#include <cmath>
#include <descent/descent.hpp>

#include "support.hpp"

using descent::EpsPlacement;
using support::Bowl;
using support::Vec;

namespace {

constexpr int kSteps = 200;
constexpr Eigen::Index kSize = 37;

/// Runs a and b from the same start on the bowl and returns both iterates.
template <typename S, typename A, typename B>
std::pair<Vec<S>, Vec<S>> run_both(A& a, B& b) {
  const Bowl<S> bowl(kSize);
  Vec<S> x = bowl.start();
  Vec<S> y = x;
  for (int t = 0; t < kSteps; ++t) {
    a.step(x, bowl.grad(x));
    b.step(y, bowl.grad(y));
  }
  REQUIRE(support::max_rel_error(x, bowl.start(), 1e-3) > 1e-2);  // both moved
  return {x, y};
}

}  // namespace

TEMPLATE_TEST_CASE("identity: SGD with momentum 0 is GradientDescent, bit for bit", "[identity]",
                   float, double) {
  using S = TestType;
  for (const bool nesterov : {false, true}) {
    descent::SGD<S> sgd({S(0.05), S(0), nesterov});
    descent::GradientDescent<S> gd({S(0.05)});
    const auto [x, y] = run_both<S>(sgd, gd);
    CHECK(support::bitwise_equal(x, y));
  }
}

TEMPLATE_TEST_CASE("identity: Momentum with beta 0 is GradientDescent", "[identity]", float,
                   double) {
  // Equal in exact arithmetic; bit for bit too unless the compiler contracts
  // x − a·g into one fused multiply-add in one kernel and not the other.
  using S = TestType;
  descent::Momentum<S> momentum({S(0.05), S(0)});
  descent::GradientDescent<S> gd({S(0.05)});
  const auto [x, y] = run_both<S>(momentum, gd);
  CHECK(support::max_rel_error(x, y, 1.0) <= support::trajectory_tol<S>());
}

TEMPLATE_TEST_CASE(
    "identity: the lecture's dampened Momentum and Nesterov are Keras's SGD with lr (1 - beta) lr",
    "[identity]", float, double) {
  using S = TestType;
  const S lr = S(0.2);
  const S beta = S(0.9);
  const S keras_lr = (S(1) - beta) * lr;
  SECTION("Momentum") {
    descent::Momentum<S> momentum({lr, beta});
    descent::SGD<S> sgd({keras_lr, beta, false});
    const auto [x, y] = run_both<S>(momentum, sgd);
    CHECK(support::bitwise_equal(x, y));
  }
  SECTION("Nesterov") {
    descent::Nesterov<S> nesterov({lr, beta});
    descent::SGD<S> sgd({keras_lr, beta, true});
    const auto [x, y] = run_both<S>(nesterov, sgd);
    CHECK(support::bitwise_equal(x, y));
  }
}

TEMPLATE_TEST_CASE("identity: Adam with beta1 0 is RMSprop with lr sqrt(1 - rho^t) lr (eps 0)",
                   "[identity]", float, double) {
  // With β₁ = 0, m̂ = g; with ε = 0, lr·g/√(v/(1 − ρᵗ)) = lr·√(1 − ρᵗ)·g/√v.
  // RMSprop takes the lr in force at each step, so setting it per step
  // reproduces Adam's bias correction.
  using S = TestType;
  const S lr = S(0.01);
  const S rho = S(0.95);
  for (const auto p : {EpsPlacement::InsideSqrt, EpsPlacement::OutsideSqrt}) {
    descent::Adam<S> adam({lr, S(0), rho, S(0), p});
    descent::RMSprop<S> rmsprop({lr, rho, S(0), p});
    const Bowl<S> bowl(kSize);
    Vec<S> x = bowl.start();
    Vec<S> y = x;
    for (int t = 1; t <= kSteps; ++t) {
      adam.step(x, bowl.grad(x));
      rmsprop.set_lr(S(double(lr) * std::sqrt(1.0 - std::pow(double(rho), t))));
      rmsprop.step(y, bowl.grad(y));
    }
    INFO("placement " << int(p));
    CHECK(support::max_rel_error(x, y, 1.0) <= support::trajectory_tol<S>());
  }
}

TEMPLATE_TEST_CASE("identity: AdaGrad and RMSprop with zero lr leave params unchanged",
                   "[identity]", float, double) {
  using S = TestType;
  descent::AdaGrad<S> adagrad({S(0)});
  descent::RMSprop<S> rmsprop({S(0)});
  const Bowl<S> bowl(kSize);
  Vec<S> x = bowl.start();
  Vec<S> y = x;
  for (int t = 0; t < 10; ++t) {
    adagrad.step(x, bowl.grad(x));
    rmsprop.step(y, bowl.grad(y));
  }
  CHECK(support::bitwise_equal(x, bowl.start()));
  CHECK(support::bitwise_equal(y, bowl.start()));
}

TEMPLATE_TEST_CASE("identity: the lr in force at each step is the one used", "[identity]", float,
                   double) {
  // GradientDescent with lr changed between steps equals the hand sum.
  using S = TestType;
  descent::GradientDescent<S> gd({S(1)});
  Vec<S> x = Vec<S>::Constant(3, S(1));
  const Vec<S> g = Vec<S>::Constant(3, S(1));
  double expected = 1;
  for (int t = 1; t <= 5; ++t) {
    gd.set_lr(S(0.5) / S(t));
    expected -= double(S(0.5) / S(t));
    gd.step(x, g);
  }
  CHECK_THAT(double(x(2)), Catch::Matchers::WithinRel(expected, 1e-6));
}
