#pragma once
/// \file
/// RAdam: Adam whose adaptive step is switched on, and rectified, once the
/// variance of its second-moment estimate is tractable.

#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/optimizer_base.hpp"
#include "nonfinite.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <string_view>

#include <Eigen/Core>

namespace descent {

/// \brief RAdam (Liu et al. 2020, "On the Variance of the Adaptive Learning
/// Rate and Beyond", arXiv:1908.03265): Adam with a variance rectification
/// term r_t; while the length ρ_t of the approximated simple moving average
/// is at most a threshold, it steps along the bias-corrected momentum alone.
///
/// Inputs: lr (α), beta1 (β₁), beta2 (β₂), eps (ε), threshold (ρ̲),
/// weight_decay (λ), decoupled_weight_decay, maximize. State: m₀ = v₀ = 0;
/// ρ_∞ = 2/(1 − β₂) − 1. Per step t = 1, 2, …:
///
///     d ← g  (−g with maximize)
///     d ← d + λ·θ  or, decoupled_weight_decay, θ ← (1 − lr·λ)·θ
///     m ← β₁·m + (1 − β₁)·d
///     v ← β₂·v + (1 − β₂)·d²
///     m̂ = m/(1 − β₁ᵗ)
///     ρ_t = ρ_∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)
///     if ρ_t > ρ̲:
///         r_t = √((ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t))
///         θ ← θ − lr·r_t·√(1 − β₂ᵗ)·m̂ / (√v + ε)
///     else:
///         θ ← θ − lr·m̂
///
/// ρ_t, r_t and the step's two coefficients are computed once per step in
/// double, so both branches are one pass of the same kernel shape (the
/// first without the root). The lecture does not cover RAdam; the defaults
/// are torch.optim.RAdam's (lr 0.001, threshold 5, which PyTorch fixes), and
/// this reproduces torch.optim.RAdam(lr, betas, eps, weight_decay) of
/// PyTorch 1.13 to rounding. The paper's Algorithm 2 switches at ρ_t > 4,
/// where r_t becomes real: threshold = 4 gives that. With ρ_∞ <= threshold
/// (β₂ <= 0.6 for the default 5) no step is ever rectified and RAdam is SGD
/// on Adam's bias-corrected momentum.
template <typename Scalar_>
class RAdam : public detail::OptimizerBase<RAdam<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<RAdam<Scalar_>, Scalar_>;
  friend Base;

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;

  /// \brief The hyperparameters, each field with its default and valid
  /// range; the constructor checks them.
  struct Options {
    /// Step size α; finite and >= 0. Default 0.001.
    Scalar lr = Scalar(0.001);
    /// Decay β₁ of the first-moment average; in [0, 1). Default 0.9.
    Scalar beta1 = Scalar(0.9);
    /// Decay β₂ of the second-moment average; in [0, 1). Default 0.999.
    Scalar beta2 = Scalar(0.999);
    /// ε added to the root in the denominator; finite and >= 0. Default 1e-8.
    Scalar eps = Scalar(1e-8);
    /// The adaptive, rectified step is taken once ρ_t > threshold; finite
    /// and >= 4 (below 4, r_t is not real). Default 5 (PyTorch's).
    Scalar threshold = Scalar(5);
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

    /// torch.optim.RAdam(): lr 0.001, betas (0.9, 0.999), eps 1e-8,
    /// threshold 5 (the default-constructed Options).
    static Options pytorch() { return {}; }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit RAdam(Options options = {}) : Base(checked(options).lr), options_(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "RAdam";
  std::string_view name() const noexcept override { return kName; }

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("beta1", o.beta1);
    f("beta2", o.beta2);
    f("eps", o.eps);
    f("threshold", o.threshold);
    detail::for_each_common_option(o, f);
  }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_unit_interval(kName, "beta1", o.beta1);
    detail::check_unit_interval(kName, "beta2", o.beta2);
    detail::check_nonnegative(kName, "eps", o.eps);
    if (!(o.threshold >= Scalar(4)) || !std::isfinite(o.threshold)) {
      detail::throw_invalid(kName, "threshold", "finite and >= 4", o.threshold);
    }
    detail::check_common_options(kName, o);
    return o;
  }

  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.m_, &s.v_};
  }
  static constexpr std::array<detail::StateArray, 2> kStateArrays{
      {{"exp_avg", false}, {"exp_avg_sq", true}}};

  void allocate_state(Index n) override {
    m_.setZero(n);
    v_.setZero(n);
  }
  void release_state() noexcept override {
    m_.resize(0);
    v_.resize(0);
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept override {
    const Options& o = options_;
    const double lr = double(this->lr());
    const double beta2_t = detail::power(double(o.beta2), double(t));
    const double bias1 = 1.0 - detail::power(double(o.beta1), double(t));
    const double bias2 = 1.0 - beta2_t;
    const double rho_inf = 2.0 / (1.0 - double(o.beta2)) - 1.0;
    const double rho_t = rho_inf - 2.0 * double(t) * beta2_t / bias2;
    const bool rectified = rho_t > double(o.threshold);
    // θ ← θ − step_size·m / (√v + ε), or θ ← θ − step_size·m.
    double step_size = lr / bias1;
    if (rectified) {
      const double r = std::sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf /
                                 ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t));
      step_size *= r * std::sqrt(bias2);
    }
    const auto a = static_cast<Scalar>(step_size);
    const Scalar beta1 = o.beta1, one_minus_beta1 = Scalar(1) - o.beta1;
    const Scalar beta2 = o.beta2, one_minus_beta2 = Scalar(1) - o.beta2;
    const Scalar eps = o.eps;
    const auto adjust = detail::GradientAdjust<Scalar>::from(o, this->lr());
    Scalar* m = m_.data();
    Scalar* v = v_.data();
    detail::with_flag(adjust.active(), [&](auto active) {
      detail::with_flag(rectified, [&](auto adaptive) {
        this->for_each_element(n, [=](auto lanes, Index i) {
          using V = decltype(lanes);
          V xi = V::load(x + i);
          const V di = adjust.template operator()<active()>(V::load(g + i), xi);
          const V mi = V(beta1) * V::load(m + i) + V(one_minus_beta1) * di;
          const V vi = V(beta2) * V::load(v + i) + V(one_minus_beta2) * di * di;
          mi.store(m + i);
          vi.store(v + i);
          if constexpr (adaptive()) {
            (xi - V(a) * mi / (sqrt(vi) + V(eps))).store(x + i);
          } else {
            (xi - V(a) * mi).store(x + i);
          }
        });
      });
    });
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> m_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> v_;
};

}  // namespace descent
