#pragma once
/// \file
/// Nesterov's accelerated gradient in the lecture's dampened form (lecture
/// section 5).

#include "detail/dampened_momentum.hpp"

#include <string_view>

namespace descent {

/// \brief Nesterov's accelerated gradient with the lecture's (1 − β) factor
/// (section 5): momentum whose gradient is taken at the look-ahead point.
///
/// The lecture's recurrence, with the gradient at θ + βΔ:
///
///     Δ_t     = β·Δ_{t−1} − (1 − β)·α·∇E(θ_t + β·Δ_{t−1})
///     θ_{t+1} = θ_t + Δ_t
///
/// step(params, grad) receives the gradient at the point params hold, so
/// params hold the look-ahead point φ_t = θ_t + β·Δ_{t−1} and grad is
/// ∇E(φ_t). Then
///
///     φ_{t+1} = θ_{t+1} + β·Δ_t = φ_t − β·Δ_{t−1} + (1 + β)·Δ_t
///             = φ_t + β·Δ_t − (1 − β)·α·g,
///
/// using β·Δ_{t−1} = Δ_t + (1 − β)·α·g. Inputs: lr (α), beta (β). State:
/// Δ₀ = 0, so φ₁ = θ₁ (start params as usual). Per step:
///
///     Δ ← β·Δ − (1 − β)·lr·g
///     φ ← φ + β·Δ − (1 − β)·lr·g
///
/// weight_decay (λ) and maximize act on g first, as in every optimizer:
/// g ← −g with maximize, then g ← g + λ·φ (or φ ← (1 − lr·λ)·φ with
/// decoupled_weight_decay). The true iterate is θ_t = φ_t − β·Δ_{t−1}; when training
/// ends, params hold the look-ahead point, as in Keras and PyTorch. Nesterov{lr, β} equals SGD{(1 −
/// β)·lr, momentum β, nesterov true} exactly.
template <typename Scalar_>
class Nesterov : public detail::DampenedMomentum<Scalar_, true> {
  using Base = detail::DampenedMomentum<Scalar_, true>;

 public:
  /// \brief The same fields and defaults as Momentum::Options: `lr` 0.01,
  /// `beta` 0.9, `weight_decay` 0, `decoupled_weight_decay` false,
  /// `maximize` false, `nonfinite` Propagate; the lecture's
  /// (`Options::lecture()`).
  using Options = typename Base::Options;

  /// \throws std::invalid_argument if an option is out of range.
  explicit Nesterov(Options options = {}) : Base(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "Nesterov";
  /// The class name, kName.
  std::string_view name() const noexcept override { return kName; }
};

}  // namespace descent
