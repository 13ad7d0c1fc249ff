#pragma once
/// \file
/// NAdam: Adam with Nesterov momentum and a momentum schedule.

#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/optimizer_base.hpp"
#include "nonfinite.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>

#include <Eigen/Core>

namespace descent {

/// \brief NAdam (Dozat 2016, "Incorporating Nesterov Momentum into Adam"):
/// Adam whose step looks ahead along the momentum, with the momentum
/// coefficient warmed up by a schedule μ_t.
///
/// Inputs: lr (α), beta1 (β₁), beta2 (β₂), eps (ε), momentum_decay (ψ),
/// pytorch_1_13, weight_decay (λ), decoupled_weight_decay, maximize. State:
/// m₀ = v₀ = 0, the product P₀ = 1. Per step t = 1, 2, …:
///
///     d ← g  (−g with maximize)
///     d ← d + λ·θ  or, decoupled_weight_decay, θ ← (1 − lr·λ)·θ
///     μ_t = β₁·(1 − ½·0.96^(t·ψ)),  μ_{t+1} = β₁·(1 − ½·0.96^((t+1)·ψ))
///     P_t = P_{t−1}·μ_t
///     P' = P_t·μ_{t+1}          (P_t·μ_t·μ_{t+1} with pytorch_1_13)
///     m ← β₁·m + (1 − β₁)·d
///     v ← β₂·v + (1 − β₂)·d²
///     θ ← θ − lr·((1 − μ_t)/(1 − P_t)·d + μ_{t+1}/(1 − P')·m) / (√(v/(1 − β₂ᵗ)) + ε)
///
/// The lecture does not cover NAdam; the defaults are torch.optim.NAdam's
/// (lr 0.002, ψ 0.004) with the paper's P'. The per-step coefficients are
/// computed once in double. P_t is state, saved in checkpoints as
/// `mu_product` (in [0, 1]); like PyTorch's, it multiplies in each step's μ_t
/// under that step's options.
///
/// torch.optim.NAdam in PyTorch 1.13 counts μ_t twice in P' (its pseudo-code
/// says P_t·μ_{t+1}; PyTorch 2.0 computes that), and keeps P_t in a float32
/// tensor whatever the parameters' dtype. pytorch_1_13 does both (rounding
/// P_t and P' to float moves a step by less than 1e-7 relative), and
/// Options::pytorch() sets it: with it this reproduces torch.optim.NAdam(lr,
/// betas, eps, weight_decay, momentum_decay) of PyTorch 1.13 to rounding.
/// Options::keras() reproduces keras.optimizers.Nadam, whose μ_t is
/// β₁·(1 − ½·0.96^t), i.e. ψ = 1.
template <typename Scalar_>
class NAdam : public detail::OptimizerBase<NAdam<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<NAdam<Scalar_>, Scalar_>;
  friend Base;

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;

  /// \brief The hyperparameters, each field with its default and valid
  /// range; the constructor checks them.
  struct Options {
    /// Step size α; finite and >= 0. Default 0.002.
    Scalar lr = Scalar(0.002);
    /// Decay β₁ of the first-moment average, and the scale of μ_t; in
    /// [0, 1). Default 0.9.
    Scalar beta1 = Scalar(0.9);
    /// Decay β₂ of the second-moment average; in [0, 1). Default 0.999.
    Scalar beta2 = Scalar(0.999);
    /// ε added to the root in the denominator; finite and >= 0. Default 1e-8.
    Scalar eps = Scalar(1e-8);
    /// ψ in the momentum schedule μ_t = β₁·(1 − ½·0.96^(t·ψ)); finite and
    /// >= 0. ψ = 0 makes μ_t = β₁/2 constant. Default 0.004.
    Scalar momentum_decay = Scalar(0.004);
    /// PyTorch 1.13's bookkeeping: μ_t counted twice in P', and P_t and P'
    /// rounded to float. Default false (the paper's P', in double).
    bool pytorch_1_13 = false;
    /// L2 penalty λ added to the gradient as λ·θ; finite and >= 0. Default 0.
    Scalar weight_decay = Scalar(0);
    /// Apply weight decay as θ ← (1 − lr·λ)·θ before the step instead of
    /// adding λ·θ to the gradient (Loshchilov & Hutter's decoupled form, as
    /// every Keras optimizer does). Default false.
    bool decoupled_weight_decay = false;
    /// Ascend instead of descend (d = −g). Default false.
    bool maximize = false;
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;

