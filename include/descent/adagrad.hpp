#pragma once
/// \file
/// AdaGrad (lecture section 6).

#include "detail/bf16_state.hpp"
#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/optimizer_base.hpp"
#include "detail/sparse_base.hpp"
#include "nonfinite.hpp"
#include "row_sparse.hpp"
#include "state_storage.hpp"

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <Eigen/Core>

namespace descent {

/// \brief AdaGrad (lecture section 6): per-coordinate steps that shrink with
/// the sum of the squared gradients seen so far.
///
/// Inputs: lr (α), eps (ε), initial_accumulator (h₀), eps_placement,
/// lr_decay (κ), weight_decay (λ), decoupled_weight_decay, maximize. State: h = h₀. Per step
/// t = 1, 2, …:
///
///     d ← g  (−g with maximize)
///     d ← d + λ·θ  or, decoupled_weight_decay, θ ← (1 − lr·λ)·θ
///     lr_t = lr / (1 + (t − 1)·κ)
///     h ← h + d²
///     θ ← θ − lr_t·d / (√h + ε)    (OutsideSqrt, default)
///     θ ← θ − lr_t·d / √(h + ε)    (InsideSqrt, Keras's)
///
/// The lecture writes the step without ε, which is 0/0 for a coordinate whose
/// gradients were all zero; ε makes it 0. The defaults and OutsideSqrt are
/// torch.optim.Adagrad's, which this reproduces with every option.
/// A step once shrunk never grows again: h only increases. EpsHat is Adam's
/// and is refused here.
///
/// A step also takes a sparse gradient (RowSparse, the rows of an embedding
/// table, or an `Eigen::SparseVector`) and then updates only the entries
/// present, h included, as torch.optim.Adagrad 1.13 does with a sparse
/// gradient: repeated indices summed first, lr_t from the count of every
/// step; weight decay, which would reach the absent rows, is refused there
/// as torch refuses it. A sparse step holding every entry is the dense step
/// bit for bit.
template <typename Scalar_>
class AdaGrad : public detail::SparseOptimizerBase<AdaGrad<Scalar_>, Scalar_> {
  using Base = detail::SparseOptimizerBase<AdaGrad<Scalar_>, Scalar_>;
  friend Base;
  friend detail::OptimizerBase<AdaGrad<Scalar_>, Scalar_>;

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
    /// Step size α; finite and >= 0. Default 0.01.
    Scalar lr = Scalar(0.01);
    /// ε in the denominator; finite and >= 0. Default 1e-10.
    Scalar eps = Scalar(1e-10);
    /// Starting value h₀ of every accumulator; finite and >= 0. Default 0.
    Scalar initial_accumulator = Scalar(0);
    /// Where ε enters the denominator: OutsideSqrt or InsideSqrt. Default
    /// OutsideSqrt.
    EpsPlacement eps_placement = EpsPlacement::OutsideSqrt;
    /// Decay κ of the step size, PyTorch's lr_decay; finite and >= 0.
    /// Default 0.
    Scalar lr_decay = Scalar(0);
    /// L2 penalty λ added to the gradient as λ·θ; finite and >= 0. Default 0.
    Scalar weight_decay = Scalar(0);
    /// Apply weight decay as θ ← (1 − lr·λ)·θ before the step instead of
    /// adding λ·θ to the gradient (Loshchilov & Hutter's decoupled form, as
    /// every Keras optimizer does). Default false.
    bool decoupled_weight_decay = false;
    /// Ascend instead of descend (d = −g). Default false.
    bool maximize = false;
    /// The type of the accumulator h: Same (Scalar) or BFloat16 (float only).
    /// Default Same.
    StateStorage state_storage = StateStorage::Same;
    /// Round the bfloat16 state stochastically instead of to nearest even;
    /// needs BFloat16. Default false.
    bool stochastic_rounding = false;
    /// Seed of the stochastic rounding's bits, any 32-bit value. Default 0.
    std::uint32_t rounding_seed = 0;
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;

