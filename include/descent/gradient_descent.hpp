#pragma once
/// \file
/// Steepest descent (lecture section 2).

#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/optimizer_base.hpp"
#include "nonfinite.hpp"

#include <array>
#include <cstdint>
#include <string_view>

namespace descent {

/// \brief Steepest descent, the plain gradient step (lecture section 2).
///
/// Inputs: lr (α), weight_decay (λ), decoupled_weight_decay, maximize. No
/// state. Per step:
///
///     d = g  (−g with maximize)
///     d ← d + λ·θ  or, with decoupled_weight_decay, θ ← (1 − lr·λ)·θ
///     θ ← θ − lr·d
///
/// Equals torch.optim.SGD(lr, weight_decay, maximize) and `SGD<S>` with
/// momentum 0 and decay 0.
template <typename Scalar_>
class GradientDescent : public detail::OptimizerBase<GradientDescent<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<GradientDescent<Scalar_>, Scalar_>;
  friend Base;

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;

  /// \brief The hyperparameters, each field with its default and valid
  /// range; the constructor checks them. A default-constructed Options is
  /// the lecture's.
  struct Options {
    /// Step size α; finite and >= 0. Default 0.01.
    Scalar lr = Scalar(0.01);
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

    /// The lecture's defaults (the default-constructed Options).
    static Options lecture() { return {}; }
    /// torch.optim.SGD(lr) without momentum. PyTorch has no default lr; this
    /// keeps 0.01.
    static Options pytorch() { return {}; }
    /// keras.optimizers.SGD() without momentum: lr 0.01, weight decay
    /// decoupled.
    static Options keras() {
      Options o;
      o.decoupled_weight_decay = true;
      return o;
    }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit GradientDescent(Options options = {}) : Base(checked(options).lr), options_(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "GradientDescent";
  /// The class name, kName.
  std::string_view name() const noexcept override { return kName; }

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    detail::for_each_common_option(o, f);
  }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_common_options(kName, o);
    return o;
  }
  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array<typename Base::Vector*, 0>{};
  }
  static constexpr std::array<detail::StateArray, 0> kStateArrays{};

  void allocate_state(Index) override {}
  void release_state() noexcept override {}

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t) noexcept override {
    const auto adjust = detail::GradientAdjust<Scalar>::from(options_, this->lr());
    detail::with_flag(adjust.active(), [&](auto active) {
      this->for_each_element(n, detail::gradient_body<active()>(x, g, this->lr(), adjust));
    });
  }

  Options options_;
};

}  // namespace descent
