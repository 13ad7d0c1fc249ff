// First steps of every optimizer, computed by hand (the arithmetic is in the
// comments), for float and double.

#include "support.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include <descent/descent.hpp>

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
    auto sgd = support::with_options<descent::SGD<S>>([](auto& o) {
      o.lr = S(0.1);
      o.momentum = S(0.9);
    });
    auto x = vec2<S>(1, 1);
    sgd.step(x, g);  // v = −0.1·g = (−0.1, 0.2)
    require_values(x, 0.9, 1.2);
    sgd.step(x, g);  // v = 0.9·v − 0.1·g = −0.19·g
    require_values(x, 0.71, 1.58);
  }
  SECTION("nesterov") {
    auto sgd = support::with_options<descent::SGD<S>>([](auto& o) {
      o.lr = S(0.1);
      o.momentum = S(0.9);
      o.nesterov = true;
    });
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
  auto sgd = support::with_options<descent::SGD<S>>([](auto& o) {
    o.lr = S(0.1);
    o.momentum = S(0);
    o.nesterov = false;
    o.decay = S(0.5);
  });
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
  auto sgd = support::with_options<descent::SGD<S>>([](auto& o) {
    o.lr = S(0.1);
    o.momentum = S(0.5);
    o.nesterov = false;
    o.decay = S(1);
  });
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
  auto momentum = support::with_options<descent::Momentum<S>>([](auto& o) {
    o.lr = S(0.1);
    o.beta = S(0.9);
  });
  auto x = vec2<S>(1, 1);
  const auto g = vec2<S>(1, -2);
  momentum.step(x, g);  // Δ = −(1 − 0.9)·0.1·g = −0.01·g
  require_values(x, 0.99, 1.02);
  momentum.step(x, g);  // Δ = 0.9·Δ − 0.01·g = −0.019·g
  require_values(x, 0.971, 1.058);
}

TEMPLATE_TEST_CASE("first steps: Nesterov (lecture section 5)", "[first-step]", float, double) {
  using S = TestType;
  auto nesterov = support::with_options<descent::Nesterov<S>>([](auto& o) {
    o.lr = S(0.1);
    o.beta = S(0.9);
  });
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
    auto adagrad = support::with_options<descent::AdaGrad<S>>([&](auto& o) {
      o.lr = S(0.1);
      o.eps = S(0);
      o.initial_accumulator = S(0);
      o.eps_placement = p;
    });
    auto x = vec2<S>(1, 1);
    adagrad.step(x, vec2<S>(3, -4));  // h = (9, 16); x −= 0.1·(3/3, −4/4)
    require_values(x, 0.9, 1.1);
    adagrad.step(x, vec2<S>(4, 3));  // h = (25, 25); x −= 0.1·(4/5, 3/5)
    require_values(x, 0.82, 1.04);
  }
  SECTION("initial accumulator") {
    auto adagrad = support::with_options<descent::AdaGrad<S>>([](auto& o) {
      o.lr = S(0.1);
      o.eps = S(0);
      o.initial_accumulator = S(16);
      o.eps_placement = EpsPlacement::OutsideSqrt;
    });
    auto x = vec2<S>(1, 1);
    adagrad.step(x, vec2<S>(3, 0));  // h = (25, 16); x −= 0.1·(3/5, 0/4)
    require_values(x, 0.94, 1.0);
  }
}

