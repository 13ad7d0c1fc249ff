#pragma once
/// \file
/// The pieces the per-element update kernels share. Every optimizer's hot
/// path is one body, written once for a packet type V (detail/simd.hpp), that
/// reads params, grad and state once and writes params and state once;
/// for_each_element runs it over the vector in packets, optionally split
/// across threads.

#include "../eps_placement.hpp"
#include "simd.hpp"
#include "thread_pool.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include <Eigen/Core>

namespace descent::detail {

/// Below this many elements a step stays on one thread: measured, handing
/// chunks to other threads costs more than it saves below it (see the
/// README's Performance section).
constexpr Eigen::Index kParallelThreshold = 65536;

/// Thread chunks start at multiples of this many elements (1 or 2 KiB), so
/// that threads stepping an aligned vector do not share a cache line, and
/// so that LAMB's and LARS's groups of squares (trust_ratio.hpp) are never
/// cut. The result does not depend on where the cuts fall: an element's
/// bits are the same in a packet and in a tail (simd.hpp).
constexpr Eigen::Index kChunkAlign = 256;

/// Runs body(V{}, i) over every element of [begin, end), in packets: on the
/// calling thread alone, or, given a pool, in pool->workers() + 1 contiguous
/// chunks at once.
template <typename S, typename Body>
inline void for_each_element(Eigen::Index begin, Eigen::Index end, ThreadPool* pool,
                             const Body& body) {
  if (pool == nullptr) {
    simd::for_each<S>(begin, end, body);
    return;
  }
  const Eigen::Index parts = pool->workers() + 1;
  const Eigen::Index per_part = (end - begin + parts - 1) / parts;
  const Eigen::Index chunk = (per_part + kChunkAlign - 1) / kChunkAlign * kChunkAlign;
  pool->run([&](int k) {
    const Eigen::Index first = std::min(end, begin + Eigen::Index(k) * chunk);
    simd::for_each<S>(first, std::min(end, first + chunk), body);
  });
}

/// for_each_element over [0, n).
template <typename S, typename Body>
inline void for_each_element(Eigen::Index n, ThreadPool* pool, const Body& body) {
  for_each_element<S>(0, n, pool, body);
}

/// Hands an update's element loop out in pieces, in an order of its own,
/// each once its inputs are ready: descent::mpi's Sharded step updates a
/// bucket of its shard as soon as the ranks' pieces of that bucket's
/// gradient have arrived and been averaged. feed(n, run, context) calls
/// run(context, lo, hi) once for each of disjoint ranges [lo, hi) that
/// cover [0, n). An element's update does not depend on the split.
class ElementFeed {
 public:
  using Run = void (*)(const void* context, Eigen::Index lo, Eigen::Index hi);
  virtual void feed(Eigen::Index n, Run run, const void* context) = 0;

