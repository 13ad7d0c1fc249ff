#pragma once
/// \file
/// Keras-style SGD: plain, momentum or Nesterov, with time-based decay
/// (lecture sections 3 to 5).

#include "detail/bf16_state.hpp"
#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/optimizer_base.hpp"
#include "momentum_form.hpp"
#include "nonfinite.hpp"
#include "state_storage.hpp"

#include <array>
#include <cstdint>
#include <string_view>

#include <Eigen/Core>

namespace descent {

/// \brief Stochastic gradient descent with the options of
/// keras.optimizers.SGD(lr, momentum, decay, nesterov), the signature the
/// lecture shows.
///
/// Inputs: lr (α), momentum (μ), nesterov, decay, dampening (τ),
/// momentum_form, weight_decay (λ), decoupled_weight_decay, maximize. State: a velocity or buffer,
/// zero at first, allocated only when momentum > 0. Per step t = 1, 2, …:
///
///     lr_t ← lr / (1 + decay·(t − 1))
///     d    ← g  (−g with maximize)
///     d    ← d + λ·θ  or, decoupled_weight_decay, θ ← (1 − lr·λ)·θ
///   momentum_form Keras (the default; the lecture's and Keras's):
///     v    ← μ·v − lr_t·d
///     θ    ← θ + v                 (nesterov = false)
///     θ    ← θ + μ·v − lr_t·d      (nesterov = true)
///   momentum_form PyTorch (torch.optim.SGD's):
///     b    ← d at t = 1, else μ·b + (1 − τ)·d
///     θ    ← θ − lr_t·b            (nesterov = false)
///     θ    ← θ − lr_t·(d + μ·b)    (nesterov = true)
///
/// At a constant lr and τ = 0, v = −lr·b, so both forms give the same
/// iterates up to rounding. They part when lr changes during a run (a
/// scheduler, or decay): Keras's velocity remembers the old rates, PyTorch's
/// buffer does not. Dampening is PyTorch's and needs its form; as in
/// PyTorch, nesterov needs τ = 0.
/// "Minibatch SGD" (lecture section 3) is any optimizer fed the gradient of
/// the mean loss over a minibatch, see MinibatchSampler.
template <typename Scalar_>
class SGD : public detail::OptimizerBase<SGD<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<SGD<Scalar_>, Scalar_>;
  friend Base;

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;

  /// \brief The hyperparameters, each field with its default and valid
  /// range; the constructor checks them. A default-constructed Options is
  /// Keras's SGD as the lecture shows it (lecture()); pytorch() and
  /// keras() give the frameworks' defaults.
  struct Options {
    /// Step size α; finite and >= 0. Default 0.01.
    Scalar lr = Scalar(0.01);
    /// Momentum μ; in [0, 1). 0 (the default) is plain SGD.
    Scalar momentum = Scalar(0);
    /// Nesterov's look-ahead form of momentum. Default false.
    bool nesterov = false;
    /// Time-based decay of the step size (Keras 2's); finite and >= 0.
    /// Default 0.
    Scalar decay = Scalar(0);
    /// Dampening τ of the buffer (PyTorch's form only); in [0, 1]. Default 0.
    Scalar dampening = Scalar(0);
    /// Whether the momentum buffer holds lr (Keras) or not (PyTorch).
    /// Default Keras.
    MomentumForm momentum_form = MomentumForm::Keras;
    /// L2 penalty λ added to the gradient as λ·θ; finite and >= 0. Default 0.
    Scalar weight_decay = Scalar(0);
    /// Apply weight decay as θ ← (1 − lr·λ)·θ before the step instead of
    /// adding λ·θ to the gradient (Loshchilov & Hutter's decoupled form, as
    /// every Keras optimizer does). Default false.
    bool decoupled_weight_decay = false;
    /// Ascend instead of descend (d = −g). Default false.
    bool maximize = false;
    /// The type of the velocity or buffer: Same (Scalar) or BFloat16 (float only).
    /// Default Same.
    StateStorage state_storage = StateStorage::Same;
    /// Round the bfloat16 state stochastically instead of to nearest even;
    /// needs BFloat16. Default false.
    bool stochastic_rounding = false;
    /// Seed of the stochastic rounding's bits, any 32-bit value. Default 0.
    std::uint32_t rounding_seed = 0;
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;