TEMPLATE_TEST_CASE("first steps: RMSprop (lecture section 7)", "[first-step]", float, double) {
  using S = TestType;
  auto rmsprop = support::with_options<descent::RMSprop<S>>([](auto& o) {
    o.lr = S(0.1);
    o.rho = S(0.99);
    o.eps = S(0);
    o.eps_placement = EpsPlacement::InsideSqrt;
  });
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
    auto adam = support::with_options<descent::Adam<S>>([&](auto& o) {
      o.lr = S(0.1);
      o.beta1 = S(0.9);
      o.beta2 = S(0.999);
      o.eps = S(0);
      o.eps_placement = p;
    });
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

// torch.optim's other optimizers. Options are set field by field, by name.

TEMPLATE_TEST_CASE("first steps: Adamax", "[first-step][adamax]", float, double) {
  using S = TestType;
  typename descent::Adamax<S>::Options o;
  o.lr = S(0.1);
  o.eps = S(0);
  descent::Adamax<S> adamax(o);
  auto x = vec2<S>(1, 1);
  const auto g = vec2<S>(1, -2);
  adamax.step(x, g);  // m = 0.1·g, u = |g|; x −= 0.1/0.1·m/u = 0.1·sign(g)
  require_values(x, 0.9, 1.1);
  // m = 0.09·g + 0.05·g = 0.14·g; u = max(0.999·|g|, 0.5·|g|) = 0.999·|g|;
  // x −= 0.1/0.19·0.14/0.999·sign(g)
  adamax.step(x, vec2<S>(0.5, -1));
  const double s = 0.1 / 0.19 * 0.14 / 0.999;
  require_values(x, 0.9 - s, 1.1 + s);
}

TEMPLATE_TEST_CASE("first steps: NAdam, the paper's product and PyTorch 1.13's",
                   "[first-step][nadam]", float, double) {
  using S = TestType;
  // β₁ = 0.5 and ψ = 0: μ_t = 0.25 every step, exact in float. β₂ = 0.5 and
  // a constant gradient: √(v/(1 − β₂ᵗ)) = |g|, so each step is
  // lr·c·sign(g) with c the sum of the two coefficients (ε = 0).
  typename descent::NAdam<S>::Options o;
  o.lr = S(0.1);
  o.beta1 = S(0.5);
  o.beta2 = S(0.5);
  o.eps = S(0);
  o.momentum_decay = S(0);
  const auto g = vec2<S>(1, -2);
  SECTION("paper") {
    descent::NAdam<S> nadam(o);
    auto x = vec2<S>(1, 1);
    // P₁ = 1/4, P' = 1/16, m = g/2: c = 0.75/0.75 + 0.25/(15/16)·0.5 = 17/15
    nadam.step(x, g);
    require_values(x, 1 - 0.1 * 17 / 15, 1 + 0.1 * 17 / 15);
    // P₂ = 1/16, P' = 1/64, m = 3g/4: c = 0.75/(15/16) + 0.25/(63/64)·0.75
    // = 4/5 + 4/21 = 104/105
    nadam.step(x, g);
    const double c = 17.0 / 15 + 104.0 / 105;
    require_values(x, 1 - 0.1 * c, 1 + 0.1 * c);
  }
  SECTION("PyTorch 1.13") {
    o.pytorch_1_13 = true;
    descent::NAdam<S> nadam(o);
    auto x = vec2<S>(1, 1);
    // P' = P₁·μ₁·μ₂ = 1/64: c = 1 + 0.25/(63/64)·0.5 = 71/63
    nadam.step(x, g);
    require_values(x, 1 - 0.1 * 71 / 63, 1 + 0.1 * 71 / 63);
    // P' = P₂·μ₂·μ₃ = 1/256: c = 4/5 + 0.25/(255/256)·0.75 = 4/5 + 16/85
    nadam.step(x, g);
    const double c = 71.0 / 63 + 0.8 + 16.0 / 85;
    require_values(x, 1 - 0.1 * c, 1 + 0.1 * c);
  }
}

TEST_CASE("first steps: NAdam's product reaches its fixed point, the least subnormal",
          "[first-step][nadam]") {
  // With μ > 0.5 the running product ends at the least subnormal and stays:
  // its product with μ rounds back to it. The checkpoint's last value (before
  // the checksum) is the product; it must be the plain product's bits at
  // every step, through the subnormals and at the fixed point, in double (the
  // paper's) and in float (PyTorch 1.13's).
  for (const bool in_float : {false, true}) {
    descent::NAdam<double>::Options o;
    o.pytorch_1_13 = in_float;
    o.momentum_decay = in_float ? 0.1 : 0.004;
    descent::NAdam<double> nadam(o);
    Eigen::VectorXd x = Eigen::VectorXd::LinSpaced(2, -1, 1);
    double expected = 1;
    bool all_equal = true;
    for (int t = 1; t <= 1500; ++t) {
      nadam.step(x, x);
      const double mu = 0.9 * (1 - 0.5 * std::pow(0.96, double(t) * o.momentum_decay));
      expected = in_float ? double(float(expected) * float(mu)) : expected * mu;
      const std::string bytes = support::bytes_of(nadam);
      double product = 0;
      std::memcpy(&product, bytes.data() + bytes.size() - 4 - 8, 8);
      all_equal = all_equal && std::memcmp(&product, &expected, 8) == 0;
    }
    INFO((in_float ? "float" : "double"));
    CHECK(all_equal);
    CHECK(expected == (in_float ? double(std::numeric_limits<float>::denorm_min())
                                : std::numeric_limits<double>::denorm_min()));
  }
}

TEMPLATE_TEST_CASE("first steps: RAdam steps lr·r_t·sign(g) once rectified, lr·sign(g) before",
                   "[first-step][radam]", float, double) {
  using S = TestType;
  // With a constant gradient m̂ = g and √v = √(1 − β₂ᵗ)·|g|, so with ε = 0
  // a rectified step moves each coordinate by lr·r_t, another by lr.
  for (const double threshold : {5.0, 4.0, 8.0}) {
    typename descent::RAdam<S>::Options o;
    o.lr = S(0.1);
    o.beta2 = S(0.5);  // ρ_∞ = 3: never rectified
    o.eps = S(0);
    o.threshold = S(threshold);
    descent::RAdam<S> never(o);
    o.beta2 = S(0.999);
    descent::RAdam<S> radam(o);
    const auto g = vec2<S>(1, -2);
    auto x = vec2<S>(1, 1);
    auto y = x;
    const double rho_inf = 2 / (1 - double(S(0.999))) - 1;
    int rectified = 0;
    for (int t = 1; t <= 12; ++t) {
      const double before = double(x(0));
      radam.step(x, g);
      never.step(y, g);
      const double beta2_t = std::pow(double(S(0.999)), t);
      const double rho_t = rho_inf - 2 * t * beta2_t / (1 - beta2_t);
      const double r = rho_t > threshold ? std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf /
                                                     ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                                         : 1.0;
      rectified += rho_t > threshold;
      INFO("threshold " << threshold << ", t = " << t << ", rho_t = " << rho_t);
      REQUIRE_THAT(before - double(x(0)), WithinRel(0.1 * r, 20 * hand_tol<S>()));
      REQUIRE_THAT(double(y(0)), WithinAbs(1 - 0.1 * t, 10 * hand_tol<S>()));
    }
    // ρ_t passes 4 at step 5, 5 at step 6 and 8 at step 9.
    CHECK(rectified == (threshold == 4.0 ? 8 : threshold == 5.0 ? 7 : 4));
  }
}

TEMPLATE_TEST_CASE("first steps: Adadelta", "[first-step][adadelta]", float, double) {
  using S = TestType;
  descent::Adadelta<S> adadelta;  // lr 1, ρ 0.9, ε 1e-6
  auto x = vec2<S>(1, 1);
  const auto g = vec2<S>(1, -2);
  // v = 0.1·g²; Δ = √1e-6/√(0.1·g² + 1e-6)·g
  adadelta.step(x, g);
  const double d0 = 1e-3 / std::sqrt(0.1 + 1e-6);
  const double d1 = -2e-3 / std::sqrt(0.4 + 1e-6);
  require_values(x, 1 - d0, 1 - d1);
  // u = 0.1·Δ²; v = 0.19·g²; Δ = √(0.1·Δ² + 1e-6)/√(0.19·g² + 1e-6)·g
  adadelta.step(x, g);
  const double e0 = std::sqrt(0.1 * d0 * d0 + 1e-6) / std::sqrt(0.19 + 1e-6);
  const double e1 = -2 * std::sqrt(0.1 * d1 * d1 + 1e-6) / std::sqrt(0.76 + 1e-6);
  require_values(x, 1 - d0 - e0, 1 - d1 - e1);
}

TEMPLATE_TEST_CASE("first steps: Rprop", "[first-step][rprop]", float, double) {
  using S = TestType;
  typename descent::Rprop<S>::Options o;
  o.lr = S(0.1);
  descent::Rprop<S> rprop(o);
  auto x = vec2<S>(1, 1);
  rprop.step(x, vec2<S>(1, -2));  // η = 0.1: x −= 0.1·sign(g)
  require_values(x, 0.9, 1.1);
  rprop.step(x, vec2<S>(1, -2));  // same signs: η = 0.12
  require_values(x, 0.78, 1.22);
  rprop.step(x, vec2<S>(-1, -2));  // x₀ flips: η₀ = 0.06, no move; η₁ = 0.144
  require_values(x, 0.78, 1.364);
  rprop.step(x, vec2<S>(-1, -2));  // x₀'s previous d was zeroed: η₀ stays 0.06
  require_values(x, 0.84, 1.5368);
  SECTION("the step sizes stay in [step_size_min, step_size_max]") {
    o.step_size_max = S(0.11);
    o.step_size_min = S(0.08);
    descent::Rprop<S> bounded(o);
    auto y = vec2<S>(1, 1);
    bounded.step(y, vec2<S>(1, 1));   // 0.1
    bounded.step(y, vec2<S>(1, 1));   // min(0.12, 0.11)
    bounded.step(y, vec2<S>(-1, 1));  // y₀: max(0.055, 0.08), no move; y₁: 0.11
    require_values(y, 0.79, 0.68);
    bounded.step(y, vec2<S>(-1, 1));  // y₀ moves by 0.08
    require_values(y, 0.87, 0.57);
  }
}

TEMPLATE_TEST_CASE("first steps: ASGD", "[first-step][asgd]", float, double) {
  using S = TestType;
  typename descent::ASGD<S>::Options o;
  o.lr = S(0.1);
  o.lambd = S(0.5);
  o.alpha = S(1);
  o.t0 = S(0);
  descent::ASGD<S> asgd(o);
  auto x = vec2<S>(1, -2);
  const auto g = vec2<S>(1, -2);
  // η₁ = float(0.1), as PyTorch keeps it; x ← (1 − 0.5·η₁)·x − η₁·g
  const double eta1 = double(float(0.1));
  asgd.step(x, g);
  const double x0 = (1 - 0.5 * eta1) * 1 - eta1;
  require_values(x, x0, -2 * x0);
  CHECK(asgd.averaged() == x);  // μ = 1: ā = θ
  // η₂ = float(0.1/(1 + 0.5·0.1·1)); μ = 1/max(1, 1 − 0) = 1
  const double eta2 = double(float(0.1 / 1.05));
  asgd.step(x, g);
  const double y0 = (1 - 0.5 * eta2) * x0 - eta2;
  require_values(x, y0, -2 * (1 - 0.5 * eta2) * x0 + 2 * eta2);
  CHECK(asgd.averaged() == x);
  // η₃ = float(0.1/1.1); μ = 1/max(1, 2 − 0) = 1/2: ā = (θ₂ + θ₃)/2
  const double eta3 = double(float(0.1 / 1.1));
  const auto before = x;
  asgd.step(x, g);
  const double z0 = (1 - 0.5 * eta3) * y0 - eta3;
  REQUIRE_THAT(double(x(0)), WithinAbs(z0, hand_tol<S>()));
  REQUIRE_THAT(double(asgd.averaged()(0)), WithinAbs((y0 + z0) / 2, hand_tol<S>()));
  REQUIRE_THAT(double(asgd.averaged()(1)), WithinAbs(double(before(1) + x(1)) / 2, hand_tol<S>()));
}

// The optimizers of optax and Keras beyond torch.optim.

TEMPLATE_TEST_CASE("first steps: Lion", "[first-step][lion]", float, double) {
  using S = TestType;
  typename descent::Lion<S>::Options o;
  o.lr = S(0.1);  // β₁ 0.9, β₂ 0.99, no decay
  descent::Lion<S> lion(o);
  auto x = vec2<S>(1, 1);
  lion.step(x, vec2<S>(1, -2));  // m = 0: c = 0.1·g, x −= 0.1·sign(c)
  require_values(x, 0.9, 1.1);
  // m = 0.01·g = (0.01, −0.02); g = (−0.05, 1): c = 0.9·m + 0.1·g =
  // (0.009 − 0.005, −0.018 + 0.1) = (0.004, 0.082): the first coordinate
  // still steps down, against its gradient.
  lion.step(x, vec2<S>(-0.05, 1));
  require_values(x, 0.8, 1.0);
  // m = 0.99·(0.01, −0.02) + 0.01·(−0.05, 1) = (0.0094, −0.0098); g =
  // (−0.1, 0.5): c = (0.00846 − 0.01, −0.00882 + 0.05) = (−0.00154, 0.04118).
  lion.step(x, vec2<S>(-0.1, 0.5));
  require_values(x, 0.9, 0.9);

  SECTION("sign(0) = 0: a zero gradient on a zero momentum leaves θ") {
    descent::Lion<S> fresh(o);
    auto y = vec2<S>(1, 1);
    fresh.step(y, vec2<S>(0, 3));
    CHECK(y(0) == S(1));
    require_values(y, 1, 0.9);
  }
  SECTION("decoupled weight decay: θ ← (1 − lr·λ)·θ − lr·sign(c)") {
    o.weight_decay = S(0.5);
    descent::Lion<S> decayed(o);
    auto y = vec2<S>(1, -2);
    decayed.step(y, vec2<S>(-1, 0));  // (0.95·1 + 0.1, 0.95·(−2) − 0)
    require_values(y, 1.05, -1.9);
  }
  SECTION("L2 weight decay: d = g + λ·θ enters c and m") {
    o.weight_decay = S(0.5);
    o.decoupled_weight_decay = false;
    descent::Lion<S> l2(o);
    auto y = vec2<S>(1, -2);
    // d = (−1 + 0.5, 0 − 1) = (−0.5, −1): both coordinates step up.
    l2.step(y, vec2<S>(-1, 0));
    require_values(y, 1.1, -1.9);
  }
}

TEMPLATE_TEST_CASE("first steps: AdaBelief", "[first-step][adabelief]", float, double) {
  using S = TestType;
  typename descent::AdaBelief<S>::Options o;
  o.lr = S(0.1);
  o.beta1 = S(0.5);
  o.beta2 = S(0.5);
  o.eps = S(0);
  o.eps_root = S(0);
  descent::AdaBelief<S> adabelief(o);
  auto x = vec2<S>(1, 1);
  // m = 0.5·g, s = 0.5·(g − m)² = g²/8; m̂ = g, ŝ = g²/4: x −= 0.1·g/(|g|/2)
  adabelief.step(x, vec2<S>(1, -2));
  require_values(x, 0.8, 1.2);
  // g = (3, −2): m = (0.25 + 1.5, −0.5 − 1) = (1.75, −1.5); g − m = (1.25, −0.5);
  // s = (1/16 + 0.78125, 0.25 + 0.125) = (0.84375, 0.375); m̂ = m/0.75,
  // ŝ = s/0.75: x −= 0.1·m̂/√ŝ.
  adabelief.step(x, vec2<S>(3, -2));
  require_values(x, 0.8 - 0.1 * (1.75 / 0.75) / std::sqrt(0.84375 / 0.75),
                 1.2 + 0.1 * (1.5 / 0.75) / std::sqrt(0.375 / 0.75));

  SECTION("eps_root is kept in s, before the bias correction") {
    o.eps_root = S(0.25);
    descent::AdaBelief<S> rooted(o);
    auto y = vec2<S>(1, 1);
    // s = 0.5·(0.5·g)² + 0.25 = 0.25 for g = 0 and 0.75 for g = 2 (ŝ = 2·s):
    // the zero-gradient coordinate stays; the other moves 0.1·2/√1.5.
    rooted.step(y, vec2<S>(0, 2));
    require_values(y, 1, 1 - 0.1 * 2 / std::sqrt(1.5));
    // g = (0, 2) again: m = (0, 1.5), g − m = (0, 0.5); s = (0.125 + 0.25,
    // 0.375 + 0.125 + 0.25) = (0.375, 0.75); m̂ = (0, 2), ŝ = s/0.75.
    rooted.step(y, vec2<S>(0, 2));
    require_values(y, 1, 1 - 0.1 * 2 / std::sqrt(1.5) - 0.1 * 2 / std::sqrt(1.0));
  }
  SECTION("a gradient equal to its average takes the largest step") {
    // β₁ = 0: m = g and (g − m)² = 0, so s = ε_r·(1 + β₂ + …) and the step
    // is lr·g/(√ŝ + ε) = lr·g/√ε_r on the first step.
    o.beta1 = S(0);
    o.eps_root = S(1.0 / 1024);
    descent::AdaBelief<S> surprised(o);
    auto y = vec2<S>(1, 1);
    // s = ε_r, ŝ = ε_r/(1 − β₂) = 2/1024: the step is 0.1·g/√(2/1024) = 0.1·√512·g.
    surprised.step(y, vec2<S>(0.25, -0.125));
    require_values(y, 1 - 0.1 * 0.25 * std::sqrt(512.0), 1 + 0.1 * 0.125 * std::sqrt(512.0));
  }
}
