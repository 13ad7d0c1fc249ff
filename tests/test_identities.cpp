// Identities between optimizers: special cases of one that are another.

#include "support.hpp"

#include <cmath>

#include <descent/descent.hpp>

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
    auto sgd = support::with_options<descent::SGD<S>>([&](auto& o) {
      o.lr = S(0.05);
      o.momentum = S(0);
      o.nesterov = nesterov;
    });
    auto gd = support::with_options<descent::GradientDescent<S>>([](auto& o) { o.lr = S(0.05); });
    const auto [x, y] = run_both<S>(sgd, gd);
    CHECK(support::bitwise_equal(x, y));
  }
}

TEMPLATE_TEST_CASE("identity: Momentum with beta 0 is GradientDescent", "[identity]", float,
                   double) {
  // Equal in exact arithmetic; bit for bit too unless the compiler contracts
  // x − a·g into one fused multiply-add in one kernel and not the other.
  using S = TestType;
  auto momentum = support::with_options<descent::Momentum<S>>([](auto& o) {
    o.lr = S(0.05);
    o.beta = S(0);
  });
  auto gd = support::with_options<descent::GradientDescent<S>>([](auto& o) { o.lr = S(0.05); });
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
    auto momentum = support::with_options<descent::Momentum<S>>([&](auto& o) {
      o.lr = lr;
      o.beta = beta;
    });
    auto sgd = support::with_options<descent::SGD<S>>([&](auto& o) {
      o.lr = keras_lr;
      o.momentum = beta;
      o.nesterov = false;
    });
    const auto [x, y] = run_both<S>(momentum, sgd);
    CHECK(support::bitwise_equal(x, y));
  }
  SECTION("Nesterov") {
    auto nesterov = support::with_options<descent::Nesterov<S>>([&](auto& o) {
      o.lr = lr;
      o.beta = beta;
    });
    auto sgd = support::with_options<descent::SGD<S>>([&](auto& o) {
      o.lr = keras_lr;
      o.momentum = beta;
      o.nesterov = true;
    });
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
    auto adam = support::with_options<descent::Adam<S>>([&](auto& o) {
      o.lr = lr;
      o.beta1 = S(0);
      o.beta2 = rho;
      o.eps = S(0);
      o.eps_placement = p;
    });
    auto rmsprop = support::with_options<descent::RMSprop<S>>([&](auto& o) {
      o.lr = lr;
      o.rho = rho;
      o.eps = S(0);
      o.eps_placement = p;
    });
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
  auto adagrad = support::with_options<descent::AdaGrad<S>>([](auto& o) { o.lr = S(0); });
  auto rmsprop = support::with_options<descent::RMSprop<S>>([](auto& o) { o.lr = S(0); });
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
  auto gd = support::with_options<descent::GradientDescent<S>>([](auto& o) { o.lr = S(1); });
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

TEMPLATE_TEST_CASE("identity: maximize fed -g is the plain optimizer fed g, bit for bit",
                   "[identity][variants]", float, double) {
  using S = TestType;
  const Bowl<S> bowl(kSize);
  const auto check = [&](auto plain, auto options) {
    options.maximize = true;
    decltype(plain) ascent(options);
    Vec<S> x = bowl.start();
    Vec<S> y = x;
    for (int t = 0; t < kSteps; ++t) {
      plain.step(x, bowl.grad(x));
      ascent.step(y, Vec<S>(-bowl.grad(y)));
    }
    INFO(plain.name());
    CHECK(support::bitwise_equal(x, y));
    CHECK(support::max_rel_error(x, bowl.start(), 1e-3) > 1e-2);
  };
  const auto gd = support::options<descent::GradientDescent<S>>([](auto& o) { o.lr = S(0.05); });
  check(descent::GradientDescent<S>(gd), gd);
  check(descent::Nesterov<S>(), typename descent::Nesterov<S>::Options{});
  auto sgd = descent::SGD<S>::Options::pytorch();
  sgd.momentum = S(0.9);
  check(descent::SGD<S>(sgd), sgd);
  check(descent::AdaGrad<S>(), typename descent::AdaGrad<S>::Options{});
  auto rmsprop = descent::RMSprop<S>::Options::pytorch();
  rmsprop.centered = true;
  rmsprop.momentum = S(0.5);
  check(descent::RMSprop<S>(rmsprop), rmsprop);
  auto adam = descent::Adam<S>::Options::keras();
  adam.amsgrad = true;
  check(descent::Adam<S>(adam), adam);
}

TEMPLATE_TEST_CASE("identity: AdamW is Adam with decoupled weight decay, bit for bit",
                   "[identity][variants]", float, double) {
  using S = TestType;
  descent::AdamW<S> adamw;
  auto o = descent::Adam<S>::Options::pytorch();
  o.weight_decay = S(0.01);
  o.decoupled_weight_decay = true;
  descent::Adam<S> adam(o);
  const auto [x, y] = run_both<S>(adamw, adam);
  CHECK(support::bitwise_equal(x, y));
  CHECK(std::string(adamw.name()) == "AdamW");
}

TEMPLATE_TEST_CASE("identity: PyTorch's and Keras's SGD buffers agree while lr is constant",
                   "[identity][variants]", float, double) {
  // v = −lr·b at every step: the iterates agree up to rounding. Once lr
  // changes they part (torch_variants checks each against PyTorch).
  using S = TestType;
  for (const bool nesterov : {false, true}) {
    auto o = descent::SGD<S>::Options::pytorch();
    o.lr = S(0.05);
    o.momentum = S(0.9);
    o.nesterov = nesterov;
    descent::SGD<S> torch_form(o);
    o.momentum_form = descent::MomentumForm::Keras;
    descent::SGD<S> keras_form(o);
    const auto [x, y] = run_both<S>(torch_form, keras_form);
    CHECK(support::max_rel_error(x, y, 1.0) <= support::trajectory_tol<S>());
  }
}

TEMPLATE_TEST_CASE("identity: weight decay lambda is the gradient of (lambda/2)|x|^2 added",
                   "[identity][variants]", float, double) {
  // d = g + λ·x, formed in the kernel, against the same sum formed outside.
  using S = TestType;
  const S lambda = S(0.1);
  const Bowl<S> bowl(kSize);
  auto o = descent::RMSprop<S>::Options::pytorch();
  o.momentum = S(0.5);
  descent::RMSprop<S> plain(o);
  o.weight_decay = lambda;
  descent::RMSprop<S> decayed(o);
  Vec<S> x = bowl.start();
  Vec<S> y = x;
  for (int t = 0; t < kSteps; ++t) {
    plain.step(x, Vec<S>(bowl.grad(x) + lambda * x));
    decayed.step(y, bowl.grad(y));
  }
  CHECK(support::bitwise_equal(x, y));
}

TEMPLATE_TEST_CASE("identity: Adam's EpsHat is OutsideSqrt with eps/sqrt(1 - beta2^t)",
                   "[identity][variants]", float, double) {
  // Keras's ε̂ form, step by step: the same iterates as PyTorch's form whose
  // ε is rescaled each step (equal in exact arithmetic).
  using S = TestType;
  const Bowl<S> bowl(kSize);
  auto hat = descent::Adam<S>::Options::keras();
  hat.lr = S(0.01);
  hat.eps = S(1e-3);  // large enough to matter
  descent::Adam<S> keras(hat);
  Vec<S> x = bowl.start();
  Vec<S> y = x;
  Eigen::Matrix<S, Eigen::Dynamic, 1> m = Vec<S>::Zero(kSize), v = Vec<S>::Zero(kSize);
  for (int t = 1; t <= kSteps; ++t) {
    // One step of OutsideSqrt Adam with eps_t = ε̂/√(1 − β₂ᵗ), written out.
    auto o = descent::Adam<S>::Options::pytorch();
    o.lr = hat.lr;
    o.eps = static_cast<S>(double(hat.eps) / std::sqrt(1 - std::pow(double(hat.beta2), t)));
    keras.step(x, bowl.grad(x));
    const Vec<S> g = bowl.grad(y);
    m = hat.beta1 * m + (1 - hat.beta1) * g;
    v = hat.beta2 * v + (1 - hat.beta2) * g.cwiseProduct(g);
    const double bias1 = 1 - std::pow(double(hat.beta1), t);
    const double bias2 = 1 - std::pow(double(hat.beta2), t);
    const Vec<S> denom = (v.array().sqrt() / static_cast<S>(std::sqrt(bias2)) + o.eps).matrix();
    y -= static_cast<S>(double(o.lr) / bias1) * m.cwiseQuotient(denom);
  }
  CHECK(support::max_rel_error(x, y, 1.0) <= support::trajectory_tol<S>());
  CHECK(support::max_rel_error(x, bowl.start(), 1e-3) > 1e-2);
}

// torch.optim's other optimizers: the special cases that are another
// optimizer.

TEMPLATE_TEST_CASE("identity: NAdam with beta1 0 is Adam with beta1 0 (eps outside the root)",
                   "[identity][nadam]", float, double) {
  // μ_t = 0, so the product is 0, the gradient's coefficient lr and the
  // momentum's 0: θ ← θ − lr·d/(√v̂ + ε), Adam's step with m = d.
  using S = TestType;
  for (const bool pytorch_1_13 : {false, true}) {
    typename descent::NAdam<S>::Options o;
    o.lr = S(0.01);
    o.beta1 = S(0);
    o.pytorch_1_13 = pytorch_1_13;
    descent::NAdam<S> nadam(o);
    auto a = descent::Adam<S>::Options::pytorch();
    a.lr = S(0.01);
    a.beta1 = S(0);
    descent::Adam<S> adam(a);
    const auto [x, y] = run_both<S>(nadam, adam);
    CHECK(support::max_rel_error(x, y, 1.0) <= support::trajectory_tol<S>());
  }
}

TEMPLATE_TEST_CASE("identity: RAdam with beta1 0, never rectified, is GradientDescent, bit for bit",
                   "[identity][radam]", float, double) {
  // β₂ = 0.5: ρ_∞ = 3 is below any threshold, so every step is lr·m̂ = lr·d.
  using S = TestType;
  typename descent::RAdam<S>::Options o;
  o.lr = S(0.05);
  o.beta1 = S(0);
  o.beta2 = S(0.5);
  descent::RAdam<S> radam(o);
  descent::GradientDescent<S> gd({S(0.05)});
  const auto [x, y] = run_both<S>(radam, gd);
  CHECK(support::bitwise_equal(x, y));
}

TEMPLATE_TEST_CASE("identity: Adadelta with rho 1 is GradientDescent, bit for bit",
                   "[identity][adadelta]", float, double) {
  // ρ = 1 keeps v = u = 0, so Δ = √ε/√ε·d = d.
  using S = TestType;
  typename descent::Adadelta<S>::Options o;
  o.lr = S(0.05);
  o.rho = S(1);
  descent::Adadelta<S> adadelta(o);
  descent::GradientDescent<S> gd({S(0.05)});
  const auto [x, y] = run_both<S>(adadelta, gd);
  CHECK(support::bitwise_equal(x, y));
}

TEMPLATE_TEST_CASE("identity: ASGD with lambd 0 is GradientDescent at float(lr), and averages",
                   "[identity][asgd]", float, double) {
  // λ_a = 0: η = float(lr) every step and nothing shrinks θ. With t₀ = 0,
  // μ_t = 1/max(1, t − 1), so ā after step t is the mean of θ₂ … θ_t, up
  // to μ_t being rounded to float (as PyTorch does): 6e-8 relative a step.
  using S = TestType;
  typename descent::ASGD<S>::Options o;
  o.lr = S(0.05);
  o.lambd = S(0);
  o.t0 = S(0);
  descent::ASGD<S> asgd(o);
  descent::GradientDescent<S> gd({static_cast<S>(static_cast<float>(0.05))});
  const Bowl<S> bowl(kSize);
  Vec<S> x = bowl.start();
  Vec<S> y = x;
  Eigen::Matrix<double, Eigen::Dynamic, 1> sum = Eigen::VectorXd::Zero(kSize);
  for (int t = 1; t <= kSteps; ++t) {
    asgd.step(x, bowl.grad(x));
    gd.step(y, bowl.grad(y));
    if (t >= 2) sum += x.template cast<double>();
  }
  CHECK(support::max_rel_error(x, y, 1.0) <= support::trajectory_tol<S>());
  const Eigen::VectorXd mean = sum / double(kSteps - 1);
  CHECK(support::max_rel_error(asgd.averaged().template cast<double>(), mean, 1.0) <= 1e-6);
  CHECK(support::max_rel_error(mean, x.template cast<double>(), 1.0) > 1e-3);  // ā is not θ
}

TEMPLATE_TEST_CASE("identity: Lion with beta1 = beta2 = 0 is signSGD, bit for bit",
                   "[identity][lion]", float, double) {
  // c = 0·m + 1·d = d, so θ ← θ − lr·sign(d), whatever m holds; lr·sign(d)
  // is exact, so a plain loop gives the same bits. Sizes that hit every
  // packet tail, on the bowl and with gradients of exactly 0 (sign 0: the
  // coordinate stays).
  using S = TestType;
  for (const Eigen::Index n : support::tail_sizes()) {
    typename descent::Lion<S>::Options o;
    o.lr = S(0.05);
    o.beta1 = S(0);
    o.beta2 = S(0);
    descent::Lion<S> lion(o);
    const Bowl<S> bowl(n);
    Vec<S> x = bowl.start();
    Vec<S> y = x;
    for (int t = 0; t < 50; ++t) {
      Vec<S> g = bowl.grad(x);
      for (Eigen::Index i = 0; i < n; i += 5) g(i) = S(0);
      lion.step(x, g);
      for (Eigen::Index i = 0; i < n; ++i) {
        const S s = g(i) > S(0) ? S(1) : g(i) < S(0) ? S(-1) : S(0);
        y(i) = y(i) - S(0.05) * s;
      }
    }
    INFO("n = " << n);
    CHECK(support::bitwise_equal(x, y));
    for (Eigen::Index i = 0; i < n; i += 5) CHECK(x(i) == bowl.start()(i));
  }
}

TEMPLATE_TEST_CASE("identity: Lion moves every coordinate by exactly lr (no decay)",
                   "[identity][lion]", float, double) {
  // |Δθ| = lr·|sign(c)| ∈ {0, lr}: with θ and lr powers of two the steps are
  // exact, so after any number of steps each coordinate is a multiple of lr
  // away from its start, and no further than steps·lr.
  using S = TestType;
  typename descent::Lion<S>::Options o;
  o.lr = S(0.0625);
  descent::Lion<S> lion(o);
  const Bowl<S> bowl(kSize);
  Vec<S> x = Vec<S>::Constant(kSize, S(1));
  for (int t = 0; t < 40; ++t) lion.step(x, bowl.grad(x));
  for (Eigen::Index i = 0; i < kSize; ++i) {
    const double moved = (1.0 - double(x(i))) / 0.0625;
    INFO("x(" << i << ") = " << x(i));
    CHECK(moved == std::round(moved));
    CHECK(std::abs(moved) <= 40);
  }
  CHECK(!(x == Vec<S>::Constant(kSize, S(1))));
}

TEMPLATE_TEST_CASE(
    "identity: AdaBelief with beta1 0 is GradientDescent at lr/sqrt(eps_root/(1 - beta2))",
    "[identity][adabelief]", float, double) {
  // β₁ = 0: m = d, so d − m = 0 and s = ε_r·(1 + β₂ + … + β₂ᵗ⁻¹); its bias
  // correction ŝ = s/(1 − β₂ᵗ) = ε_r/(1 − β₂) at every step. With ε = 0 and
  // ε_r/(1 − β₂) = 1/16, every step is d/(1/4): GradientDescent at 4·lr.
  using S = TestType;
  typename descent::AdaBelief<S>::Options o;
  o.lr = S(0.0125);
  o.beta1 = S(0);
  o.beta2 = S(0.5);
  o.eps = S(0);
  o.eps_root = S(1.0 / 32);
  descent::AdaBelief<S> adabelief(o);
  descent::GradientDescent<S> gd({S(0.05)});
  const auto [x, y] = run_both<S>(adabelief, gd);
  CHECK(support::max_rel_error(x, y, 1e-3) <= (std::is_same<S, float>::value ? 1e-5 : 1e-12));
}

TEMPLATE_TEST_CASE(
    "identity: Lion and AdaBelief (eps = eps_root = 0) ignore a power-of-two "
    "scale of the gradient, bit for bit",
    "[identity][lion][adabelief]", float, double) {
  // Scaling g by 4 scales m by 4 and s by 16 exactly, so sign(c) and
  // m/√s are the same bits: both are invariant to the gradient's scale.
  using S = TestType;
  const Bowl<S> bowl(kSize);
  const auto check = [&](auto a, auto b) {
    Vec<S> x = bowl.start();
    Vec<S> y = x;
    for (int t = 0; t < kSteps; ++t) {
      a.step(x, bowl.grad(x));
      b.step(y, Vec<S>(S(4) * bowl.grad(y)));
    }
    CHECK(support::bitwise_equal(x, y));
    CHECK(!(x == bowl.start()));
  };
  typename descent::Lion<S>::Options lion;
  lion.lr = S(0.01);
  check(descent::Lion<S>(lion), descent::Lion<S>(lion));
  typename descent::AdaBelief<S>::Options adabelief;
  adabelief.lr = S(0.01);
  adabelief.eps = S(0);
  adabelief.eps_root = S(0);
  check(descent::AdaBelief<S>(adabelief), descent::AdaBelief<S>(adabelief));
}
