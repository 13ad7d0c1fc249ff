#pragma once
/// \file
/// The strong-Wolfe line search of LBFGS and its cubic interpolation, as
/// torch/optim/lbfgs.py (PyTorch 1.13) writes them in `_strong_wolfe` and
/// `_cubic_interpolate` (ports of lswolfe.lua and polyinterp.lua from
/// torch7's optim package): the same tests in the same order, the same
/// arithmetic grouped the same way, so that in double a run follows
/// PyTorch's to rounding.

#include "torch_order.hpp"

#include <cmath>

namespace descent::detail {

/// Python's max(a, b): a unless b is greater (so NaN in b loses, in a wins).
template <typename S>
S py_max(S a, S b) {
  return b > a ? b : a;
}

/// Python's min(a, b): a unless b is smaller.
template <typename S>
S py_min(S a, S b) {
  return b < a ? b : a;
}

/// \brief The minimiser of the cubic through (x1, f1) and (x2, f2) with
/// slopes g1 and g2, clamped to [lo, hi]; the midpoint of [lo, hi] if the
/// cubic has no minimiser.
template <typename S>
S cubic_interpolate(S x1, S f1, S g1, S x2, S f2, S g2, S lo, S hi) {
  const S d1 = g1 + g2 - S(3) * (f1 - f2) / (x1 - x2);
  const S d2_square = d1 * d1 - g1 * g2;
  if (d2_square >= S(0)) {
    const S d2 = std::sqrt(d2_square);
    const S min_pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + S(2) * d2))
                               : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + S(2) * d2));
    return py_min(py_max(min_pos, lo), hi);
  }
  return (lo + hi) / S(2);
}

/// As above, clamped to the interval between x1 and x2.
template <typename S>
S cubic_interpolate(S x1, S f1, S g1, S x2, S f2, S g2) {
  return x1 <= x2 ? cubic_interpolate(x1, f1, g1, x2, f2, g2, x1, x2)
                  : cubic_interpolate(x1, f1, g1, x2, f2, g2, x2, x1);
}

/// The vectors a line search works in, kept between searches so that a
/// search allocates only the first time.
template <typename Vector>
struct WolfeBuffers {
  Vector g0, g_new, g_prev, bracket_g[2];
};

/// What the line search found: the loss at the accepted step t, and how
/// many times it evaluated the function.
template <typename S>
struct WolfeResult {
  S loss;
  S t;
  long evals;
};