 protected:
  ~ElementFeed() = default;
};

/// std::pow(base, exponent), the same bits, remembered for the four latest
/// arguments on this thread: the bias corrections β^t are asked for by
/// every tensor's optimizer of a ParamGroups step with the same β and t.
/// pow takes a slow path, 30–40 ns a call, for results below about e⁻⁵¹²
/// (β₁ = 0.9 from step 4 900 on). Once β^t is below 2⁻¹¹⁰⁰, far under the
/// least subnormal 2⁻¹⁰⁷⁴, pow's result is 0 (its error is under one unit
/// in the last place), and 0 is returned without it (β₁ = 0.9 from step
/// 7 240 on).
inline double power(double base, double exponent) {
  struct Entry {
    double base, exponent, value;
  };
  // zero_from: the exponent past which base^exponent < 2^-1100.
  struct Cutoff {
    double base, zero_from;
  };
  constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  thread_local Entry memo[4] = {
      {kNone, kNone, 0}, {kNone, kNone, 0}, {kNone, kNone, 0}, {kNone, kNone, 0}};
  thread_local Cutoff cutoffs[4] = {{kNone, 0}, {kNone, 0}, {kNone, 0}, {kNone, 0}};
  thread_local unsigned next = 0, next_cutoff = 0;
  for (const Entry& e : memo) {
    if (e.base == base && e.exponent == exponent) return e.value;
  }
  if (base > 0 && base < 1 && exponent > 0) {
    const Cutoff* cutoff = nullptr;
    for (const Cutoff& c : cutoffs) {
      if (c.base == base) cutoff = &c;
    }
    if (cutoff == nullptr) {
      // log2(base) < 0 to a relative 1e-15: a margin of 26 binades over
      // the least subnormal absorbs it for any exponent.
      cutoffs[next_cutoff % 4] = {base, -1100.0 / std::log2(base)};
      cutoff = &cutoffs[next_cutoff++ % 4];
    }
    if (exponent > cutoff->zero_from) return 0.0;
  }
  const double value = std::pow(base, exponent);
  memo[next++ % 4] = {base, exponent, value};
  return value;
}

/// The index of the first element of g[0, n) that is NaN or ±inf, or −1.
/// One vectorized read of g: g·0 is 0 for a finite g and NaN otherwise, so
/// the sum stays 0 unless something is wrong; only then is g searched.
template <typename S>
inline Eigen::Index first_nonfinite(const S* g, Eigen::Index n) {
  using P = simd::Pack<S>;
  Eigen::Index i = 0;
  bool bad = false;
  if constexpr (P::size > 1) {
    // Four independent sums, so the adds do not wait on each other.
    const P zero(S(0));
    P s0 = zero, s1 = zero, s2 = zero, s3 = zero;
    for (; i + 4 * P::size <= n; i += 4 * P::size) {
      s0 = s0 + P::load(g + i) * zero;
      s1 = s1 + P::load(g + i + P::size) * zero;
      s2 = s2 + P::load(g + i + 2 * P::size) * zero;
      s3 = s3 + P::load(g + i + 3 * P::size) * zero;
    }
    for (; i + P::size <= n; i += P::size) s0 = s0 + P::load(g + i) * zero;
    S lanes[P::size];
    ((s0 + s1) + (s2 + s3)).store(lanes);
    for (const S lane : lanes) bad = bad || std::isnan(lane);
  }
  for (; i < n; ++i) bad = bad || !std::isfinite(g[i]);
  if (bad) {
    for (Eigen::Index k = 0; k < n; ++k) {
      if (!std::isfinite(g[k])) return k;
    }
  }
  return -1;
}

/// Calls f(std::integral_constant<EpsPlacement, p>{}) for the runtime p, so a
/// kernel is compiled once per placement and the branch is out of the loop.
/// EpsHat, which differs from OutsideSqrt only in its per-step scalars, runs
/// the OutsideSqrt kernel.
template <typename F>
inline void with_placement(EpsPlacement p, F&& f) {
  if (p == EpsPlacement::InsideSqrt) {
    f(std::integral_constant<EpsPlacement, EpsPlacement::InsideSqrt>{});
  } else {
    f(std::integral_constant<EpsPlacement, EpsPlacement::OutsideSqrt>{});
  }
}

/// Calls f(std::bool_constant<b>{}) for the runtime b: an option that adds
/// work to the loop is compiled in only where it is on.
template <typename F>
inline void with_flag(bool b, F&& f) {
  if (b) {
    f(std::true_type{});
  } else {
    f(std::false_type{});
  }
}

/// What every optimizer does before its own update (PyTorch's and Keras's
/// order): d = −g with maximize; then, with weight decay λ, either
/// d ← d + λ·θ (L2) or θ ← (1 − lr·λ)·θ (decoupled_weight_decay, as AdamW
/// and every Keras optimizer). active() is false for the plain options,
/// whose kernels then skip it.
template <typename S>
struct GradientAdjust {
  S sign = S(1);
  S l2 = S(0);
  S keep = S(1);