    /// The lecture's defaults (the default-constructed Options): Keras's
    /// form, lr 0.01.
    static Options lecture() { return {}; }
    /// torch.optim.SGD's form. PyTorch has no default lr; this keeps 0.01.
    static Options pytorch() {
      Options o;
      o.momentum_form = MomentumForm::PyTorch;
      return o;
    }
    /// keras.optimizers.SGD(): lr 0.01, Keras's form, weight decay
    /// decoupled.
    static Options keras() {
      Options o;
      o.decoupled_weight_decay = true;
      return o;
    }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit SGD(Options options = {}) : Base(checked(options).lr), options_(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "SGD";
  /// The class name, kName.
  std::string_view name() const noexcept override { return kName; }

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("momentum", o.momentum);
    f("nesterov", o.nesterov);
    f("decay", o.decay);
    f("dampening", o.dampening);
    f("momentum_form", o.momentum_form);
    detail::for_each_common_option(o, f);
  }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_unit_interval(kName, "momentum", o.momentum);
    detail::check_nonnegative(kName, "decay", o.decay);
    if (!(o.dampening >= Scalar(0) && o.dampening <= Scalar(1))) {
      detail::throw_invalid(kName, "dampening", "in [0, 1]", o.dampening);
    }
    detail::check_enum(kName, "momentum_form", o.momentum_form);
    detail::check_storage_options<Scalar>(kName, o);
    detail::check_common_options(kName, o);
    if (o.dampening != Scalar(0) && o.momentum_form != MomentumForm::PyTorch) {
      detail::throw_invalid_combination(
          kName, "dampening is PyTorch's and needs momentum_form PyTorch, got dampening " +
                     detail::to_text(o.dampening) + " with momentum_form Keras");
    }
    if (o.dampening != Scalar(0) && o.nesterov) {
      detail::throw_invalid_combination(
          kName, "nesterov needs dampening 0 (as in PyTorch), got dampening " +
                     detail::to_text(o.dampening));
    }
    return o;
  }

  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.velocity_};
  }
  static constexpr std::array<detail::StateArray, 1> kStateArrays{{{"velocity", false}}};
  static bool uses_array(const Options& o, std::size_t) { return o.momentum > Scalar(0); }

  template <typename Self>
  static auto bf16_state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.velocity16_};
  }

  bool has_velocity() const noexcept { return options_.momentum > Scalar(0); }

  void allocate_state(Index n) override {
    if (!has_velocity()) return;
    if (detail::stores_bf16(options_)) {
      velocity16_.setZero(n);
    } else {
      velocity_.setZero(n);
    }
  }
  void release_state() noexcept override {
    velocity_.resize(0);
    velocity16_.resize(0);
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept override {
    const Scalar lr_t = static_cast<Scalar>(
        double(this->lr()) / (1.0 + double(options_.decay) * static_cast<double>(t - 1)));
    const auto adjust = detail::GradientAdjust<Scalar>::from(options_, this->lr());
    const Scalar mu = options_.momentum;
    detail::with_flag(adjust.active(), [&](auto active) {
      if (!has_velocity()) {
        this->for_each_element(n, detail::gradient_body<active()>(x, g, lr_t, adjust));
        return;
      }
      detail::with_storage<Scalar>(options_, t, this->element_offset(), [&](auto storage) {
        const auto v = storage(0, velocity_, velocity16_);
        detail::with_flag(options_.nesterov, [&](auto nesterov) {
          if (options_.momentum_form == MomentumForm::Keras) {
            this->for_each_element(
                n, detail::velocity_body<nesterov(), active()>(x, g, v, mu, lr_t, adjust));
          } else {
            const Scalar c = t == 1 ? Scalar(1) : Scalar(1) - options_.dampening;
            this->for_each_element(
                n, detail::buffer_body<nesterov(), active()>(x, g, v, mu, c, lr_t, adjust));
          }
        });
      });
    });
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> velocity_;
  detail::Bf16Vector velocity16_;  // the same, with state_storage BFloat16
};

}  // namespace descent