/// \brief Finds a step t along d that satisfies the strong Wolfe conditions
///   f(x + t·d) <= f + c1·t·gtd  and  |∇f(x + t·d)·d| <= −c2·gtd,
/// starting from t: first brackets such a step (extrapolating by cubic
/// interpolation within [t + 0.01·(t − t_prev), 10·t]), then zooms in on it;
/// at most max_ls evaluations after the first, and the zoom stops when the
/// bracket is shorter than tolerance_change / max|d|.
///
/// \param obj obj(t, g) returns the loss at x + t·d and writes its gradient
///   to g.
/// \param g in: the gradient at x; out: the gradient at the accepted step.
/// \param f the loss at x; gtd = g·d, negative.
template <typename S, typename Vector, typename Obj>
WolfeResult<S> strong_wolfe(Obj&& obj, S t, const Vector& d, S f, Vector& g, S gtd,
                            S tolerance_change, WolfeBuffers<Vector>& buf, S c1 = S(1e-4),
                            S c2 = S(0.9), long max_ls = 25) {
  const S d_norm = d.cwiseAbs().maxCoeff();
  buf.g0 = g;
  Vector& g_new = buf.g_new;
  Vector& g_prev = buf.g_prev;
  Vector* bracket_g = buf.bracket_g;
  S f_new = obj(t, g_new);
  long ls_func_evals = 1;
  S gtd_new = dot_in_order(g_new, d);

  // Bracket an interval containing a point satisfying the Wolfe criteria.
  S t_prev = 0, f_prev = f, gtd_prev = gtd;
  g_prev = buf.g0;
  bool done = false;
  long ls_iter = 0;
  S bracket[2] = {0, 0}, bracket_f[2] = {0, 0}, bracket_gtd[2] = {0, 0};
  int bracket_size = 0;
  const auto bracket_pair = [&] {
    bracket[0] = t_prev;
    bracket[1] = t;
    bracket_f[0] = f_prev;
    bracket_f[1] = f_new;
    bracket_g[0] = g_prev;
    bracket_g[1] = g_new;
    bracket_gtd[0] = gtd_prev;
    bracket_gtd[1] = gtd_new;
    bracket_size = 2;
  };
  while (ls_iter < max_ls) {
    if (f_new > (f + c1 * t * gtd) || (ls_iter > 1 && f_new >= f_prev)) {
      bracket_pair();
      break;
    }
    if (std::abs(gtd_new) <= -c2 * gtd) {
      bracket[0] = t;
      bracket_f[0] = f_new;
      bracket_g[0] = g_new;
      bracket_size = 1;
      done = true;
      break;
    }
    if (gtd_new >= S(0)) {
      bracket_pair();
      break;
    }
    // Interpolate.
    const S min_step = t + S(0.01) * (t - t_prev);
    const S max_step = t * S(10);
    const S tmp = t;
    t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, min_step, max_step);
    // Next step.
    t_prev = tmp;
    f_prev = f_new;
    g_prev.swap(g_new);  // g_new is overwritten next
    gtd_prev = gtd_new;
    f_new = obj(t, g_new);
    ++ls_func_evals;
    gtd_new = dot_in_order(g_new, d);
    ++ls_iter;
  }
  if (ls_iter == max_ls) {
    bracket[0] = 0;
    bracket[1] = t;
    bracket_f[0] = f;
    bracket_f[1] = f_new;
    bracket_g[0] = buf.g0;
    bracket_g[1] = g_new;
    bracket_size = 2;
  }

  // Zoom: refine the bracket until a point satisfies the criteria.
  bool insuf_progress = false;
  int low_pos = bracket_f[0] <= bracket_f[bracket_size - 1] ? 0 : 1;
  int high_pos = 1 - low_pos;
  while (!done && ls_iter < max_ls) {
    if (std::abs(bracket[1] - bracket[0]) * d_norm < tolerance_change) break;
    t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1],
                          bracket_gtd[1]);
    // A t close to an end of the bracket, twice in a row or outside it,
    // moves to a tenth of the bracket's length from the nearer end.
    const S top = py_max(bracket[0], bracket[1]);
    const S bottom = py_min(bracket[0], bracket[1]);
    const S eps = S(0.1) * (top - bottom);
    if (py_min(top - t, t - bottom) < eps) {
      if (insuf_progress || t >= top || t <= bottom) {
        t = std::abs(t - top) < std::abs(t - bottom) ? top - eps : bottom + eps;
        insuf_progress = false;
      } else {
        insuf_progress = true;
      }
    } else {
      insuf_progress = false;
    }
    f_new = obj(t, g_new);
    ++ls_func_evals;
    gtd_new = dot_in_order(g_new, d);
    ++ls_iter;

    if (f_new > (f + c1 * t * gtd) || f_new >= bracket_f[low_pos]) {
      // Armijo condition not satisfied or not lower than the lowest point.
      bracket[high_pos] = t;
      bracket_f[high_pos] = f_new;
      bracket_g[high_pos] = g_new;
      bracket_gtd[high_pos] = gtd_new;
      low_pos = bracket_f[0] <= bracket_f[1] ? 0 : 1;
      high_pos = 1 - low_pos;
    } else {
      if (std::abs(gtd_new) <= -c2 * gtd) {
        done = true;
      } else if (gtd_new * (bracket[high_pos] - bracket[low_pos]) >= S(0)) {
        // The old high becomes the new low.
        bracket[high_pos] = bracket[low_pos];
        bracket_f[high_pos] = bracket_f[low_pos];
        bracket_g[high_pos] = bracket_g[low_pos];
        bracket_gtd[high_pos] = bracket_gtd[low_pos];
      }
      // The new point becomes the new low.
      bracket[low_pos] = t;
      bracket_f[low_pos] = f_new;
      bracket_g[low_pos] = g_new;
      bracket_gtd[low_pos] = gtd_new;
    }
  }
  g.swap(bracket_g[low_pos]);
  return {bracket_f[low_pos], bracket[low_pos], ls_func_evals};
}

}  // namespace descent::detail
