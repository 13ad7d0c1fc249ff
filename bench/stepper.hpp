#pragma once
/// \file
/// What every contender in descent_bench shares: how its arrays are filled,
/// the Stepper interface the timed loop calls, and the Buffers the floor and
/// naive contenders keep.

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include <Eigen/Core>

namespace bench {

using Index = Eigen::Index;

template <typename S>
using Array = Eigen::Array<S, Eigen::Dynamic, 1>;

/// A reproducible value in [0, 1) for element i; salt picks the stream. A
/// multiplicative hash, not a random generator, so that filling 16M elements
/// costs milliseconds.
inline double unit_hash(std::uint64_t i, std::uint64_t salt) {
  const std::uint64_t h = (i + 1 + (salt << 40)) * 0x9E3779B97F4A7C15ull;
  return double(h >> 11) * 0x1p-53;
}

/// Starting parameters, in [-1, 1).
template <typename S>
void fill_params(S* x, Index n) {
  for (Index i = 0; i < n; ++i) x[i] = S(2 * unit_hash(std::uint64_t(i), 1) - 1);
}

/// The fixed gradient: magnitudes in [0.25, 1), either sign. Bounded away from
/// zero so that no moving average decays towards the subnormal range, and
/// bounded so that no accumulator overflows in any run this suite makes.
template <typename S>
void fill_grad(S* g, Index n) {
  for (Index i = 0; i < n; ++i) {
    const double u = unit_hash(std::uint64_t(i), 2);
    const double magnitude = 0.25 + 0.75 * (2 * u - double(u >= 0.5));
    g[i] = S(u >= 0.5 ? magnitude : -magnitude);
  }
}

/// A read-only view of one array a step writes.
template <typename S>
struct Span {
  const S* data;
  Index size;
};

/// One contender set up for n elements: it owns its parameters, gradient and
/// state, and step() is the work the timed loop measures.
template <typename S>
class Stepper {
 public:
  virtual ~Stepper() = default;
  /// One in-place update of the parameters from the fixed gradient.
  virtual void step() = 0;
  /// The arrays step() writes that the harness can see (the parameters at
  /// least), checked after timing for NaN, infinities and subnormals.
  virtual std::vector<Span<S>> written() const = 0;
};

/// Params x, grad g and up to three state arrays s0, s1, s2 (zero at the start), as
/// the contenders keep them (descent and libtorch keep their state
/// themselves).
///
/// The arrays are carved from one page-aligned block, one after the other
/// with a gap of three pages and 1088 bytes (17 cache lines) between them.
/// Placement changes the floor's time by up to 2x, so it is fixed here, the
/// same in every run and for every contender: arrays that start at the same
/// offset in a 4 KiB page make loads from one wait for stores to the other
/// (4K aliasing, up to 2x at 4 096 elements), and arrays a power of two plus
/// less than a page apart were 20-40% slower at 16M elements on this machine
/// (fresh memory is largely physically contiguous, so they collide in the
/// same DRAM banks).
template <typename S>
class Buffers {
  struct Free {
    void operator()(void* p) const noexcept { std::free(p); }
  };
  std::unique_ptr<void, Free> block_;  // first: the maps below point into it

 public:
  Buffers(Index n, int state_arrays)
      : block_(allocate(n, 2 + state_arrays)),
        x(at(0, n), n),
        g(at(1, n), n),
        s0(state_arrays >= 1 ? at(2, n) : nullptr, state_arrays >= 1 ? n : 0),
        s1(state_arrays >= 2 ? at(3, n) : nullptr, state_arrays >= 2 ? n : 0),
        s2(state_arrays >= 3 ? at(4, n) : nullptr, state_arrays >= 3 ? n : 0) {
    fill_params(x.data(), n);
    fill_grad(g.data(), n);
    s0.setZero();
    s1.setZero();
    s2.setZero();
  }

  Eigen::Map<Array<S>> x, g, s0, s1, s2;

  /// x and the state arrays in use.
  std::vector<Span<S>> written() const {
    std::vector<Span<S>> spans{{x.data(), x.size()}};
    for (const auto* s : {&s0, &s1, &s2}) {
      if (s->size() > 0) spans.push_back({s->data(), s->size()});
    }
    return spans;
  }

 private:
  static constexpr std::size_t kPage = 4096;
  static constexpr std::size_t kGap = 3 * kPage + 1088;

  static std::size_t stride(Index n) {
    const std::size_t bytes = std::size_t(n) * sizeof(S);
    return (bytes + kPage - 1) / kPage * kPage + kGap;
  }
  static std::unique_ptr<void, Free> allocate(Index n, int arrays) {
    const std::size_t bytes = (std::size_t(arrays) * stride(n) + kPage - 1) / kPage * kPage;
    void* p = std::aligned_alloc(kPage, bytes);
    if (p == nullptr) throw std::bad_alloc();
    return std::unique_ptr<void, Free>(p);
  }
  S* at(int k, Index n) const {
    return reinterpret_cast<S*>(static_cast<char*>(block_.get()) + std::size_t(k) * stride(n));
  }
};

}  // namespace bench
