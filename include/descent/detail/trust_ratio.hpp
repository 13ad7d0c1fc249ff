#pragma once
/// \file
/// What LAMB and LARS share: the Euclidean norms of the parameters and of
/// the raw update over the whole tensor, summed in an order that does not
/// depend on set_threads, and optax's trust ratio made of them.
///
/// A step's element loop is cut into thread chunks that start at multiples
/// of kChunkAlign (256) elements, and within a chunk its packets start at the
/// chunk's start. So every group of 256 elements [256·k, 256·k + 256) lies in one
/// chunk, is run by one thread, in order, and in the same packets whatever
/// the thread count. The squares of a group are summed lane by lane of its
/// packets, the lanes then added in double in a fixed tree and the tail
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

/// Elements per group whose sums of squares are stored: kChunkAlign, so
/// that no group is cut by a thread chunk. (At 64, a group's lanes cost as
/// much to add up as its squares in float; at 256, a quarter.)
constexpr Eigen::Index kNormGroup = kChunkAlign;

/// Number of groups of n elements.
constexpr Eigen::Index norm_groups(Eigen::Index n) { return (n + kNormGroup - 1) / kNormGroup; }

/// The sums of squares of two arrays a and b over one group, carried by a
/// kernel body from packet to packet (each thread runs its own copy of the
/// body, so each its own SquareSums), and stored per group in
/// sums[2·k] (a) and sums[2·k + 1] (b) when group k is complete. Within a
/// group the squares are summed in S, lane by lane of its packets (at most
/// 256/lanes terms a lane); the lanes are then added in double in a fixed
/// tree, the tail last. A float square above float's range makes a group's
/// sum +inf: see norm_of, which then sums again in double.
template <typename S>
class SquareSums {
  using P = simd::Pack<S>;
  using A = std::conditional_t<(P::size > 1), P, simd::One<S>>;

 public:
  SquareSums(double* sums, Eigen::Index n) : sums_(sums), n_(n) {}

  /// Adds the squares of a and b, the lanes of elements i … i + V::size − 1.
  template <typename V>
  void add(Eigen::Index i, V a, V b) const {
    if constexpr (V::size > 1) {
      pack_a_ = pack_a_ + a * a;
      pack_b_ = pack_b_ + b * b;
    } else {
      tail_a_ = tail_a_ + (a * a).v;
      tail_b_ = tail_b_ + (b * b).v;
    }
    const Eigen::Index end = i + V::size;
    if (end % kNormGroup == 0 || end == n_) flush((end - 1) / kNormGroup);
  }

 private:
  static double lanes_sum(A pack, S tail) { return simd::lanes_in_double<S>(pack) + double(tail); }

  void flush(Eigen::Index group) const {
    sums_[2 * group] = lanes_sum(pack_a_, tail_a_);
    sums_[2 * group + 1] = lanes_sum(pack_b_, tail_b_);
    pack_a_ = pack_b_ = A(S(0));
    tail_a_ = tail_b_ = S(0);
  }

  double* sums_;
  Eigen::Index n_;
  mutable A pack_a_ = A(S(0));
  mutable A pack_b_ = A(S(0));
  mutable S tail_a_ = S(0);
  mutable S tail_b_ = S(0);
};

/// Σ value(i)² over i in [0, n), in double, in order: the sum again where
/// a group's sum in S overflowed (float elements above about 1.8e19).
template <typename Value>
double sum_of_squares(Eigen::Index n, const Value& value) {
  double sum = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    const double v = double(value(i));
    sum += v * v;
  }
  return sum;
}

/// The norms √Σa² and √Σb² from the groups' sums that SquareSums stored for
/// n elements, the groups added in order; where a sum is +inf (a float
/// square overflowed), a(i) or b(i) are summed again in double.
struct Norms {
  double a;
  double b;
};
template <typename A, typename B>
Norms norms_of(const double* sums, Eigen::Index n, const A& a, const B& b) {
  double sa = 0, sb = 0;
  const Eigen::Index groups = norm_groups(n);
  for (Eigen::Index k = 0; k < groups; ++k) {
    sa += sums[2 * k];
    sb += sums[2 * k + 1];
  }
  if (std::isinf(sa)) sa = sum_of_squares(n, a);
  if (std::isinf(sb)) sb = sum_of_squares(n, b);
  return {std::sqrt(sa), std::sqrt(sb)};
}

/// optax's scale_by_trust_ratio (min_norm 0): coefficient·‖θ‖ / (‖u‖ + eps),
/// and 1 where either norm is 0, so that a tensor at 0 (or a zero update)
/// still moves by its raw update. NaN stays NaN.
inline double trust_ratio(double param_norm, double update_norm, double coefficient, double eps) {
  if (param_norm == 0.0 || update_norm == 0.0) return 1.0;
  return coefficient * param_norm / (update_norm + eps);
}

}  // namespace descent::detail
