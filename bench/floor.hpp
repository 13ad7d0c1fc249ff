#pragma once
/// \file
/// The byte floor: for each optimizer, trivial in-place loops that read and
/// write exactly the arrays the optimizer must (params x and grad g, plus its
/// state arrays), in as many passes over them as its update needs, with one
/// subtraction per array written. Nothing moving those bytes can be faster, so
/// descent's time over the floor's time says how much of a step is
/// arithmetic and overhead rather than memory traffic.
///
/// Most steps are one pass: read x, g and K state arrays, write x and the
/// state. A step that needs a whole-tensor quantity before it may write
/// anything makes more passes, and its floor makes the same ones:
/// NonFinite::Skip and Throw read all of g before any write (a bad element
/// must leave everything untouched); LARS reads x and g for their norms
/// before the step; LAMB writes its raw update u beside the moments, then
/// reads it back once the norms are known; Adafactor on a vector reads x
/// (its RMS), then g and v (RMS of the update) before the step.

#include "stepper.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

#include <descent/detail/simd.hpp>

namespace bench {

/// The arrays of a Buffers, by number: x, g, s0, s1, s2.
enum Slot : int { kX, kG, kS0, kS1, kS2 };

/// One pass of a floor over n elements: arrays[0, W) are read and written
/// (a = t − a), arrays[W, W + R) read, arrays[W + R, W + R + O) written
/// (a = t), where t is the sum of the read-only elements. Every value stays
/// bounded however many steps run (a = t − a flips between two values; x
/// of LAMB's floor, x = u − x after u = x + g, is g), so that no NaN,
/// infinity or subnormal times a slow path. A pass that writes nothing
/// sums what it reads, in packets (four independent sums, as descent's
/// non-finite check), and returns the sum, so that the reads are not
/// optimized away. Out of line so that it keeps its own symbol (objdump
/// shows it vectorized) and cannot be folded into the timed loop.
template <int W, int R, int O, typename S>
[[gnu::noinline]] S floor_pass(S* const* arrays, Index n) {
  static_assert(W + R + O > 0 && R <= 2 && W + R + O <= 5, "no such pass");
  if constexpr (W + O == 0) {
    using P = descent::detail::simd::Pack<S>;
    static_assert(P::size > 1, "the bench is built for a SIMD target");
    const P zero(S(0));
    P s[4] = {zero, zero, zero, zero};
    Index i = 0;
    for (; i + 4 * P::size <= n; i += 4 * P::size) {
      for (int k = 0; k < 4; ++k) {
        for (int r = 0; r < R; ++r) s[k] = s[k] + P::load(arrays[r] + i + k * P::size);
      }
    }
    S lanes[P::size];
    ((s[0] + s[1]) + (s[2] + s[3])).store(lanes);
    S sum = S(0);
    for (const S lane : lanes) sum += lane;
    for (; i < n; ++i) {
      for (int r = 0; r < R; ++r) sum += arrays[r][i];
    }
    return sum;
  } else {
    S* a[W + R + O];
    for (int k = 0; k < W + R + O; ++k) a[k] = arrays[k];
#pragma GCC ivdep
    for (Index i = 0; i < n; ++i) {
      S t = R == 0 ? S(1) : a[W][i];
      if constexpr (R == 2) t += a[W + 1][i];
      for (int k = 0; k < W; ++k) a[k][i] = t - a[k][i];
      for (int k = W + R; k < W + R + O; ++k) a[k][i] = t;
    }
    return S(0);
  }
}

/// Which arrays a pass reads and writes, by Slot.
struct Pass {
  std::vector<int> written;      ///< read and written
  std::vector<int> read;         ///< read only
  std::vector<int> overwritten;  ///< written only
  int bytes(int scalar) const {
    return scalar * int(2 * written.size() + read.size() + overwritten.size());
  }
};

/// The passes of a floor; bytes() per element.
struct Floor {
  std::vector<Pass> passes;
  int bytes(int scalar) const {
    int b = 0;
    for (const Pass& p : passes) b += p.bytes(scalar);
    return b;
  }
  /// Slots used, one past the highest.
  int slots() const {
    int top = kG + 1;
    for (const Pass& p : passes) {
      for (const auto* list : {&p.written, &p.read, &p.overwritten}) {
        for (const int s : *list) top = std::max(top, s + 1);
      }
    }
    return top;
  }
};

/// The one pass of a step with K state arrays: x, g and s0 … s(K−1) read;
/// x and the state written (K = 0: GradientDescent and plain SGD; 1: SGD
/// with momentum, AdaGrad, RMSprop; 2: Adam, RMSprop centered or with
/// momentum; 3: AMSGrad, RMSprop centered with momentum). Options that only
/// add arithmetic (weight decay, lr_decay, maximize) keep their optimizer's
/// floor.
inline Pass one_pass(int state_arrays) {
  Pass p{{kX}, {kG}, {}};
  for (int k = 0; k < state_arrays; ++k) p.written.push_back(kS0 + k);
  return p;
}

template <typename S>
using PassKernel = S (*)(S* const*, Index);

/// floor_pass<W, R, O, S>, or nullptr for a pass floor_pass has not.
template <int W, int R, int O, typename S>
constexpr PassKernel<S> pass_or_null() {
  if constexpr (W + R + O > 0 && W + R + O <= 5) {
    return &floor_pass<W, R, O, S>;
  } else {
    return nullptr;
  }
}

/// Every pass_or_null, at I = 6W + 2R + O (W < 5, R < 3, O < 2).
template <typename S, int... I>
constexpr std::array<PassKernel<S>, sizeof...(I)> pass_table(std::integer_sequence<int, I...>) {
  return {{pass_or_null<I / 6, I / 2 % 3, I % 2, S>()...}};
}

/// The kernel of a pass with W written, R read and O overwritten arrays.
template <typename S>
PassKernel<S> pass_kernel(const Pass& p) {
  static constexpr auto table = pass_table<S>(std::make_integer_sequence<int, 30>{});
  const int w = int(p.written.size()), r = int(p.read.size()), o = int(p.overwritten.size());
  if (w > 4 || r > 2 || o > 1) return nullptr;
  return table[std::size_t(6 * w + 2 * r + o)];
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
