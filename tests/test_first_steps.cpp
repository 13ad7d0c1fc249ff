// First steps of every optimizer, computed by hand (the arithmetic is in the
// comments), for float and double.

#include <descent/descent.hpp>

#include "support.hpp"

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using descent::EpsPlacement;

namespace {

template <typename S>
support::Vec<S> vec2(double a, double b) {
  support::Vec<S> v(2);
  v << S(a), S(b);
  return v;
}

template <typename S>
constexpr double hand_tol() {
  return std::is_same<S, float>::value ? 1e-6 : 1e-14;
}

/// |x − expected| <= tol·max(1, |expected|) in each coordinate.
template <typename S>
void require_values(const support::Vec<S>& x, double a, double b) {
  INFO("x = (" << x(0) << ", " << x(1) << "), expected (" << a << ", " << b << ")");
  REQUIRE_THAT(double(x(0)), WithinAbs(a, hand_tol<S>() * std::max(1.0, std::abs(a))));
  REQUIRE_THAT(double(x(1)), WithinAbs(b, hand_tol<S>() * std::max(1.0, std::abs(b))));
}

}  // namespace

TEMPLATE_TEST_CASE("first steps: GradientDescent", "[first-step]", float, double) {
  using S = TestType;
  auto gd = support::with_options<descent::GradientDescent<S>>([](auto& o) { o.lr = S(0.1); });
  auto x = vec2<S>(1, -2);
  gd.step(x, vec2<S>(0.5, 4));  // (1 − 0.05, −2 − 0.4)
  require_values(x, 0.95, -2.4);
  REQUIRE(gd.iterations() == 1);
}

TEMPLATE_TEST_CASE("first steps: SGD with momentum and with nesterov", "[first-step]", float,
                   double) {
  using S = TestType;
  const auto g = vec2<S>(1, -2);
  SECTION("heavy ball") {
    auto sgd = support::with_options<descent::SGD<S>>([](auto& o) { o.lr = S(0.1); o.momentum = S(0.9); });
    auto x = vec2<S>(1, 1);
    sgd.step(x, g);  // v = −0.1·g = (−0.1, 0.2)
    require_values(x, 0.9, 1.2);
    sgd.step(x, g);  // v = 0.9·v − 0.1·g = −0.19·g
    require_values(x, 0.71, 1.58);
  }
  SECTION("nesterov") {
    auto sgd = support::with_options<descent::SGD<S>>([](auto& o) { o.lr = S(0.1); o.momentum = S(0.9); o.nesterov = true; });
    auto x = vec2<S>(1, 1);
    sgd.step(x, g);  // v = −0.1·g; x += 0.9·v − 0.1·g = −0.19·g
    require_values(x, 0.81, 1.38);
    sgd.step(x, g);  // v = −0.19·g; x += 0.9·v − 0.1·g = −0.271·g
    require_values(x, 0.539, 1.922);
  }
}

TEMPLATE_TEST_CASE("first steps: SGD decay follows Keras's lr / (1 + decay * iterations)",
                   "[first-step][keras]", float, double) {
  using S = TestType;
  auto sgd = support::with_options<descent::SGD<S>>([](auto& o) { o.lr = S(0.1); o.momentum = S(0); o.nesterov = false; o.decay = S(0.5); });
  support::Vec<S> x = support::Vec<S>::Constant(1, S(1));
  const support::Vec<S> g = support::Vec<S>::Constant(1, S(1));
  sgd.step(x, g);  // lr_1 = 0.1
  REQUIRE_THAT(double(x(0)), WithinRel(0.9, hand_tol<S>()));
  sgd.step(x, g);  // lr_2 = 0.1 / 1.5
  REQUIRE_THAT(double(x(0)), WithinRel(0.9 - 0.1 / 1.5, hand_tol<S>()));
  sgd.step(x, g);  // lr_3 = 0.1 / 2
  REQUIRE_THAT(double(x(0)), WithinRel(0.85 - 0.1 / 1.5, hand_tol<S>()));
  // The optimizer's own lr is not decayed; decay applies on top of it.
  REQUIRE(sgd.lr() == S(0.1));
}

TEMPLATE_TEST_CASE("first steps: SGD decay with momentum matches Keras's loop", "[keras]", float,
                   double) {
  using S = TestType;
  // keras.optimizers.SGD(lr=0.1, momentum=0.5, decay=1), g = 1 every step:
  //   t=1: lr 0.1,   v = −0.1,                  x = 1 − 0.1    = 0.9
  //   t=2: lr 0.05,  v = −0.05 − 0.05 = −0.1,   x = 0.8
  //   t=3: lr 0.1/3, v = −0.05 − 0.0333… ,      x = 0.8 − 0.08333… = 0.71666…
  auto sgd = support::with_options<descent::SGD<S>>([](auto& o) { o.lr = S(0.1); o.momentum = S(0.5); o.nesterov = false; o.decay = S(1); });
  support::Vec<S> x = support::Vec<S>::Constant(1, S(1));
  const support::Vec<S> g = support::Vec<S>::Constant(1, S(1));
  sgd.step(x, g);
  REQUIRE_THAT(double(x(0)), WithinRel(0.9, hand_tol<S>()));
  sgd.step(x, g);
  REQUIRE_THAT(double(x(0)), WithinRel(0.8, hand_tol<S>()));
  sgd.step(x, g);
  REQUIRE_THAT(double(x(0)), WithinRel(0.8 - 0.05 - 0.1 / 3, hand_tol<S>()));
}

