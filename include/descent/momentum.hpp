#pragma once
/// \file
/// Momentum in the lecture's dampened form (lecture section 4).

#include "detail/dampened_momentum.hpp"

#include <string_view>

namespace descent {

/// \brief Momentum with the lecture's (1 − β) factor (section 4): the step is
/// a moving average of past gradient steps, which damps the zig-zag across a
/// narrow valley.
///
/// Inputs: lr (α), beta (β). State: Δ₀ = 0. Per step:
///
///     Δ ← β·Δ − (1 − β)·lr·g
///     θ ← θ + Δ
///
/// weight_decay (λ) and maximize act on g first, as in every optimizer:
/// g ← −g with maximize, then g ← g + λ·θ (or θ ← (1 − lr·λ)·θ with
/// decoupled_weight_decay). β = 0 is steepest descent. This is the dampened
/// (moving-average) form; the Keras/PyTorch form v ← μ·v − lr·g is SGD with momentum, and
/// Momentum{lr, β} equals SGD{(1 − β)·lr, momentum β} exactly.
template <typename Scalar_>
class Momentum : public detail::DampenedMomentum<Scalar_, false> {
  using Base = detail::DampenedMomentum<Scalar_, false>;

 public:
  /// \brief The hyperparameters, in the order declared; the constructor
  /// checks them.
  ///
  /// | field | default | valid | meaning |
  /// |---|---|---|---|
  /// | `lr` | 0.01 | finite, >= 0 | step size α |
  /// | `beta` | 0.9 | [0, 1) | inertia β |
  /// | `weight_decay` | 0 | finite, >= 0 | weight decay λ |
  /// | `decoupled_weight_decay` | false | | θ ← (1 − lr·λ)·θ instead of g ← g + λ·θ |
  /// | `maximize` | false | | ascend: the gradient enters as −g |
  /// | `state_storage` | Same | StateStorage | state as Scalar, or as bfloat16 (float only) |
  /// | `stochastic_rounding` | false | needs BFloat16 | round bfloat16 state stochastically |
  /// | `rounding_seed` | 0 | any uint32 | seed of the stochastic rounding |
  /// | `nonfinite` | Propagate | NonFinite | what a step does with NaN or ±inf in grad |
  ///
  /// The defaults are the lecture's (`Options::lecture()`); PyTorch and
  /// Keras have no dampened momentum, so there is no pytorch() or keras().
  using Options = typename Base::Options;

  /// \throws std::invalid_argument if an option is out of range.
  explicit Momentum(Options options = {}) : Base(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "Momentum";
  /// The class name, kName.
  std::string_view name() const noexcept override { return kName; }
};

}  // namespace descent
