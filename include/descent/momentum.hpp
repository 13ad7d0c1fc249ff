#pragma once
/// \file
/// Momentum in the lecture's dampened form (lecture section 4).

#include <string_view>

#include "detail/dampened_momentum.hpp"

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
  /// lr (α): finite and >= 0, default 0.01; beta (β): in [0, 1), default
  /// 0.9; weight_decay, maximize and nonfinite as for every optimizer.
  using Options = typename Base::Options;

  /// \throws std::invalid_argument if an option is out of range.
  explicit Momentum(Options options = {}) : Base(options) {}

  static constexpr std::string_view kName = "Momentum";
  std::string_view name() const noexcept override { return kName; }
};

}  // namespace descent
