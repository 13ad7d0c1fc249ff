#pragma once
/// \file
/// The byte floor: for each optimizer, a trivial in-place loop that reads and
/// writes exactly the arrays the optimizer must (params x and grad g, plus K
/// state arrays) and does one add per array written. Nothing moving those
/// bytes can be faster, so descent's time over the floor's time says how much
/// of a step is arithmetic and overhead rather than memory traffic.

#include "stepper.hpp"

#include <cstdint>

namespace bench {

/// Reads x, g and K state arrays; writes x and the state arrays. K = 0:
/// GradientDescent and plain SGD; K = 1: SGD with momentum, Momentum,
/// Nesterov, AdaGrad, RMSprop; K = 2: Adam, AdamW, RMSprop centered or with
/// momentum; K = 3: Adam with AMSGrad, RMSprop centered with momentum. Options
/// that only add arithmetic (weight decay, lr_decay, maximize) keep their
/// optimizer's K, and so its floor. Out of line so that it keeps its
/// own symbol (objdump shows it vectorized) and cannot be folded into the
/// timed loop and optimized away.
template <int K, typename S>
[[gnu::noinline]] void floor_kernel(S* __restrict x, const S* __restrict g,
                                    [[maybe_unused]] S* __restrict s0,
                                    [[maybe_unused]] S* __restrict s1,
                                    [[maybe_unused]] S* __restrict s2, Index n) {
  for (Index i = 0; i < n; ++i) {
    const S gi = g[i];
    x[i] += gi;
    if constexpr (K >= 1) s0[i] += gi;
    if constexpr (K >= 2) s1[i] += gi;
    if constexpr (K >= 3) s2[i] += gi;
  }
}

template <typename S>
using FloorKernel = void (*)(S*, const S*, S*, S*, S*, Index);

/// floor_kernel<K, S> for K = state_arrays.
template <typename S>
FloorKernel<S> floor_for(int state_arrays) {
  static constexpr FloorKernel<S> kernels[] = {&floor_kernel<0, S>, &floor_kernel<1, S>,
                                               &floor_kernel<2, S>, &floor_kernel<3, S>};
  return kernels[state_arrays];
}

/// The floor of a step with two bfloat16 state arrays (Adam's m and v with
/// state_storage BFloat16): reads x, g, s0, s1; writes x, s0, s1, the state
/// as 16-bit integers: 4 + 4 + 4 + 2 + 2 + 2 + 2 = 20 bytes per element.
[[gnu::noinline]] inline void floor_kernel_bf16(float* __restrict x, const float* __restrict g,
                                                std::uint16_t* __restrict s0,
                                                std::uint16_t* __restrict s1, Index n) {
  for (Index i = 0; i < n; ++i) {
    const float gi = g[i];
    x[i] += gi;
    s0[i] = static_cast<std::uint16_t>(s0[i] + 1u);
    s1[i] = static_cast<std::uint16_t>(s1[i] + 1u);
  }
}

}  // namespace bench
