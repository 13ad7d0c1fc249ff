#pragma once
/// \file
/// RMSprop (lecture section 7).

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

/// \brief RMSprop (lecture section 7): AdaGrad with the sum of squared
/// gradients replaced by an exponential moving average, so that recent
/// gradients matter most.
///
/// Inputs: lr (α), rho (ρ), eps (ε), eps_placement, centered, momentum (μ),
/// momentum_form, weight_decay (λ), decoupled_weight_decay, maximize. State: v₀ = 0, and ḡ₀ = 0
/// (centered) and b₀ = 0 (momentum > 0). Per step:
///
///     d ← g  (−g with maximize)
///     d ← d + λ·θ  or, decoupled_weight_decay, θ ← (1 − lr·λ)·θ
///     v ← ρ·v + (1 − ρ)·d²
///     ḡ ← ρ·ḡ + (1 − ρ)·d,  u = v − ḡ²    (centered; else u = v)
///     q = d / √(u + ε)                    (InsideSqrt, the lecture's; default)
///     q = d / (√u + ε)                    (OutsideSqrt, PyTorch's)
///     θ ← θ − lr·q                        (μ = 0)
///     b ← μ·b + lr·q;  θ ← θ − b          (μ > 0, momentum_form Keras)
///     b ← μ·b + q;     θ ← θ − lr·b       (μ > 0, momentum_form PyTorch)
///
/// The defaults are the lecture's (α = 0.1, ρ = 0.99, ε = 1e-8). With
/// OutsideSqrt and PyTorch's momentum form this reproduces
/// torch.optim.RMSprop(lr, alpha = ρ, eps, weight_decay, momentum, centered,
/// maximize); Options::pytorch() sets that up. EpsHat is Adam's and is
/// refused here.
template <typename Scalar_>
class RMSprop : public detail::OptimizerBase<RMSprop<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<RMSprop<Scalar_>, Scalar_>;
  friend Base;

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;

  /// \brief The hyperparameters, each field with its default and valid
  /// range; the constructor checks them. A default-constructed Options is
  /// the lecture's (lecture()); pytorch() and keras() give the
  /// frameworks' defaults.
  struct Options {
    /// Step size α; finite and >= 0. Default 0.1.
    Scalar lr = Scalar(0.1);
    /// Decay ρ of the moving average; in [0, 1). Default 0.99.
    Scalar rho = Scalar(0.99);
    /// ε in the denominator; finite and >= 0. Default 1e-8.
    Scalar eps = Scalar(1e-8);
    /// Where ε enters the denominator: InsideSqrt or OutsideSqrt. Default
    /// InsideSqrt.
    EpsPlacement eps_placement = EpsPlacement::InsideSqrt;
    /// Divide by an estimate of the gradient's variance, v − ḡ², instead of
    /// its second moment (Graves 2013). Default false.
    bool centered = false;
    /// Momentum μ on the scaled step; in [0, 1). Default 0.
    Scalar momentum = Scalar(0);
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
    /// The type of v, ḡ and b: Same (Scalar) or BFloat16 (float only).
    /// Default Same.
    StateStorage state_storage = StateStorage::Same;
    /// Round the bfloat16 state stochastically instead of to nearest even;
    /// needs BFloat16. Default false.
    bool stochastic_rounding = false;
    /// Seed of the stochastic rounding's bits, any 32-bit value. Default 0.
    std::uint32_t rounding_seed = 0;
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;

    /// The lecture's defaults (the default-constructed Options).
    static Options lecture() { return {}; }
    /// torch.optim.RMSprop(): lr 0.01, alpha 0.99, eps 1e-8 outside the
    /// root, PyTorch's momentum buffer.
    static Options pytorch() {
      Options o;
      o.lr = Scalar(0.01);
      o.eps_placement = EpsPlacement::OutsideSqrt;
      o.momentum_form = MomentumForm::PyTorch;
      return o;
    }
    /// keras.optimizers.RMSprop(): lr 0.001, rho 0.9, eps 1e-7 inside the
    /// root, Keras's momentum buffer, weight decay decoupled.
    static Options keras() {
      Options o;
      o.lr = Scalar(0.001);
      o.rho = Scalar(0.9);
      o.eps = Scalar(1e-7);
      o.decoupled_weight_decay = true;
      return o;
    }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit RMSprop(Options options = {}) : Base(checked(options).lr), options_(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "RMSprop";
  /// The class name, kName.
  std::string_view name() const noexcept override { return kName; }

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("rho", o.rho);
    f("eps", o.eps);
    f("eps_placement", o.eps_placement);
    f("centered", o.centered);
    f("momentum", o.momentum);
    f("momentum_form", o.momentum_form);
    detail::for_each_common_option(o, f);
  }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_unit_interval(kName, "rho", o.rho);
    detail::check_nonnegative(kName, "eps", o.eps);
    detail::check_not_eps_hat(kName, o.eps_placement);
    detail::check_enum(kName, "eps_placement", o.eps_placement, 2);
    detail::check_unit_interval(kName, "momentum", o.momentum);
    detail::check_enum(kName, "momentum_form", o.momentum_form);
    detail::check_storage_options<Scalar>(kName, o);
    detail::check_common_options(kName, o);
    return o;
  }

  // Second moment v, gradient average ḡ (centered), momentum buffer b.
  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.square_avg_, &s.grad_avg_, &s.buffer_};
  }
  static constexpr std::array<detail::StateArray, 3> kStateArrays{
      {{"square_avg", true}, {"grad_avg", false}, {"momentum_buffer", false}}};
  static bool uses_array(const Options& o, std::size_t k) {
    return k == 0 || (k == 1 && o.centered) || (k == 2 && o.momentum > Scalar(0));
  }

  template <typename Self>
  static auto bf16_state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.square_avg16_, &s.grad_avg16_, &s.buffer16_};
  }

  void allocate_state(Index n) override {
    const auto zero = [&](auto& vector, std::size_t k) {
      if (uses_array(options_, k)) vector.setZero(n);
    };
    if (detail::stores_bf16(options_)) {
      zero(square_avg16_, 0);
      zero(grad_avg16_, 1);
      zero(buffer16_, 2);
    } else {
      zero(square_avg_, 0);
      zero(grad_avg_, 1);
      zero(buffer_, 2);
    }
  }
  void release_state() noexcept override {
    square_avg_.resize(0);
    grad_avg_.resize(0);
    buffer_.resize(0);
    square_avg16_.resize(0);
    grad_avg16_.resize(0);
    buffer16_.resize(0);
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept override {
    const Options& o = options_;
    const Scalar lr = this->lr();
    const Scalar rho = o.rho, one_minus_rho = Scalar(1) - o.rho;
    const Scalar eps = o.eps, mu = o.momentum;
    // With momentum, b ← μ·b + in·q and θ ← θ − out·b: Keras keeps lr in b.
    const bool keras = o.momentum_form == MomentumForm::Keras;
    const Scalar in = keras ? lr : Scalar(1), out = keras ? Scalar(1) : lr;
    const auto adjust = detail::GradientAdjust<Scalar>::from(o, this->lr());
    detail::with_storage<Scalar>(o, t, this->element_offset(), [&](auto storage) {
      const auto v = storage(0, square_avg_, square_avg16_);
      const auto a = storage(1, grad_avg_, grad_avg16_);
      const auto b = storage(2, buffer_, buffer16_);
      detail::with_placement(o.eps_placement, [&](auto placement) {
        detail::with_flag(adjust.active(), [&](auto active) {
          detail::with_flag(o.centered, [&](auto centered) {
            detail::with_flag(mu > Scalar(0), [&](auto momentum) {
              constexpr EpsPlacement P = decltype(placement)::value;
              this->for_each_element(n, [=](auto lanes, Index i) {
                using V = decltype(lanes);
                V xi = V::load(x + i);
                const V di = adjust.template operator()<active()>(V::load(g + i), xi);
                const V vi = V(rho) * V::load(v + i) + V(one_minus_rho) * di * di;
                vi.store(v + i);
                V ui = vi;
                if constexpr (centered()) {
                  const V ai = V(rho) * V::load(a + i) + V(one_minus_rho) * di;
                  ai.store(a + i);
                  ui = vi - ai * ai;
                }
                if constexpr (momentum()) {
                  const V qi = di / detail::denominator<P>(ui, V(eps));
                  const V bi = V(mu) * V::load(b + i) + V(in) * qi;
                  bi.store(b + i);
                  (xi - V(out) * bi).store(x + i);
                } else {
                  (xi - V(lr) * di / detail::denominator<P>(ui, V(eps))).store(x + i);
                }
              });
            });
          });
        });
      });
    });
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> square_avg_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> grad_avg_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> buffer_;
  // The same, with state_storage BFloat16.
  detail::Bf16Vector square_avg16_, grad_avg16_, buffer16_;
};

}  // namespace descent
