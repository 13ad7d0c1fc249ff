#pragma once
/// \file
/// Adamax: Adam with the infinity norm in place of the second moment.

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

/// \brief Adamax (Kingma & Ba, arXiv:1412.6980, section 7.1): Adam whose
/// second moment is replaced by an exponentially weighted infinity norm,
/// which needs no bias correction and no square root.
///
/// Inputs: lr (α), beta1 (β₁), beta2 (β₂), eps (ε), eps_in_norm,
/// weight_decay (λ), decoupled_weight_decay, maximize. State: m₀ = u₀ = 0.
/// Per step t = 1, 2, …:
///
///     d ← g  (−g with maximize)
///     d ← d + λ·θ  or, decoupled_weight_decay, θ ← (1 − lr·λ)·θ
///     m ← β₁·m + (1 − β₁)·d
///     u ← max(β₂·u, |d| + ε);  θ ← θ − (lr/(1 − β₁ᵗ))·m / u        (eps_in_norm)
///     u ← max(β₂·u, |d|);      θ ← θ − (lr/(1 − β₁ᵗ))·m / (u + ε)  (otherwise)
///
/// lr/(1 − β₁ᵗ) is computed once per step in double. The lecture does not
/// cover Adamax; the defaults are torch.optim.Adamax's (lr 0.002), and this
/// reproduces torch.optim.Adamax(lr, betas, eps, weight_decay, maximize) to
/// rounding. By default ε enters inside the maximum, as PyTorch puts it;
/// Keras adds it to u in the denominator, and Options::keras() (eps_in_norm
/// false) reproduces keras.optimizers.Adamax. Either way, with ε > 0 the
/// division is safe from the first step and a coordinate whose gradients
/// are all zero is left alone.
template <typename Scalar_>
class Adamax : public detail::OptimizerBase<Adamax<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<Adamax<Scalar_>, Scalar_>;
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
    /// Decay β₁ of the first-moment average; in [0, 1). Default 0.9.
    Scalar beta1 = Scalar(0.9);
    /// Decay β₂ of the infinity norm; in [0, 1). Default 0.999.
    Scalar beta2 = Scalar(0.999);
    /// ε in the denominator; finite and >= 0. Default 1e-8.
    Scalar eps = Scalar(1e-8);
    /// Add ε to |d| inside the maximum (PyTorch's form) rather than to u in
    /// the denominator (Keras's). Default true.
    bool eps_in_norm = true;
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

    /// torch.optim.Adamax(): lr 0.002, betas (0.9, 0.999), eps 1e-8 (the
    /// default-constructed Options).
    static Options pytorch() { return {}; }
    /// keras.optimizers.Adamax(): lr 0.001, eps 1e-7 added to u in the
    /// denominator, weight decay decoupled.
    static Options keras() {
      Options o;
      o.lr = Scalar(0.001);
      o.eps = Scalar(1e-7);
      o.eps_in_norm = false;
      o.decoupled_weight_decay = true;
      return o;
    }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit Adamax(Options options = {}) : Base(checked(options).lr), options_(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "Adamax";
  std::string_view name() const noexcept override { return kName; }

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("beta1", o.beta1);
    f("beta2", o.beta2);
    f("eps", o.eps);
    f("eps_in_norm", o.eps_in_norm);
    detail::for_each_common_option(o, f);
  }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_unit_interval(kName, "beta1", o.beta1);
    detail::check_unit_interval(kName, "beta2", o.beta2);
    detail::check_nonnegative(kName, "eps", o.eps);
    detail::check_common_options(kName, o);
    return o;
  }

  // First moment m, infinity norm u (a maximum of absolute values, so never
  // negative).
  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.m_, &s.u_};
  }
  static constexpr std::array<detail::StateArray, 2> kStateArrays{
      {{"exp_avg", false}, {"exp_inf", true}}};

  void allocate_state(Index n) override {
    m_.setZero(n);
    u_.setZero(n);
  }
  void release_state() noexcept override {
    m_.resize(0);
    u_.resize(0);
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept override {
    const Options& o = options_;
    const auto step_size =
        static_cast<Scalar>(double(this->lr()) / (1.0 - detail::power(double(o.beta1), double(t))));
    const Scalar beta1 = o.beta1, one_minus_beta1 = Scalar(1) - o.beta1;
    const Scalar beta2 = o.beta2, eps = o.eps;
    const auto adjust = detail::GradientAdjust<Scalar>::from(o, this->lr());
    Scalar* m = m_.data();
    Scalar* u = u_.data();
    detail::with_flag(adjust.active(), [&](auto active) {
      detail::with_flag(o.eps_in_norm, [&](auto in_norm) {
        this->for_each_element(n, [=](auto lanes, Index i) {
          using V = decltype(lanes);
          V xi = V::load(x + i);
          const V di = adjust.template operator()<active()>(V::load(g + i), xi);
          const V mi = V(beta1) * V::load(m + i) + V(one_minus_beta1) * di;
          mi.store(m + i);
          // |d| second, so that a NaN in d reaches u (max returns its second
          // operand when either is NaN).
          if constexpr (in_norm()) {
            const V ui = max(V(beta2) * V::load(u + i), abs(di) + V(eps));
            ui.store(u + i);
            (xi - V(step_size) * mi / ui).store(x + i);
          } else {
            const V ui = max(V(beta2) * V::load(u + i), abs(di));
            ui.store(u + i);
            (xi - V(step_size) * mi / (ui + V(eps))).store(x + i);
          }
        });
      });
    });
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> m_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> u_;
};

}  // namespace descent
