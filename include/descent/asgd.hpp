#pragma once
/// \file
/// ASGD: stochastic gradient descent with a decaying step and a running
/// average of the iterates.

#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/optimizer_base.hpp"
#include "nonfinite.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string_view>

#include <Eigen/Core>

namespace descent {

/// \brief ASGD, averaged stochastic gradient descent (Polyak & Juditsky
/// 1992), in PyTorch's form: gradient steps of size η_t = lr/(1 + λ·lr·t)^α
/// that also shrink θ by λ·η_t, and, from step t₀ on, the running average ā
/// of the iterates, which averaged() returns.
///
/// Inputs: lr (α₀), lambd (λ_a), alpha (a), t0 (t₀), weight_decay (λ),
/// decoupled_weight_decay, maximize. State: ā₀ = 0. Per step t = 1, 2, …:
///
///     d ← g  (−g with maximize)
///     d ← d + λ·θ  or, decoupled_weight_decay, θ ← (1 − lr·λ)·θ
///     η = lr / (1 + λ_a·lr·(t − 1))^a
///     μ = 1 / max(1, t − 1 − t₀)
///     θ ← (1 − λ_a·η)·θ − η·d
///     ā ← θ  (μ = 1),  else ā ← ā + μ·(θ − ā)
///
/// The lecture does not cover ASGD; the defaults are torch.optim.ASGD's
/// (lr 0.01, λ_a 1e-4, a 0.75, t₀ 1e6: averaging starts after a million
/// steps), and this reproduces torch.optim.ASGD(lr, lambd, alpha, t0,
/// weight_decay, maximize) to rounding. As PyTorch does (which keeps η and μ
/// in float32 tensors under the default dtype), η and μ are rounded to float
/// whatever Scalar is; that changes the step by less than 1e-7 relative and
/// makes double runs reproduce PyTorch's. PyTorch forms the η of step t at
/// the end of step t − 1, with the lr of that step; here it is formed with
/// the lr in force at step t, which differs only when lr changes.
template <typename Scalar_>
class ASGD : public detail::OptimizerBase<ASGD<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<ASGD<Scalar_>, Scalar_>;
  friend Base;

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;
  /// The averaged parameters' type.
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  /// \brief The hyperparameters, each field with its default and valid
  /// range; the constructor checks them.
  struct Options {
    /// Step size α₀ at the first step; finite and >= 0. Default 0.01.
    Scalar lr = Scalar(0.01);
    /// Decay λ_a of the step size, and of θ by λ_a·η per step; finite and
    /// >= 0. Default 1e-4.
    Scalar lambd = Scalar(1e-4);
    /// Power a of the step size's decay; finite and >= 0. Default 0.75.
    Scalar alpha = Scalar(0.75);
    /// Step t₀ after which the average starts (before it, ā = θ); finite
    /// and >= 0. Default 1e6.
    Scalar t0 = Scalar(1e6);
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

    /// torch.optim.ASGD(): lr 0.01, lambd 1e-4, alpha 0.75, t0 1e6 (the
    /// default-constructed Options).
    static Options pytorch() { return {}; }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit ASGD(Options options = {}) : Base(checked(options).lr), options_(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "ASGD";
  std::string_view name() const noexcept override { return kName; }

  /// The averaged parameters ā (PyTorch's state['ax']), of the size of the
  /// parameters; empty before the first step and after reset(). Saved and
  /// loaded with the checkpoint.
  const Vector& averaged() const noexcept { return ax_; }

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("lambd", o.lambd);
    f("alpha", o.alpha);
    f("t0", o.t0);
    detail::for_each_common_option(o, f);
  }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_nonnegative(kName, "lambd", o.lambd);
    detail::check_nonnegative(kName, "alpha", o.alpha);
    detail::check_nonnegative(kName, "t0", o.t0);
    detail::check_common_options(kName, o);
    return o;
  }

  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.ax_};
  }
  static constexpr std::array<detail::StateArray, 1> kStateArrays{{{"ax", false}}};

  void allocate_state(Index n) override { ax_.setZero(n); }
  void release_state() noexcept override { ax_.resize(0); }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept override {
    const Options& o = options_;
    const double lr = double(this->lr()), lambd = double(o.lambd);
    const double done = double(t - 1);  // steps before this one
    const double eta = static_cast<float>(lr / std::pow(1.0 + lambd * lr * done, double(o.alpha)));
    const float mu = static_cast<float>(1.0 / std::max(1.0, done - double(o.t0)));
    const auto keep = static_cast<Scalar>(1.0 - lambd * eta);
    const auto step_size = static_cast<Scalar>(eta);
    const auto weight = static_cast<Scalar>(mu);
    const auto adjust = detail::GradientAdjust<Scalar>::from(o, this->lr());
    Scalar* ax = ax_.data();
    detail::with_flag(adjust.active(), [&](auto active) {
      detail::with_flag(mu != 1.0f, [&](auto averaging) {
        this->for_each_element(n, [=](auto lanes, Index i) {
          using V = decltype(lanes);
          V xi = V::load(x + i);
          const V di = adjust.template operator()<active()>(V::load(g + i), xi);
          xi = V(keep) * xi - V(step_size) * di;
          xi.store(x + i);
          if constexpr (averaging()) {
            const V ai = V::load(ax + i);
            (ai + (xi - ai) * V(weight)).store(ax + i);
          } else {
            xi.store(ax + i);
          }
        });
      });
    });
  }

  Options options_;
  Vector ax_;
};

}  // namespace descent
