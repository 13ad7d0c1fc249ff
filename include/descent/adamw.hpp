#pragma once
/// \file
/// AdamW: Adam with decoupled weight decay and PyTorch's defaults.

#include "adam.hpp"

namespace descent {

/// \brief AdamW (Loshchilov & Hutter, arXiv:1711.05101): Adam whose weight
/// decay shrinks θ by lr·λ·θ before each update instead of entering the
/// gradient, so that it is not rescaled by the adaptive denominator.
///
/// The algorithm is Adam's (adam.hpp) with decoupled_weight_decay; only the
/// defaults differ, and they are torch.optim.AdamW's: lr 0.001, betas (0.9,
/// 0.999), eps 1e-8 outside the root, weight_decay 0.01. Options::keras()
/// gives keras.optimizers.AdamW's (weight_decay 0.004, ε̂ = 1e-7, EpsHat).
/// Its checkpoints are AdamW's, not Adam's.
template <typename Scalar_>
class AdamW : public detail::AdamFamily<Scalar_, true> {
  using Base = detail::AdamFamily<Scalar_, true>;

 public:
  /// \brief Adam's fields (see Adam::Options) with torch.optim.AdamW's
  /// defaults: `eps_placement` OutsideSqrt, `weight_decay` 0.01,
  /// `decoupled_weight_decay` true. `Options::pytorch()` is the same;
  /// `Options::keras()` is keras.optimizers.AdamW's.
  using Options = typename Base::Options;

  /// \throws std::invalid_argument if an option is out of range.
  explicit AdamW(Options options = {}) : Base(options) {}
};

}  // namespace descent
