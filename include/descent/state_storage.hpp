#pragma once
/// \file
/// How the adaptive and momentum methods store their state arrays.

namespace descent {

/// \brief The element type of an optimizer's state arrays (moments,
/// accumulators, velocity), the `state_storage` option of Adam, AdamW,
/// AdaGrad, RMSprop, SGD, Momentum and Nesterov.
///
/// - Same (default): the parameters' Scalar.
/// - BFloat16: `Eigen::bfloat16`, half the bytes of a float. Each element is
///   widened to float exactly, updated in float as with Same, and rounded
///   back when stored: to nearest, ties to even (as `Eigen::bfloat16(x)`),
///   or stochastically with the option `stochastic_rounding`. The parameters
///   stay float. For float optimizers only: a double optimizer refuses it.
enum class StateStorage { Same, BFloat16 };

}  // namespace descent
