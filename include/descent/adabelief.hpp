#pragma once
/// \file
/// AdaBelief: Adam whose second moment is that of the gradient's deviation
/// from its moving average.

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

/// \brief AdaBelief (Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes
/// by the Belief in Observed Gradients", arXiv:2010.07468, Algorithm 2):
/// Adam with the second moment of d − m, the gradient's surprise given its
/// average, in place of that of d. Where the gradient is as predicted the
/// step is large; where it keeps changing, small.
///
/// Inputs: lr (α), beta1 (β₁), beta2 (β₂), eps (ε), eps_root (ε_r),
/// weight_decay (λ), decoupled_weight_decay, maximize. State: m₀ = s₀ = 0.
/// Per step t = 1, 2, …:
///
///     d ← g  (−g with maximize)
///     d ← d + λ·θ  or, decoupled_weight_decay, θ ← (1 − lr·λ)·θ
///     m ← β₁·m + (1 − β₁)·d
///     s ← β₂·s + (1 − β₂)·(d − m)² + ε_r       (with the new m; ε_r is kept in s)
///     m̂ = m/(1 − β₁ᵗ),  ŝ = s/(1 − β₂ᵗ)
///     θ ← θ − lr·m̂/(√ŝ + ε)
///
/// The bias corrections are computed once per step in double, as
/// lr/(1 − β₁ᵗ) and 1/√(1 − β₂ᵗ), so m̂ and ŝ are never stored. This is
/// optax.adabelief's scale_by_belief, whose order it follows: ε_r is added to
/// the stored s every step, before the bias correction, and ε outside the
/// root. The defaults are optax's, and lr, which optax requires, is 0.001
/// (Adam's); optax notes that the paper's defaults are ε = 1e-8 and ε_r = 0,
/// which Options set field by field reproduce. optax's adabelief
/// has no weight decay; an L2 or decoupled decay here is the one every
/// descent optimizer has (optax's add_decayed_weights before scale_by_belief,
/// or between it and the learning rate). The lecture does not cover AdaBelief.
template <typename Scalar_>
class AdaBelief : public detail::OptimizerBase<AdaBelief<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<AdaBelief<Scalar_>, Scalar_>;
  friend Base;

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;

  /// \brief The hyperparameters, in the order declared; the constructor
  /// checks them.
  struct Options {
    /// Step size α; finite and >= 0. Default 0.001.
    Scalar lr = Scalar(0.001);
    /// Decay β₁ of the first-moment average; in [0, 1). Default 0.9.
    Scalar beta1 = Scalar(0.9);
    /// Decay β₂ of the average of (d − m)²; in [0, 1). Default 0.999.
    Scalar beta2 = Scalar(0.999);
    /// ε added to √ŝ; finite and >= 0. Default 1e-16.
    Scalar eps = Scalar(1e-16);
    /// ε_r added to s every step, before the bias correction; finite and
    /// >= 0. Default 1e-16.
    Scalar eps_root = Scalar(1e-16);
    /// L2 penalty λ added to the gradient as λ·θ; finite and >= 0. Default 0.
    Scalar weight_decay = Scalar(0);
    /// Apply weight decay as θ ← (1 − lr·λ)·θ before the step instead of
    /// adding λ·θ to the gradient. Default false.
    bool decoupled_weight_decay = false;
    /// Ascend instead of descend (d = −g). Default false.
    bool maximize = false;
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;

    /// optax.adabelief(learning_rate=0.001): the default-constructed Options.
    static Options optax() { return {}; }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit AdaBelief(Options options = {}) : Base(checked(options).lr), options_(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "AdaBelief";
  /// The class name, kName.
  std::string_view name() const noexcept override { return kName; }

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("beta1", o.beta1);
    f("beta2", o.beta2);
    f("eps", o.eps);
    f("eps_root", o.eps_root);
    detail::for_each_common_option(o, f);
  }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_unit_interval(kName, "beta1", o.beta1);
    detail::check_unit_interval(kName, "beta2", o.beta2);
    detail::check_nonnegative(kName, "eps", o.eps);
    detail::check_nonnegative(kName, "eps_root", o.eps_root);
    detail::check_common_options(kName, o);
    return o;
  }

  // First moment m and the second moment s of d − m (never negative).
  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.m_, &s.s_};
  }
  static constexpr std::array<detail::StateArray, 2> kStateArrays{
      {{"exp_avg", false}, {"exp_avg_var", true}}};

  void allocate_state(Index n) override {
    m_.setZero(n);
    s_.setZero(n);
  }
  void release_state() noexcept override {
    m_.resize(0);
    s_.resize(0);
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept override {
    const Options& o = options_;
    const double tt = double(t);
    const auto step_size =
        static_cast<Scalar>(double(this->lr()) / (1.0 - detail::power(double(o.beta1), tt)));
    const auto s_scale =
        static_cast<Scalar>(1.0 / std::sqrt(1.0 - detail::power(double(o.beta2), tt)));
    const Scalar beta1 = o.beta1, one_minus_beta1 = Scalar(1) - o.beta1;
    const Scalar beta2 = o.beta2, one_minus_beta2 = Scalar(1) - o.beta2;
    const Scalar eps = o.eps, eps_root = o.eps_root;
    const auto adjust = detail::GradientAdjust<Scalar>::from(o, this->lr());
    Scalar* m = m_.data();
    Scalar* s = s_.data();
    detail::with_flag(adjust.active(), [&](auto active) {
      this->for_each_element(n, [=](auto lanes, Index i) {
        using V = decltype(lanes);
        V xi = V::load(x + i);
        const V di = adjust.template operator()<active()>(V::load(g + i), xi);
        const V mi = V(beta1) * V::load(m + i) + V(one_minus_beta1) * di;
        const V ei = di - mi;
        const V si = V(beta2) * V::load(s + i) + V(one_minus_beta2) * (ei * ei) + V(eps_root);
        mi.store(m + i);
        si.store(s + i);
        (xi - V(step_size) * mi / (sqrt(si) * V(s_scale) + V(eps))).store(x + i);
      });
    });
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> m_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> s_;
};

}  // namespace descent