TEMPLATE_TEST_CASE("first steps: Momentum (lecture section 4)", "[first-step]", float, double) {
  using S = TestType;
  auto momentum = support::with_options<descent::Momentum<S>>([](auto& o) { o.lr = S(0.1); o.beta = S(0.9); });
  auto x = vec2<S>(1, 1);
  const auto g = vec2<S>(1, -2);
  momentum.step(x, g);  // Δ = −(1 − 0.9)·0.1·g = −0.01·g
  require_values(x, 0.99, 1.02);
  momentum.step(x, g);  // Δ = 0.9·Δ − 0.01·g = −0.019·g
  require_values(x, 0.971, 1.058);
}

TEMPLATE_TEST_CASE("first steps: Nesterov (lecture section 5)", "[first-step]", float, double) {
  using S = TestType;
  auto nesterov = support::with_options<descent::Nesterov<S>>([](auto& o) { o.lr = S(0.1); o.beta = S(0.9); });
  auto x = vec2<S>(1, 1);
  const auto g = vec2<S>(1, -2);
  nesterov.step(x, g);  // Δ = −0.01·g; φ += 0.9·Δ − 0.01·g = −0.019·g
  require_values(x, 0.981, 1.038);
  nesterov.step(x, g);  // Δ = −0.019·g; φ += 0.9·Δ − 0.01·g = −0.0271·g
  require_values(x, 0.9539, 1.0922);
}

TEMPLATE_TEST_CASE("first steps: AdaGrad (lecture section 6)", "[first-step]", float, double) {
  using S = TestType;
  for (const auto p : {EpsPlacement::OutsideSqrt, EpsPlacement::InsideSqrt}) {
    auto adagrad = support::with_options<descent::AdaGrad<S>>([&](auto& o) { o.lr = S(0.1); o.eps = S(0); o.initial_accumulator = S(0); o.eps_placement = p; });
    auto x = vec2<S>(1, 1);
    adagrad.step(x, vec2<S>(3, -4));  // h = (9, 16); x −= 0.1·(3/3, −4/4)
    require_values(x, 0.9, 1.1);
    adagrad.step(x, vec2<S>(4, 3));  // h = (25, 25); x −= 0.1·(4/5, 3/5)
    require_values(x, 0.82, 1.04);
  }
  SECTION("initial accumulator") {
    auto adagrad = support::with_options<descent::AdaGrad<S>>([](auto& o) { o.lr = S(0.1); o.eps = S(0); o.initial_accumulator = S(16); o.eps_placement = EpsPlacement::OutsideSqrt; });
    auto x = vec2<S>(1, 1);
    adagrad.step(x, vec2<S>(3, 0));  // h = (25, 16); x −= 0.1·(3/5, 0/4)
    require_values(x, 0.94, 1.0);
  }
}

TEMPLATE_TEST_CASE("first steps: RMSprop (lecture section 7)", "[first-step]", float, double) {
  using S = TestType;
  auto rmsprop = support::with_options<descent::RMSprop<S>>([](auto& o) { o.lr = S(0.1); o.rho = S(0.99); o.eps = S(0); o.eps_placement = EpsPlacement::InsideSqrt; });
  auto x = vec2<S>(1, 1);
  const auto g = vec2<S>(3, -4);
  rmsprop.step(x, g);  // v = 0.01·g²; x −= 0.1·g/(0.1·|g|) = sign(g)
  require_values(x, 0.0, 2.0);
  rmsprop.step(x, g);  // v = 0.0199·g²; x −= 0.1/√0.0199·sign(g)
  const double s = 0.708881205008335900765;
  REQUIRE_THAT(double(x(0)), WithinAbs(-s, hand_tol<S>()));
  REQUIRE_THAT(double(x(1)), WithinRel(2.0 + s, hand_tol<S>()));
}

TEMPLATE_TEST_CASE("first steps: Adam (lecture section 8)", "[first-step]", float, double) {
  using S = TestType;
  for (const auto p : {EpsPlacement::InsideSqrt, EpsPlacement::OutsideSqrt}) {
    INFO("placement " << int(p));
    auto adam = support::with_options<descent::Adam<S>>([&](auto& o) { o.lr = S(0.1); o.beta1 = S(0.9); o.beta2 = S(0.999); o.eps = S(0); o.eps_placement = p; });
    auto x = vec2<S>(1, 1);
    adam.step(x, vec2<S>(3, -4));  // m̂ = g, v̂ = g²: x −= 0.1·sign(g)
    require_values(x, 0.9, 1.1);
    // m = 0.9·(0.3, −0.4) + 0.1·(1, 2) = (0.37, −0.16), m̂ = m/0.19;
    // v = 0.999·(0.009, 0.016) + 0.001·(1, 4) = (0.009991, 0.019984),
    // v̂ = v/0.001999; x −= 0.1·m̂/√v̂ = (0.08710639507243420, −0.02663370396604026)
    adam.step(x, vec2<S>(1, 2));
    require_values(x, 0.9 - 0.0871063950724342010, 1.1 + 0.0266337039660402580);
  }
  SECTION("default eps moves the first step by eps / (2 g^2) relative") {
    auto adam = support::with_options<descent::Adam<S>>([](auto& o) { o.lr = S(0.1); });
    auto x = vec2<S>(1, 1);
    adam.step(x, vec2<S>(1e-3, -4));  // 0.1·g/√(g² + 1e-8) = 0.1/√1.01 for g = 1e-3
    REQUIRE_THAT(double(x(0)), WithinRel(1 - 0.1 / std::sqrt(1.01), hand_tol<S>()));
    REQUIRE_THAT(double(x(1)), WithinRel(1 + 0.1 / std::sqrt(1 + 1e-8 / 16), hand_tol<S>()));
  }
}