    /// The lecture's defaults (the default-constructed Options), which are
    /// PyTorch's.
    static Options lecture() { return {}; }
    /// torch.optim.Adagrad(): lr 0.01, eps 1e-10 outside the root, h₀ 0.
    static Options pytorch() { return {}; }
    /// keras.optimizers.Adagrad(): lr 0.001, eps 1e-7 inside the root,
    /// initial_accumulator_value 0.1, weight decay decoupled.
    static Options keras() {
      Options o;
      o.lr = Scalar(0.001);
      o.eps = Scalar(1e-7);
      o.initial_accumulator = Scalar(0.1);
      o.eps_placement = EpsPlacement::InsideSqrt;
      o.decoupled_weight_decay = true;
      return o;
    }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit AdaGrad(Options options = {}) : Base(checked(options).lr), options_(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "AdaGrad";
  /// The class name, kName.
  std::string_view name() const noexcept override { return kName; }

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("eps", o.eps);
    f("initial_accumulator", o.initial_accumulator);
    f("eps_placement", o.eps_placement);
    f("lr_decay", o.lr_decay);
    detail::for_each_common_option(o, f);
  }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_nonnegative(kName, "eps", o.eps);
    detail::check_nonnegative(kName, "initial_accumulator", o.initial_accumulator);
    detail::check_nonnegative(kName, "lr_decay", o.lr_decay);
    detail::check_not_eps_hat(kName, o.eps_placement);
    detail::check_enum(kName, "eps_placement", o.eps_placement, 2);
    detail::check_storage_options<Scalar>(kName, o);
    detail::check_common_options(kName, o);
    return o;
  }
  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.sum_};
  }
  static constexpr std::array<detail::StateArray, 1> kStateArrays{{{"sum", true}}};
  template <typename Self>
  static auto bf16_state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.sum16_};
  }

  // With BFloat16, h₀ too is rounded to nearest even.
  void allocate_state(Index n) override {
    if (detail::stores_bf16(options_)) {
      sum16_.setConstant(n, Eigen::bfloat16(static_cast<float>(options_.initial_accumulator)));
    } else {
      sum_.setConstant(n, options_.initial_accumulator);
    }
  }
  void release_state() noexcept override {
    sum_.resize(0);
    sum16_.resize(0);
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept override {
    with_kernel(t, [&](const auto& make) { this->for_each_element(n, make(x, g, Index(0))); });
  }

  template <typename Run>
  void with_kernel(std::int64_t t, const Run& run) {
    const auto lr = static_cast<Scalar>(
        double(this->lr()) / (1.0 + static_cast<double>(t - 1) * double(options_.lr_decay)));
    const Scalar eps = options_.eps;
    const auto adjust = detail::GradientAdjust<Scalar>::from(options_, this->lr());
    detail::with_storage<Scalar>(options_, t, this->element_offset(), [&](auto storage) {
      const auto sum = storage(0, sum_, sum16_);
      detail::with_placement(options_.eps_placement, [&](auto placement) {
        detail::with_flag(adjust.active(), [&](auto active) {
          constexpr EpsPlacement P = decltype(placement)::value;
          run([=](Scalar* x, const Scalar* g, Index offset) {
            const auto h = sum + offset;
            return [=](auto lanes, Index i) {
              using V = decltype(lanes);
              V xi = V::load(x + i);
              const V di = adjust.template operator()<active()>(V::load(g + i), xi);
              const V hi = V::load(h + i) + di * di;
              hi.store(h + i);
              (xi - V(lr) * di / detail::denominator<P>(hi, V(eps))).store(x + i);
            };
          });
        });
      });
    });
  }

  // Weight decay would reach every row, where a sparse gradient has only
  // some: torch.optim.Adagrad refuses it with sparse gradients too.
  void check_sparse_step() const {
    if (options_.weight_decay != Scalar(0)) {
      throw std::invalid_argument(
          "descent::AdaGrad::step: weight_decay is " + detail::to_text(options_.weight_decay) +
          ", which a sparse gradient cannot apply (it would decay the rows the gradient leaves "
          "out); set it to 0 or step with a dense gradient; params and state are unchanged");
    }
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> sum_;
  detail::Bf16Vector sum16_;  // the same, with state_storage BFloat16
};

}  // namespace descent