  template <typename Options>
  static GradientAdjust from(const Options& o, S lr) {
    const bool decoupled = o.decoupled_weight_decay;
    return {o.maximize ? S(-1) : S(1), decoupled ? S(0) : o.weight_decay,
            decoupled ? static_cast<S>(1.0 - double(lr) * double(o.weight_decay)) : S(1)};
  }
  bool active() const noexcept { return sign != S(1) || l2 != S(0) || keep != S(1); }

  /// d for gradient g at params x, decaying x in place (g itself, x
  /// untouched, unless kActive).
  template <bool kActive, typename V>
  V operator()(V g, V& x) const {
    if constexpr (kActive) {
      const V d = V(sign) * g + V(l2) * x;
      x = V(keep) * x;
      return d;
    } else {
      return g;
    }
  }
};

/// The denominator of the adaptive methods: sqrt(v + eps) (InsideSqrt, the
/// lecture's form) or sqrt(v) + eps (OutsideSqrt, Kingma & Ba's and
/// PyTorch's). The sqrt is correctly rounded; reproducing reference
/// trajectories depends on that.
template <EpsPlacement P, typename V>
inline V denominator(V v, V eps) {
  if constexpr (P == EpsPlacement::InsideSqrt) {
    return sqrt(v + eps);
  } else {
    return sqrt(v) + eps;
  }
}

/// θ ← θ − a·d, d = adjust(g, θ) (which may decay θ first).
template <bool kAdjust, typename S>
inline auto gradient_body(S* x, const S* g, S a, GradientAdjust<S> adjust) {
  return [=](auto lanes, Eigen::Index i) {
    using V = decltype(lanes);
    V xi = V::load(x + i);
    const V di = adjust.template operator()<kAdjust>(V::load(g + i), xi);
    (xi - V(a) * di).store(x + i);
  };
}

/// The velocity update shared by SGD (Keras's form), Momentum and Nesterov:
///
///     d = adjust(g, θ)
///     v ← mu·v − a·d
///     θ ← θ + v              (heavy ball)
///     θ ← θ + (mu·v − a·d)   (Nesterov, θ holding the look-ahead point)
///
/// with a the step's effective rate (lr_t for SGD, (1 − β)·lr for the
/// lecture's dampened forms). v points to S or is a Bf16State.
template <bool kNesterov, bool kAdjust, typename S, typename State>
inline auto velocity_body(S* x, const S* g, State v, S mu, S a, GradientAdjust<S> adjust) {
  return [=](auto lanes, Eigen::Index i) {
    using V = decltype(lanes);
    V xi = V::load(x + i);
    const V di = adjust.template operator()<kAdjust>(V::load(g + i), xi);
    const V vi = V(mu) * V::load(v + i) - V(a) * di;
    vi.store(v + i);
    if constexpr (kNesterov) {
      (xi + (V(mu) * vi - V(a) * di)).store(x + i);
    } else {
      (xi + vi).store(x + i);
    }
  };
}

/// SGD's velocity in PyTorch's form (dampening 1 − c, c = 1 on the first
/// step, where the buffer b is zero):
///
///     d = adjust(g, θ)
///     b ← mu·b + c·d
///     θ ← θ − a·b             (heavy ball)
///     θ ← θ − a·(d + mu·b)    (Nesterov)
template <bool kNesterov, bool kAdjust, typename S, typename State>
inline auto buffer_body(S* x, const S* g, State b, S mu, S c, S a, GradientAdjust<S> adjust) {
  return [=](auto lanes, Eigen::Index i) {
    using V = decltype(lanes);
    V xi = V::load(x + i);
    const V di = adjust.template operator()<kAdjust>(V::load(g + i), xi);
    const V bi = V(mu) * V::load(b + i) + V(c) * di;
    bi.store(b + i);
    if constexpr (kNesterov) {
      (xi - V(a) * (di + V(mu) * bi)).store(x + i);
    } else {
      (xi - V(a) * bi).store(x + i);
    }
  };
}

}  // namespace descent::detail
