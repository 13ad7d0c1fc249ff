#pragma once
/// \file
/// The two reductions of LBFGS in the order PyTorch 1.13 computes them on
/// the CPU, so that in double LBFGS follows torch.optim.LBFGS bitwise where
/// the function itself does: dot products as the reference BLAS ddot adds
/// (torch.dot calls the system BLAS; Debian's torch is built against the
/// generic one), and the sum of |g| as ATen's cascade sum
/// (aten/src/ATen/native/cpu/SumKernel.cpp).
///
/// A compiler that contracts a multiply and an add into an FMA (with -march
/// flags that have one, under GCC's default -ffp-contract=fast) changes the
/// last bits; so does a torch running another BLAS.

#include <cmath>

#include <Eigen/Core>

namespace descent::detail {

/// \brief a·b summed one product at a time, first to last, as the reference
/// BLAS ddot.
///
/// One accumulator, so not vectorized: on vectors larger than the caches
/// the dot is bound by memory bandwidth either way; on small ones it costs
/// about one add latency per element.
template <typename Vector>
typename Vector::Scalar dot_in_order(const Vector& a, const Vector& b) {
  using S = typename Vector::Scalar;
  const S* x = a.data();
  const S* y = b.data();
  S sum = 0;
  for (Eigen::Index i = 0, n = a.size(); i < n; ++i) sum += x[i] * y[i];
  return sum;
}

/// \brief Σ|gᵢ| in the order of ATen's cascade sum with AVX2 vectors
/// (4 doubles or 8 floats): the vectors are dealt round-robin to 4
/// independent chains, each chain a 4-level cascade whose lowest level
/// takes 2^p vectors (p = max(4, ⌈log₂(chain length)⌉ / 4)) before it is
/// added into the next; then the leftover vectors go into chain 0, the
/// chains are folded into chain 0, and the lanes, left to right, are added
/// to the sum of the elements past the last whole vector.
template <typename Vector>
typename Vector::Scalar cascade_sum_abs(const Vector& v) {
  using S = typename Vector::Scalar;
  constexpr Eigen::Index kWidth = sizeof(S) == 8 ? 4 : 8, kChains = 4, kLevels = 4;
  const S* x = v.data();
  const Eigen::Index n = v.size();
  const Eigen::Index vectors = n / kWidth;
  const Eigen::Index size = vectors / kChains;  // vectors per chain
  Eigen::Index ceil_log2 = 0;
  while ((Eigen::Index(1) << ceil_log2) < size) ++ceil_log2;
  const Eigen::Index level_power = ceil_log2 / kLevels > 4 ? ceil_log2 / kLevels : 4;
  const Eigen::Index level_step = Eigen::Index(1) << level_power;
  const Eigen::Index level_mask = level_step - 1;
  S acc[kLevels][kChains][kWidth] = {};
  const auto absorb = [&](S(&into)[kWidth], Eigen::Index vector) {
    for (Eigen::Index w = 0; w < kWidth; ++w) into[w] += std::abs(x[vector * kWidth + w]);
  };
  const auto drain = [&](Eigen::Index level, bool clear) {
    for (Eigen::Index c = 0; c < kChains; ++c) {
      for (Eigen::Index w = 0; w < kWidth; ++w) {
        acc[level][c][w] += acc[level - 1][c][w];
        if (clear) acc[level - 1][c][w] = 0;
      }
    }
  };
  Eigen::Index i = 0;
  while (i + level_step <= size) {
    for (Eigen::Index j = 0; j < level_step; ++j, ++i) {
      for (Eigen::Index c = 0; c < kChains; ++c) absorb(acc[0][c], i * kChains + c);
    }
    for (Eigen::Index level = 1; level < kLevels; ++level) {
      drain(level, true);
      if ((i & (level_mask << (level * level_power))) != 0) break;
    }
  }
  for (; i < size; ++i) {
    for (Eigen::Index c = 0; c < kChains; ++c) absorb(acc[0][c], i * kChains + c);
  }
  for (Eigen::Index level = 1; level < kLevels; ++level) drain(level, false);
  S(&top)[kChains][kWidth] = acc[kLevels - 1];
  for (Eigen::Index k = size * kChains; k < vectors; ++k) absorb(top[0], k);
  for (Eigen::Index c = 1; c < kChains; ++c) {
    for (Eigen::Index w = 0; w < kWidth; ++w) top[0][w] += top[c][w];
  }
  S sum = 0;
  for (Eigen::Index k = vectors * kWidth; k < n; ++k) sum += std::abs(x[k]);
  for (Eigen::Index w = 0; w < kWidth; ++w) sum += top[0][w];
  return sum;
}

}  // namespace descent::detail
