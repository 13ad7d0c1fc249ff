#pragma once
/// \file
/// Adadelta: steps scaled by the ratio of two moving RMS values.

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

/// \brief Adadelta (Zeiler 2012, arXiv:1212.5701): RMSprop whose step size
/// is a moving RMS of the past updates themselves, so that the update has
/// the units of the parameters.
///
/// Inputs: lr (α), rho (ρ), eps (ε), weight_decay (λ),
/// decoupled_weight_decay, maximize. State: v₀ = u₀ = 0. Per step:
///
///     d ← g  (−g with maximize)
///     d ← d + λ·θ  or, decoupled_weight_decay, θ ← (1 − lr·λ)·θ
///     v ← ρ·v + (1 − ρ)·d²
///     Δ = √(u + ε) / √(v + ε) · d
///     u ← ρ·u + (1 − ρ)·Δ²
///     θ ← θ − lr·Δ
///
/// The lecture does not cover Adadelta; the defaults are
/// torch.optim.Adadelta's (lr 1, the paper's algorithm; ρ 0.9; ε 1e-6), and
/// this reproduces torch.optim.Adadelta(lr, rho, eps, weight_decay, maximize)
/// to rounding; Options::keras() reproduces keras.optimizers.Adadelta, the
/// same update with Keras's defaults. ε matters more than in the other methods: √ε is the size of
/// the first steps (u₀ = 0), so it must be > 0.
template <typename Scalar_>
class Adadelta : public detail::OptimizerBase<Adadelta<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<Adadelta<Scalar_>, Scalar_>;
  friend Base;

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;

  /// \brief The hyperparameters, each field with its default and valid
  /// range; the constructor checks them.
  struct Options {
    /// Scale α of the update Δ; finite and >= 0. Default 1.
    Scalar lr = Scalar(1);
    /// Decay ρ of both moving averages; in [0, 1]. Default 0.9.
    Scalar rho = Scalar(0.9);
    /// ε inside both roots; finite and > 0. Default 1e-6.
    Scalar eps = Scalar(1e-6);
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

    /// torch.optim.Adadelta(): lr 1, rho 0.9, eps 1e-6 (the
    /// default-constructed Options).
    static Options pytorch() { return {}; }
    /// keras.optimizers.Adadelta(): lr 0.001, rho 0.95, eps 1e-7, weight
    /// decay decoupled.
    static Options keras() {
      Options o;
      o.lr = Scalar(0.001);
      o.rho = Scalar(0.95);
      o.eps = Scalar(1e-7);
      o.decoupled_weight_decay = true;
      return o;
    }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit Adadelta(Options options = {}) : Base(checked(options).lr), options_(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "Adadelta";
  std::string_view name() const noexcept override { return kName; }

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("rho", o.rho);
    f("eps", o.eps);
    detail::for_each_common_option(o, f);
  }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    if (!(o.rho >= Scalar(0) && o.rho <= Scalar(1))) {
      detail::throw_invalid(kName, "rho", "in [0, 1]", o.rho);
    }
    detail::check_positive(kName, "eps", o.eps);
    detail::check_common_options(kName, o);
    return o;
  }

  // The moving averages of d² and of Δ², both sums of squares.
  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.square_avg_, &s.acc_delta_};
  }
  static constexpr std::array<detail::StateArray, 2> kStateArrays{
      {{"square_avg", true}, {"acc_delta", true}}};

  void allocate_state(Index n) override {
    square_avg_.setZero(n);
    acc_delta_.setZero(n);
  }
  void release_state() noexcept override {
    square_avg_.resize(0);
    acc_delta_.resize(0);
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t) noexcept override {
    const Options& o = options_;
    const Scalar lr = this->lr();
    const Scalar rho = o.rho, one_minus_rho = Scalar(1) - o.rho, eps = o.eps;
    const auto adjust = detail::GradientAdjust<Scalar>::from(o, this->lr());
    Scalar* v = square_avg_.data();
    Scalar* u = acc_delta_.data();
    detail::with_flag(adjust.active(), [&](auto active) {
      this->for_each_element(n, [=](auto lanes, Index i) {
        using V = decltype(lanes);
        V xi = V::load(x + i);
        const V di = adjust.template operator()<active()>(V::load(g + i), xi);
        const V vi = V(rho) * V::load(v + i) + V(one_minus_rho) * di * di;
        const V ui = V::load(u + i);
        const V delta = sqrt(ui + V(eps)) / sqrt(vi + V(eps)) * di;
        vi.store(v + i);
        (V(rho) * ui + V(one_minus_rho) * delta * delta).store(u + i);
        (xi - V(lr) * delta).store(x + i);
      });
    });
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> square_avg_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> acc_delta_;
};

}  // namespace descent
