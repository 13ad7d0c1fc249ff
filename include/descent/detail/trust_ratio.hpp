#pragma once
/// \file
/// What LAMB and LARS share: the Euclidean norms of the parameters and of
/// the raw update over the whole tensor, summed in an order that does not
/// depend on set_threads, and optax's trust ratio made of them.
///
/// A step's element loop is cut into thread chunks that start at multiples
/// of kChunkAlign (64) elements, and within a chunk its packets start at the
/// chunk's start. So every group of 64 elements [64·k, 64·k + 64) lies in one
/// chunk, is run by one thread, in order, and in the same packets whatever
/// the thread count. The squares of a group are summed (in double) lane by
/// lane of its packets, the lanes then added in a fixed tree and the tail
/// last, and the group's sum is stored; the groups' sums are added in order, in double,
/// once the loop is done. The norms are therefore the same bits for any
/// thread count. (An ElementFeed, which cuts the loop where it likes, would
/// change them: such an optimizer cannot be sharded, see whole_tensor.)

#include "kernel.hpp"
#include "simd.hpp"

#include <cmath>
#include <type_traits>

#include <Eigen/Core>

namespace descent::detail {

/// Whether Opt's update of an element depends on the whole tensor (its
/// `static constexpr bool kWholeTensor`), so that a tensor cannot be
/// stepped in pieces: LAMB and LARS.
template <typename Opt, typename = void>
struct whole_tensor : std::false_type {};
template <typename Opt>
struct whole_tensor<Opt, std::void_t<decltype(Opt::kWholeTensor)>>
    : std::bool_constant<Opt::kWholeTensor> {};

/// Elements per group whose sums of squares are stored: kChunkAlign, so
/// that no group is cut by a thread chunk.
constexpr Eigen::Index kNormGroup = kChunkAlign;

/// Number of groups of n elements.
constexpr Eigen::Index norm_groups(Eigen::Index n) { return (n + kNormGroup - 1) / kNormGroup; }

/// The sums of squares of two arrays a and b over one group, carried by a
/// kernel body from packet to packet (each thread runs its own copy of the
/// body, so each its own SquareSums), and stored per group in
/// sums[2·k] (a) and sums[2·k + 1] (b) when group k is complete. Squares
/// are formed and summed in double, so that no float element's square
/// overflows (a float's square is below 2^256).
template <typename S>
class SquareSums {
  static constexpr int kLanes = simd::Pack<S>::size;

 public:
  SquareSums(double* sums, Eigen::Index n) : sums_(sums), n_(n) {}

  /// Adds the squares of a and b, the lanes of elements i … i + V::size − 1.
  template <typename V>
  void add(Eigen::Index i, V a, V b) const {
    if constexpr (V::size > 1) {
      S la[V::size], lb[V::size];
      a.store(la);
      b.store(lb);
      for (int k = 0; k < V::size; ++k) {
        const double da = double(la[k]), db = double(lb[k]);
        lanes_a_[k] = lanes_a_[k] + da * da;
        lanes_b_[k] = lanes_b_[k] + db * db;
      }
    } else {
      const double da = double(a.v), db = double(b.v);
      tail_a_ = tail_a_ + da * da;
      tail_b_ = tail_b_ + db * db;
    }
    const Eigen::Index end = i + V::size;
    if (end % kNormGroup == 0 || end == n_) flush((end - 1) / kNormGroup);
  }

 private:
  // The lanes added in a fixed tree, the tail last; the lanes are reset.
  static double lanes_sum(double* lanes, double& tail) {
    for (int width = kLanes / 2; width >= 1; width /= 2) {
      for (int k = 0; k < width; ++k) lanes[k] = lanes[k] + lanes[k + width];
    }
    const double sum = lanes[0] + tail;
    for (int k = 0; k < kLanes; ++k) lanes[k] = 0;
    tail = 0;
    return sum;
  }

  void flush(Eigen::Index group) const {
    sums_[2 * group] = lanes_sum(lanes_a_, tail_a_);
    sums_[2 * group + 1] = lanes_sum(lanes_b_, tail_b_);
  }

  double* sums_;
  Eigen::Index n_;
  mutable double lanes_a_[kLanes] = {};
  mutable double lanes_b_[kLanes] = {};
  mutable double tail_a_ = 0;
  mutable double tail_b_ = 0;
};

/// The norms √Σa² and √Σb² from the groups' sums that SquareSums stored for
/// n elements, the groups added in order.
struct Norms {
  double a;
  double b;
};
inline Norms norms_of(const double* sums, Eigen::Index n) {
  double a = 0, b = 0;
  const Eigen::Index groups = norm_groups(n);
  for (Eigen::Index k = 0; k < groups; ++k) {
    a += sums[2 * k];
    b += sums[2 * k + 1];
  }
  return {std::sqrt(a), std::sqrt(b)};
}

/// optax's scale_by_trust_ratio (min_norm 0): coefficient·‖θ‖ / (‖u‖ + eps),
/// and 1 where either norm is 0, so that a tensor at 0 (or a zero update)
/// still moves by its raw update. NaN stays NaN.
inline double trust_ratio(double param_norm, double update_norm, double coefficient, double eps) {
  if (param_norm == 0.0 || update_norm == 0.0) return 1.0;
  return coefficient * param_norm / (update_norm + eps);
}

}  // namespace descent::detail
