#pragma once
/// \file
/// The compute floor: for each optimizer, a kernel that does, per element,
/// only the IEEE square roots and divisions the optimizer's update does, on
/// data that stays in L1, in the packets descent's kernels use. In cache a
/// step cannot be faster than its square roots and divisions, out of cache
/// not faster than its bytes (floor.hpp): the roofline is the larger of the
/// two floors, and descent's time over it says how far a step is from both.

#include "stepper.hpp"

#include <algorithm>

#include <descent/detail/simd.hpp>

namespace bench {

/// The packet square roots and divisions per element of an update.
struct Ops {
  int sqrts = 0;
  int divs = 0;
  bool any() const { return sqrts + divs > 0; }
};

/// Elements of the L1-resident block the compute floor works on (three
/// arrays of it: 48 KiB in double).
constexpr Index kComputeBlock = 2048;

/// For n elements: y = x / √z (1 root, 1 division), y = x / z (0, 1),
/// y = √x / √z (2, 1) or y = √x / √z / √z (2, 2), over the same block again
/// and again. Every element
/// is independent, so the roots and divisions pipeline: the time is their
/// throughput. Out of line, as floor_kernel.
template <int Sqrts, int Divs, typename S>
[[gnu::noinline]] void compute_kernel(S* __restrict y, const S* __restrict x, const S* __restrict z,
                                      Index n) {
  for (Index done = 0; done < n; done += kComputeBlock) {
    descent::detail::simd::for_each<S>(0, std::min(kComputeBlock, n - done),
                                       [=](auto lanes, Index i) {
                                         using V = decltype(lanes);
                                         V a = V::load(x + i), b = V::load(z + i);
                                         if constexpr (Sqrts >= 1) b = sqrt(b);
                                         if constexpr (Sqrts >= 2) a = sqrt(a);
                                         if constexpr (Divs >= 1) a = a / b;
                                         if constexpr (Divs >= 2) a = a / b;
                                         a.store(y + i);
                                       });
  }
}

template <typename S>
using ComputeKernel = void (*)(S*, const S*, const S*, Index);

/// compute_kernel for ops, or nullptr for an update without roots and
/// divisions (its roofline is its byte floor).
template <typename S>
ComputeKernel<S> compute_for(Ops ops) {
  if (ops.sqrts == 1 && ops.divs == 1) return &compute_kernel<1, 1, S>;
  if (ops.sqrts == 0 && ops.divs == 1) return &compute_kernel<0, 1, S>;
  if (ops.sqrts == 2 && ops.divs == 1) return &compute_kernel<2, 1, S>;
  if (ops.sqrts == 2 && ops.divs == 2) return &compute_kernel<2, 2, S>;
  return nullptr;
}

/// Runs a compute kernel over n elements of its L1-resident block. The
/// three arrays are 64 bytes off a common page offset from one another, so
/// that loads from one never wait on stores to another (4K aliasing).
template <typename S>
class ComputeStepper final : public Stepper<S> {
 public:
  ComputeStepper(ComputeKernel<S> kernel, Index n)
      : kernel_(kernel), n_(n), block_(3 * kComputeBlock + 2 * kLine) {
    for (Index i = 0; i < kComputeBlock; ++i) {
      x()[i] = S(1) + S(i % 7) / S(8);
      z()[i] = S(2) + S(i % 5) / S(4);
      y()[i] = S(0);
    }
  }
  void step() override { kernel_(y(), x(), z(), n_); }
  std::vector<Span<S>> written() const override { return {{block_.data(), kComputeBlock}}; }

 private:
  static constexpr Index kLine = 64 / Index(sizeof(S));  // elements of a cache line
  S* y() { return block_.data(); }
  S* x() { return block_.data() + kComputeBlock + kLine; }
  S* z() { return block_.data() + 2 * kComputeBlock + 2 * kLine; }

  ComputeKernel<S> kernel_;
  Index n_;
  Array<S> block_;
};

}  // namespace bench
