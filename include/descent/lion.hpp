#pragma once
/// \file
/// Lion: the sign of an interpolated momentum, with decoupled weight decay.

#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/optimizer_base.hpp"
#include "nonfinite.hpp"

#include <array>
#include <cstdint>
#include <string_view>

#include <Eigen/Core>

namespace descent {

/// \brief Lion (Chen et al., "Symbolic Discovery of Optimization Algorithms",
/// arXiv:2302.06675, Program 1): every coordinate moves by ±lr, the sign of
/// an interpolation between the momentum and the gradient; the momentum is
/// then updated with a second, slower rate. One state array, the momentum.
///
/// Inputs: lr (α), beta1 (β₁), beta2 (β₂), weight_decay (λ),
/// decoupled_weight_decay, maximize. State: m₀ = 0. Per step t = 1, 2, …:
///
///     d ← g  (−g with maximize)
///     θ ← (1 − lr·λ)·θ  (decoupled_weight_decay, the default)
///       or d ← d + λ·θ  (otherwise)
///     c ← β₁·m + (1 − β₁)·d
///     θ ← θ − lr·sign(c)           sign(0) = 0, sign(NaN) = NaN
///     m ← β₂·m + (1 − β₂)·d
///
/// With the decay decoupled this is θ ← θ − lr·(sign(c) + λ·θ), the paper's
/// and optax.lion's update, and keras.optimizers.Lion's (which decays θ
/// before its update_step). With β₁ = β₂ = 0 it is signSGD,
/// θ ← θ − lr·sign(g); with β₁ = 1 the step uses the momentum alone.
///
/// The lecture does not cover Lion. The defaults are optax.lion's but for
/// lr, which optax requires and descent sets to 1e-4 (the paper advises an lr
/// 3–10 times smaller than AdamW's), and weight_decay, 0 as in descent's
/// optimizers but AdamW. Options::optax() adds optax's λ = 1e-3;
/// Options::keras() reproduces keras.optimizers.Lion (lr 0.001, no decay).
/// optax's mu_dtype (a lower-precision momentum) has no counterpart: m is
/// kept in Scalar.
template <typename Scalar_>
class Lion : public detail::OptimizerBase<Lion<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<Lion<Scalar_>, Scalar_>;
  friend Base;

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;

  /// \brief The hyperparameters, in the order declared; the constructor
  /// checks them.
  struct Options {
    /// Step size α, the magnitude of every coordinate's move; finite and
    /// >= 0. Default 1e-4.
    Scalar lr = Scalar(1e-4);
    /// Weight β₁ of the momentum in the interpolation whose sign is the
    /// step; in [0, 1]. Default 0.9.
    Scalar beta1 = Scalar(0.9);
    /// Decay β₂ of the momentum; in [0, 1]. Default 0.99.
    Scalar beta2 = Scalar(0.99);
    /// Weight decay λ; finite and >= 0. Default 0.
    Scalar weight_decay = Scalar(0);
    /// Decay θ by (1 − lr·λ) before the step (the paper's, optax's and
    /// Keras's form) rather than adding λ·θ to the gradient. Default true.
    bool decoupled_weight_decay = true;
    /// Ascend instead of descend (d = −g). Default false.
    bool maximize = false;
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;

    /// optax.lion(learning_rate): its default weight_decay 1e-3 (decoupled);
    /// lr stays at 1e-4, since optax has no default.
    static Options optax() {
      Options o;
      o.weight_decay = Scalar(1e-3);
      return o;
    }
    /// keras.optimizers.Lion(): lr 0.001, no weight decay (decoupled when
    /// set, as every Keras optimizer's).
    static Options keras() {
      Options o;
      o.lr = Scalar(0.001);
      return o;
    }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit Lion(Options options = {}) : Base(checked(options).lr), options_(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "Lion";
  /// The class name, kName.
  std::string_view name() const noexcept override { return kName; }

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("beta1", o.beta1);
    f("beta2", o.beta2);
    detail::for_each_common_option(o, f);
  }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_closed_unit_interval(kName, "beta1", o.beta1);
    detail::check_closed_unit_interval(kName, "beta2", o.beta2);
    detail::check_common_options(kName, o);
    return o;
  }

  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.m_};
  }
  static constexpr std::array<detail::StateArray, 1> kStateArrays{{{"exp_avg", false}}};

  void allocate_state(Index n) override { m_.setZero(n); }
  void release_state() noexcept override { m_.resize(0); }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t) noexcept override {
    const Options& o = options_;
    const Scalar lr = this->lr();
    const Scalar beta1 = o.beta1, one_minus_beta1 = Scalar(1) - o.beta1;
    const Scalar beta2 = o.beta2, one_minus_beta2 = Scalar(1) - o.beta2;
    const auto adjust = detail::GradientAdjust<Scalar>::from(o, lr);
    Scalar* m = m_.data();
    detail::with_flag(adjust.active(), [&](auto active) {
      this->for_each_element(n, [=](auto lanes, Index i) {
        using V = decltype(lanes);
        V xi = V::load(x + i);
        const V di = adjust.template operator()<active()>(V::load(g + i), xi);
        const V mi = V::load(m + i);
        const V ci = V(beta1) * mi + V(one_minus_beta1) * di;
        (xi - V(lr) * sign(ci)).store(x + i);
        (V(beta2) * mi + V(one_minus_beta2) * di).store(m + i);
      });
    });
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> m_;
};

}  // namespace descent
