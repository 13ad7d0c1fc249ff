#pragma once
/// \file
/// Rprop: per-coordinate step sizes adapted from the signs of successive
/// gradients.

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

/// \brief Rprop (Riedmiller & Braun 1993, "A Direct Adaptive Method for
/// Faster Backpropagation Learning: The RPROP Algorithm"), in PyTorch's
/// form: each coordinate moves by its own step size in the direction of
/// −sign(d); the step size grows while the gradient keeps its sign and
/// shrinks when it flips.
///
/// Inputs: lr (η₀), eta_minus (η₋), eta_plus (η₊), step_size_min (Γ_min),
/// step_size_max (Γ_max), weight_decay (λ), decoupled_weight_decay,
/// maximize. State: p₀ = 0 (the previous d), η = lr in every coordinate,
/// set on the first step. Per step:
///
///     d ← g  (−g with maximize)
///     d ← d + λ·θ  or, decoupled_weight_decay, θ ← (1 − lr·λ)·θ
///     if d·p > 0:  η ← min(η·η₊, Γ_max)
///     if d·p < 0:  η ← max(η·η₋, Γ_min),  d ← 0
///     (else η ← clamp(η, Γ_min, Γ_max), which leaves it as it was after
///     the first step)
///     θ ← θ − sign(d)·η
///     p ← d
///
/// The lecture does not cover Rprop; the defaults are torch.optim.Rprop's,
/// and this reproduces torch.optim.Rprop(lr, etas = (η₋, η₊), step_sizes =
/// (Γ_min, Γ_max), maximize) to rounding; PyTorch's Rprop has no weight
/// decay. lr is only the starting step size: set_lr() after the first step
/// changes nothing but the decoupled decay (as changing PyTorch's lr does),
/// until reset(). A NaN in d makes θ NaN (sign(NaN) is NaN here, where
/// PyTorch's sign(NaN) = 0 would skip it), so that NonFinite::Propagate
/// shows it.
template <typename Scalar_>
class Rprop : public detail::OptimizerBase<Rprop<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<Rprop<Scalar_>, Scalar_>;
  friend Base;

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;

  /// \brief The hyperparameters, each field with its default and valid
  /// range; the constructor checks them.
  struct Options {
    /// Starting step size η₀ of every coordinate; finite and >= 0. Default
    /// 0.01.
    Scalar lr = Scalar(0.01);
    /// Factor η₋ applied to the step size when the gradient flips sign; in
    /// (0, 1). Default 0.5.
    Scalar eta_minus = Scalar(0.5);
    /// Factor η₊ applied while the gradient keeps its sign; finite and > 1.
    /// Default 1.2.
    Scalar eta_plus = Scalar(1.2);
    /// Smallest step size Γ_min; finite and >= 0. Default 1e-6.
    Scalar step_size_min = Scalar(1e-6);
    /// Largest step size Γ_max; finite and >= step_size_min. Default 50.
    Scalar step_size_max = Scalar(50);
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

    /// torch.optim.Rprop(): lr 0.01, etas (0.5, 1.2), step_sizes (1e-6, 50)
    /// (the default-constructed Options).
    static Options pytorch() { return {}; }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit Rprop(Options options = {}) : Base(checked(options).lr), options_(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "Rprop";
  std::string_view name() const noexcept override { return kName; }

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("eta_minus", o.eta_minus);
    f("eta_plus", o.eta_plus);
    f("step_size_min", o.step_size_min);
    f("step_size_max", o.step_size_max);
    detail::for_each_common_option(o, f);
  }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    if (!(o.eta_minus > Scalar(0) && o.eta_minus < Scalar(1))) {
      detail::throw_invalid(kName, "eta_minus", "in (0, 1)", o.eta_minus);
    }
    if (!(o.eta_plus > Scalar(1)) || !std::isfinite(o.eta_plus)) {
      detail::throw_invalid(kName, "eta_plus", "finite and > 1", o.eta_plus);
    }
    detail::check_nonnegative(kName, "step_size_min", o.step_size_min);
    if (!(o.step_size_max >= o.step_size_min) || !std::isfinite(o.step_size_max)) {
      detail::throw_invalid(
          kName, "step_size_max",
          "finite and >= step_size_min (" + detail::to_text(o.step_size_min) + ")",
          o.step_size_max);
    }
    detail::check_common_options(kName, o);
    return o;
  }

  // The previous d (0 where it flipped sign) and the step sizes, which stay
  // in [step_size_min, step_size_max] and so are never negative.
  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.prev_, &s.step_size_};
  }
  static constexpr std::array<detail::StateArray, 2> kStateArrays{
      {{"prev", false}, {"step_size", true}}};

  void allocate_state(Index n) override {
    prev_.setZero(n);
    step_size_.setConstant(n, this->lr());
  }
  void release_state() noexcept override {
    prev_.resize(0);
    step_size_.resize(0);
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t) noexcept override {
    const Options& o = options_;
    const Scalar eta_minus = o.eta_minus, eta_plus = o.eta_plus;
    const Scalar lo = o.step_size_min, hi = o.step_size_max;
    const auto adjust = detail::GradientAdjust<Scalar>::from(o, this->lr());
    Scalar* p = prev_.data();
    Scalar* eta = step_size_.data();
    detail::with_flag(adjust.active(), [&](auto active) {
      this->for_each_element(n, [=](auto lanes, Index i) {
        using V = decltype(lanes);
        V xi = V::load(x + i);
        const V di = adjust.template operator()<active()>(V::load(g + i), xi);
        const V product = di * V::load(p + i);
        // η₊ where the product is positive, η₋ where negative, 1 where it is
        // ±0 or NaN; the gradient is forgotten (d·0, keeping its sign) where
        // it changed sign.
        const V factor =
            if_positive(product, V(eta_plus), if_negative(product, V(eta_minus), V(Scalar(1))));
        const V size = min(max(V::load(eta + i) * factor, V(lo)), V(hi));
        const V kept = if_negative(product, di * V(Scalar(0)), di);
        size.store(eta + i);
        kept.store(p + i);
        (xi - sign(kept) * size).store(x + i);
      });
    });
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> prev_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> step_size_;
};

}  // namespace descent
