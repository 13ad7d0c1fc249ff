#pragma once
/// \file
/// Helpers for the per-element update kernels. Every optimizer's hot path is
/// one loop over raw, non-aliasing pointers that reads params, grad and state
/// once and writes params and state once; these are the pieces they share.

#include <Eigen/Core>
#include <cmath>

#include "../eps_placement.hpp"

#if defined(__GNUC__) || defined(__clang__) || defined(_MSC_VER)
#define DESCENT_RESTRICT __restrict
#else
#define DESCENT_RESTRICT
#endif

namespace descent::detail {

/// The denominator of the adaptive methods for one coordinate: sqrt(v + eps)
/// (InsideSqrt, the lecture's form) or sqrt(v) + eps (OutsideSqrt, the form of
/// Kingma & Ba and PyTorch). std::sqrt is correctly rounded; reproducing
/// reference trajectories depends on that.
template <EpsPlacement P, typename S>
inline S denominator(S v, S eps) noexcept {
  if constexpr (P == EpsPlacement::InsideSqrt) {
    return std::sqrt(v + eps);
  } else {
    return std::sqrt(v) + eps;
  }
}

/// Calls kernel(begin, end) over [0, n). The kernels take index ranges so the
/// range can be split without touching them.
template <typename Kernel>
inline void for_range(Eigen::Index n, Kernel&& kernel) {
  kernel(Eigen::Index{0}, n);
}

/// The velocity update shared by SGD (Keras form), Momentum and Nesterov:
///
///     v ← mu·v − a·g
///     θ ← θ + v              (heavy ball)
///     θ ← θ + mu·v − a·g     (Nesterov, θ holding the look-ahead point)
///
/// with a the step's effective rate (lr_t for SGD, (1 − β)·lr for the
/// lecture's dampened forms).
template <bool kNesterov, typename S>
inline void velocity_kernel(S* DESCENT_RESTRICT x, const S* DESCENT_RESTRICT g,
                            S* DESCENT_RESTRICT v, Eigen::Index n, S mu, S a) noexcept {
  for (Eigen::Index i = 0; i < n; ++i) {
    const S vi = mu * v[i] - a * g[i];
    v[i] = vi;
    if constexpr (kNesterov) {
      x[i] += mu * vi - a * g[i];
    } else {
      x[i] += vi;
    }
  }
}

/// θ ← θ − a·g.
template <typename S>
inline void gradient_kernel(S* DESCENT_RESTRICT x, const S* DESCENT_RESTRICT g, Eigen::Index n,
                            S a) noexcept {
  for (Eigen::Index i = 0; i < n; ++i) x[i] -= a * g[i];
}

}  // namespace descent::detail
