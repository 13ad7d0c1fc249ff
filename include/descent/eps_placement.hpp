#pragma once
/// \file
/// Where the adaptive methods (AdaGrad, RMSprop, Adam) add their eps.

namespace descent {

/// \brief Where eps enters the denominator of an adaptive step.
///
/// - InsideSqrt: g / sqrt(v + eps), as the lecture writes RMSprop and Adam
///   (sections 7 and 8), and as Keras computes AdaGrad and RMSprop.
/// - OutsideSqrt: g / (sqrt(v) + eps), as Kingma & Ba write Adam and as
///   torch.optim.Adagrad, RMSprop and Adam compute it.
/// - EpsHat: Adam only; the "ε̂" form of Kingma & Ba's section 2 that Keras
///   and TensorFlow use: the bias corrections are folded into the step size,
///   α_t = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ), and θ ← θ − α_t·m / (√v + ε̂), so ε̂ is
///   added to the uncorrected √v. It equals OutsideSqrt with
///   ε = ε̂/√(1 − β₂ᵗ), i.e. a larger ε early in a run.
enum class EpsPlacement { InsideSqrt, OutsideSqrt, EpsHat };

}  // namespace descent
