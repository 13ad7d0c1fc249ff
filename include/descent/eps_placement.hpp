#pragma once
/// \file
/// Where the adaptive methods (AdaGrad, RMSprop, Adam) add their eps.

namespace descent {

/// \brief Where eps enters the denominator of an adaptive step.
///
/// - InsideSqrt: g / sqrt(v + eps), as the lecture writes RMSprop and Adam
///   (sections 7 and 8).
/// - OutsideSqrt: g / (sqrt(v) + eps), as Kingma & Ba write Adam and as
///   torch.optim.Adagrad, RMSprop and Adam compute it.
enum class EpsPlacement { InsideSqrt, OutsideSqrt };

}  // namespace descent