    /// torch.optim.NAdam() of PyTorch 1.13: the defaults with pytorch_1_13.
    static Options pytorch() {
      Options o;
      o.pytorch_1_13 = true;
      return o;
    }
    /// keras.optimizers.Nadam(): lr 0.001, eps 1e-7, ψ = 1, weight decay
    /// decoupled.
    static Options keras() {
      Options o;
      o.lr = Scalar(0.001);
      o.eps = Scalar(1e-7);
      o.momentum_decay = Scalar(1);
      o.decoupled_weight_decay = true;
      return o;
    }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit NAdam(Options options = {}) : Base(checked(options).lr), options_(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "NAdam";
  std::string_view name() const noexcept override { return kName; }

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("beta1", o.beta1);
    f("beta2", o.beta2);
    f("eps", o.eps);
    f("momentum_decay", o.momentum_decay);
    f("pytorch_1_13", o.pytorch_1_13);
    detail::for_each_common_option(o, f);
  }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_unit_interval(kName, "beta1", o.beta1);
    detail::check_unit_interval(kName, "beta2", o.beta2);
    detail::check_nonnegative(kName, "eps", o.eps);
    detail::check_nonnegative(kName, "momentum_decay", o.momentum_decay);
    detail::check_common_options(kName, o);
    return o;
  }

  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.m_, &s.v_};
  }
  static constexpr std::array<detail::StateArray, 2> kStateArrays{
      {{"exp_avg", false}, {"exp_avg_sq", true}}};
  template <typename Self>
  static auto state_values(Self& s) {
    return std::array{&s.product_};
  }
  static constexpr std::array<detail::StateValue, 1> kStateValues{{{"mu_product", 0.0, 1.0}}};

  void allocate_state(Index n) override {
    m_.setZero(n);
    v_.setZero(n);
  }
  void release_state() noexcept override {
    m_.resize(0);
    v_.resize(0);
    product_ = 1.0;
  }

  /// μ_t, in double as PyTorch forms it (t in double: t + 1 at the last
  /// step count is 2^63). detail::power is std::pow, remembered: a step's
  /// μ_{t+1} is the next step's μ_t.
  static double mu(const Options& o, double t) {
    return double(o.beta1) * (1.0 - 0.5 * detail::power(0.96, t * double(o.momentum_decay)));
  }

  /// p·μ, in float (as PyTorch 1.13) or in double.
  static double times(double p, double mu, bool in_float) {
    return in_float ? double(least_or_product(static_cast<float>(p), static_cast<float>(mu)))
                    : least_or_product(p, mu);
  }

  /// p·μ. The running product of μ > 0.5 comes down to the least subnormal
  /// and stays there, its product with μ rounding back to it; x86 multiplies
  /// subnormals in microcode, 100 cycles and more, which made every step
  /// after the ~900th cost three of them. That fixed point is returned
  /// without the multiply, the same bits.
  template <typename T>
  static T least_or_product(T p, T mu) {
    constexpr T kLeast = std::numeric_limits<T>::denorm_min();
    if (p == kLeast && mu > T(0.5) && mu < T(1.5)) return kLeast;
    return p * mu;
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept override {
    const Options& o = options_;
    product_ = times(product_, mu(o, double(t)), o.pytorch_1_13);  // P_t, as PyTorch's mu_product
    const double lr = double(this->lr());
    const double mu_t = mu(o, double(t)), mu_next = mu(o, double(t) + 1.0);
    const double product = product_;
    const double product_next = o.pytorch_1_13 ? times(times(product, mu_t, true), mu_next, true)
                                               : times(product, mu_next, false);
    const auto grad_coefficient = static_cast<Scalar>(lr * (1.0 - mu_t) / (1.0 - product));
    const auto m_coefficient = static_cast<Scalar>(lr * mu_next / (1.0 - product_next));
    const auto v_scale =
        static_cast<Scalar>(1.0 / std::sqrt(1.0 - detail::power(double(o.beta2), double(t))));
    const Scalar beta1 = o.beta1, one_minus_beta1 = Scalar(1) - o.beta1;
    const Scalar beta2 = o.beta2, one_minus_beta2 = Scalar(1) - o.beta2;
    const Scalar eps = o.eps;
    const auto adjust = detail::GradientAdjust<Scalar>::from(o, this->lr());
    Scalar* m = m_.data();
    Scalar* v = v_.data();
    detail::with_flag(adjust.active(), [&](auto active) {
      this->for_each_element(n, [=](auto lanes, Index i) {
        using V = decltype(lanes);
        V xi = V::load(x + i);
        const V di = adjust.template operator()<active()>(V::load(g + i), xi);
        const V mi = V(beta1) * V::load(m + i) + V(one_minus_beta1) * di;
        const V vi = V(beta2) * V::load(v + i) + V(one_minus_beta2) * di * di;
        mi.store(m + i);
        vi.store(v + i);
        const V denom = sqrt(vi) * V(v_scale) + V(eps);
        (xi - (V(grad_coefficient) * di + V(m_coefficient) * mi) / denom).store(x + i);
      });
    });
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> m_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> v_;
  // P_t: μ_1 ⋯ μ_t, kept in checkpoints (its factors depend on the options
  // of each past step, as in PyTorch's state['mu_product']).
  double product_ = 1.0;
};

}  // namespace descent
