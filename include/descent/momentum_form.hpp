#pragma once
/// \file
/// Whether a momentum buffer holds the step or the gradient.

namespace descent {

/// \brief How SGD and RMSprop keep their momentum buffer. The two forms give
/// the same iterates while lr is constant and part when it changes: the Keras
/// buffer remembers the rates of past steps, PyTorch's does not.
///
/// - Keras: the buffer holds the step, lr included: v ← μ·v − lr·d; θ ← θ + v
///   (d the gradient or, for RMSprop, g/√(v + ε)). Keras's and the lecture's.
/// - PyTorch: the buffer holds the direction: b ← μ·b + (1 − dampening)·d,
///   with b = d on the first step; θ ← θ − lr·b. torch.optim's.
enum class MomentumForm { Keras, PyTorch };

}  // namespace descent
