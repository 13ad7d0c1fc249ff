#pragma once
/// \file
/// LBFGS: limited-memory BFGS over the whole batch, as torch.optim.LBFGS of
/// PyTorch 1.13, with its optional strong-Wolfe line search.

#include "checkpoint.hpp"
#include "detail/check.hpp"
#include "detail/serialize.hpp"
#include "detail/strong_wolfe.hpp"
#include "detail/torch_order.hpp"
#include "nonfinite.hpp"
#include "optimizer.hpp"

#include <cmath>
#include <cstdint>
#include <istream>
#include <limits>
#include <memory>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

namespace descent {

/// How LBFGS chooses the length t of each move along its direction.
enum class LineSearch {
  None,  ///< t = lr (the first iteration: min(1, 1/‖g‖₁)·lr); torch's line_search_fn=None
  StrongWolfe  ///< a strong-Wolfe search from that t; torch's line_search_fn="strong_wolfe"
};

/// \brief L-BFGS (Nocedal & Wright, Numerical Optimization, 2nd ed., algorithms
/// 7.4 and 7.5; Liu & Nocedal 1989) over the full batch: each step() runs up
/// to max_iter quasi-Newton iterations on a function that the caller's
/// closure evaluates, as torch.optim.LBFGS.step(closure) of PyTorch 1.13 does.
///
/// \tparam Scalar_ float or double.
///
/// Inputs: lr, max_iter, max_eval, tolerance_grad, tolerance_change,
/// history_size (m), min_curvature, line_search, and a closure f that returns the loss at x
/// and writes its gradient g. State, kept across step() calls: func_evals,
/// n_iter (both totals), direction d, step length t, the pairs
/// (yᵢ, sᵢ) with ρᵢ = 1/(yᵢ·sᵢ), oldest first (at most m), H_diag,
/// prev_flat_grad, prev_loss. Per step():
///
///     loss₀, g ← f(x);  func_evals += 1;  evals = 1
///     if max|g| <= tolerance_grad: return loss₀
///     loss ← loss₀
///     repeat k = 1 … max_iter:
///       n_iter += 1
///       if n_iter = 1:  d ← −g;  forget the pairs;  H_diag ← 1
///       else:
///         y ← g − prev_flat_grad;  s ← d·t;  ys ← y·s
///         if ys > min_curvature:               (curvature check; torch: 1e-10)
///           drop the oldest pair if there are m;  append (y, s, 1/ys)
///           H_diag ← ys / (y·y)
///         q ← −g                                (two-loop recursion)
///         for i = newest … oldest:  αᵢ ← (sᵢ·q)·ρᵢ;  q ← q − αᵢ·yᵢ
///         d ← H_diag·q
///         for i = oldest … newest:  βᵢ ← (yᵢ·d)·ρᵢ;  d ← d + (αᵢ − βᵢ)·sᵢ
///       prev_flat_grad ← g;  prev_loss ← loss
///       t ← min(1, 1/‖g‖₁)·lr if n_iter = 1, else lr
///       gtd ← g·d;  if gtd > −tolerance_change: stop
///       StrongWolfe: (loss, g, t) ← line search from t along d (c1 = 1e-4,
///                    c2 = 0.9, at most 25 evaluations, detail/strong_wolfe.hpp);
///                    x ← x + t·d;  evals, func_evals += its evaluations
///       None:        x ← x + t·d;  unless k = max_iter:
///                    loss, g ← f(x);  evals, func_evals += 1
///       stop if k = max_iter, evals >= max_eval, max|g| <= tolerance_grad,
///            max|d·t| <= tolerance_change or |loss − prev_loss| < tolerance_change
///     return loss₀
///
/// The defaults are torch's, and so is the arithmetic, grouped the same way:
/// the moves x + t·d and the two-loop's updates are fused multiply-adds, as
/// torch's add_(…, alpha=) computes them on AVX2; dot products and ‖g‖₁ are
/// summed in torch's orders (detail/torch_order.hpp). In double a run of
/// torch.optim.LBFGS(params, lr, max_iter, max_eval, tolerance_grad,
/// tolerance_change, history_size, line_search_fn) is then reproduced bit
/// for bit wherever the closure's own numbers are (tests/test_lbfgs.cpp,
/// against trajectories recorded from PyTorch 1.13); a last-bit difference
/// would otherwise grow to 1e-7 along Rosenbrock's valley within a few
/// dozen iterations. In float torch keeps some scalars in Python doubles, so
/// runs with strong Wolfe drift apart after a few dozen iterations. Like
/// torch's, the loop ends when the directional derivative is no longer
/// negative, so a direction that is not one of descent ends the step
/// instead of raising.
///
/// LBFGS is not an Optimizer<Scalar>: its step needs the function, not one
/// gradient, so it is not in make_optimizer's registry, and the schedulers,
/// which drive an Optimizer<Scalar>, do not apply (set_lr() between steps
/// does). It has no weight decay or maximize: fold them into the closure.
///
/// \note Memory: besides the history's 2·m vectors of the parameters' size
/// (allocated as pairs are stored), about eight work vectors; with
/// nonfinite = Throw or Skip, one more copy of the whole state.
template <typename Scalar_>
class LBFGS {
  static_assert(std::is_same<Scalar_, float>::value || std::is_same<Scalar_, double>::value,
                "descent::LBFGS: Scalar must be float or double");

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;
  /// The vectors the closure receives.
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  /// \brief The hyperparameters; the constructor checks them.
  ///
  /// | field | default | valid | meaning |
  /// |---|---|---|---|
  /// | `lr` | 1 | finite, >= 0 | initial step length (scaled on the first iteration) |
  /// | `max_iter` | 20 | >= 1 | iterations per step() |
  /// | `max_eval` | 0 | >= 0 | evaluations per step() after which it stops; 0: max_iter·5/4 |
  /// | `tolerance_grad` | 1e-7 | finite, >= 0 | stop when max\|g\| is at most this |
  /// | `tolerance_change` | 1e-9 | finite, >= 0 | stop when the loss or x changes less |
  /// | `history_size` | 100 | >= 1 | pairs (y, s) kept |
  /// | `min_curvature` | 1e-10 | finite, >= 0 | a pair is stored only if y·s exceeds it |
  /// | `line_search` | None | LineSearch | fixed steps or strong Wolfe |
  /// | `nonfinite` | Propagate | NonFinite | what a step does with a NaN or ±inf loss or gradient |
  struct Options {
    /// Step length t of every iteration but the very first, whose is
    /// min(1, 1/‖g‖₁)·lr; with StrongWolfe, where the search starts. Finite
    /// and >= 0. Default 1.
    Scalar lr = Scalar(1);
    /// Iterations per step(); >= 1. Default 20.
    int max_iter = 20;
    /// A step() stops after an iteration that brings its evaluations to
    /// max_eval or more; >= 0, where 0 (the default) stands for
    /// max_iter·5/4 rounded down, torch's max_eval=None.
    int max_eval = 0;
    /// First-order optimality: a step stops (or does not start) when
    /// max|g| <= tolerance_grad. Finite and >= 0. Default 1e-7.
    Scalar tolerance_grad = Scalar(1e-7);
    /// A step stops when the loss changes by less, when every coordinate
    /// moves by at most this much, when g·d > −tolerance_change, and the
    /// line search stops zooming when its bracket, times max|d|, is shorter.
    /// Finite and >= 0. Default 1e-9.
    Scalar tolerance_change = Scalar(1e-9);
    /// Pairs (y, s) the inverse-Hessian approximation is built from; >= 1.
    /// Default 100.
    int history_size = 100;
    /// A pair (y, s) is stored only when y·s > min_curvature. Finite and
    /// >= 0. Default 1e-10, the constant torch.optim.LBFGS hard-codes. Being
    /// absolute, it stops the updates once the steps get short (near a
    /// minimum y·s falls below 1e-10 long before the gradient is small), and
    /// the method then converges only linearly on the last pairs it stored;
    /// 0 keeps every pair of positive curvature (bench/README.md measures
    /// the difference).
    Scalar min_curvature = Scalar(1e-10);
    /// Fixed steps (None, the default) or a strong-Wolfe line search.
    LineSearch line_search = LineSearch::None;
    /// What a step does when the closure returns a NaN or ±inf loss or
    /// gradient element. Propagate (default, torch's): nothing, it flows
    /// on. Throw: std::domain_error; Skip: the step is abandoned and counted
    /// in skipped_steps(). Either way params and the state stay as they were
    /// before the step.
    NonFinite nonfinite = NonFinite::Propagate;
  };

  /// The name of checkpoints and messages.
  static constexpr std::string_view kName = "LBFGS";
  /// "LBFGS".
  std::string_view name() const noexcept { return kName; }

  /// \throws std::invalid_argument if an option is out of range.
  explicit LBFGS(Options options = {}) : options_(checked(options)) {}

  /// The options, with lr as currently set.
  Options options() const { return options_; }

  /// The lr the next step uses.
  Scalar lr() const noexcept { return options_.lr; }
  /// \throws std::invalid_argument unless lr is finite and >= 0.
  void set_lr(Scalar lr) {
    detail::check_nonnegative(kName, "lr", lr);
    options_.lr = lr;
  }

  /// max_eval as a step uses it: max_iter·5/4 if the option is 0.
  long max_eval() const noexcept { return effective_max_eval(options_); }

  /// \brief Runs up to max_iter iterations from params, in place.
  ///
  /// \param params any writable Eigen dense object whose elements are stored
  ///   contiguously (VectorX, ArrayX, MatrixX, a Map over user memory, a
  ///   segment), treated as a flat vector in its storage order. It is read
  ///   at the start and written once, at the end.
  /// \param f the function: `f(const Vector& x, Vector& grad)` returns the
  ///   loss at x (any type convertible to Scalar) and writes its gradient to
  ///   grad, which arrives with x's size and must keep it. x is the point to
  ///   evaluate (a trial point during the line search), not params. A
  ///   function taking `const Eigen::Ref<const Vector>&` and
  ///   `Eigen::Ref<Vector>` works as well.
  /// \returns the loss of the first evaluation, at params as given.
  /// \throws std::invalid_argument if params is empty or not contiguous, if
  ///   its size differs from the one the state was built for, or if f
  ///   resizes grad.
  /// \throws std::domain_error if f returns a NaN or ±inf loss or gradient
  ///   element and the nonfinite option is Throw.
  /// \throws std::overflow_error if iterations() + max_iter would pass
  ///   2^63 − 1.
  ///
  /// If it throws (or f does), params are untouched. With nonfinite Throw or
  /// Skip the state is as before the step (a skipped step returns the first
  /// loss, or the non-finite one if that was the first); with Propagate an exception from
  /// f leaves the state advanced part way, as torch's would be: reset() or
  /// load() before the next step.
  template <typename Params, typename F>
  Scalar step(Params&& params, F&& f);

  /// L-BFGS iterations since construction or reset(): torch's
  /// state['n_iter'].
  std::int64_t iterations() const noexcept { return state_.n_iter; }
  /// Evaluations of the function since construction or reset(): torch's
  /// state['func_evals'].
  std::int64_t function_evaluations() const noexcept { return state_.func_evals; }
  /// Steps abandoned for a non-finite value (nonfinite = Skip).
  std::int64_t skipped_steps() const noexcept { return skipped_; }
  /// Pairs (y, s) held, at most history_size.
  Index history_length() const noexcept { return Index(state_.old_dirs.size()); }
  /// Number of parameters the state is built for, or -1 before the first
  /// step.
  Index state_size() const noexcept { return state_size_; }

  /// Forgets the history, the counts and the state size; lr is kept.
  void reset() noexcept {
    state_ = State{};
    backup_ = State{};
    state_size_ = -1;
    skipped_ = 0;
  }

  /// \brief Writes the complete state (options, counts, direction, step
  /// length, history) in the format of checkpoint.hpp and flushes the
  /// stream.
  /// \throws CheckpointError if writing or flushing fails.
  void save(std::ostream& out) const;

  /// \brief Reads back what save() wrote, so the next step continues the
  /// saved run bit for bit. Checks the frame and checksum, the options'
  /// ranges, the counts, the sizes (every vector of the state size; at most
  /// history_size pairs, and no more than iterations − 1), ρ > 0 and
  /// H_diag > 0.
  /// \throws CheckpointError if the checkpoint is of another kind or scalar
  ///   type, truncated, corrupt, invalid, or for a size other than the one
  ///   this optimizer's state is built for (reset() first); the optimizer
  ///   is then unchanged.
  void load(std::istream& in);

  /// save() to a file, atomically (see Optimizer::save_file).
  /// \throws CheckpointError if the file cannot be written.
  void save_file(const std::string& path) const {
    detail::save_file(path, who("save_file"), [this](std::ostream& out) { save(out); });
  }
  /// load() from a file, which the checkpoint must fill exactly.
  /// \throws CheckpointError if it cannot be read; the optimizer is then
  ///   unchanged.
  void load_file(const std::string& path) {
    detail::load_file(path, who("load_file"), [this](std::istream& in) { load(in); });
  }

 private:
  // torch's state, the pairs in a ring whose oldest is at `oldest`.
  struct State {
    std::int64_t func_evals = 0;
    std::int64_t n_iter = 0;
    Vector d, prev_flat_grad;
    Scalar t = 0, H_diag = 1, prev_loss = 0;
    std::vector<Vector> old_dirs, old_stps;  // y and s
    std::vector<Scalar> ro;
    std::size_t oldest = 0;
    std::size_t at(std::size_t i) const { return (oldest + i) % old_dirs.size(); }
  };

  // A non-finite loss or gradient under Throw or Skip.
  struct NonFiniteValue {
    std::string what;
    Scalar loss;  // what that evaluation returned
  };

  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_at_least(kName, "max_iter", o.max_iter, 1);
    detail::check_at_least(kName, "max_eval", o.max_eval, 0);
    detail::check_nonnegative(kName, "tolerance_grad", o.tolerance_grad);
    detail::check_nonnegative(kName, "tolerance_change", o.tolerance_change);
    detail::check_at_least(kName, "history_size", o.history_size, 1);
    detail::check_nonnegative(kName, "min_curvature", o.min_curvature);
    detail::check_enum(kName, "line_search", o.line_search, {"None", "StrongWolfe"});
    detail::check_enum(kName, "nonfinite", o.nonfinite);
    return o;
  }

  static long effective_max_eval(const Options& o) noexcept {
    return o.max_eval == 0 ? long(o.max_iter) * 5 / 4 : long(o.max_eval);
  }

  std::string who(const char* method) const { return "descent::LBFGS::" + std::string(method); }

  // y ← y + a·x, each element one fused multiply-add (one rounding), as
  // torch's y.add_(x, alpha=a) computes it in its AVX2 and AVX-512 kernels.
  // Compiled for a target without FMA (no -march), std::fma is a call into
  // libm, which uses the processor's FMA instruction where there is one.
  static void axpy_fused(Scalar a, const Vector& x, Vector& y) noexcept {
    const Scalar* xp = x.data();
    Scalar* yp = y.data();
    for (Index i = 0, n = y.size(); i < n; ++i) yp[i] = std::fma(a, xp[i], yp[i]);
  }

  /// The function step() was given, seen through one type: run() and the
  /// line search are compiled once per Scalar, not once per function type.
  struct Function {
    void* object;
    Scalar (*call)(void* object, const Vector& x, Vector& grad);
    Scalar operator()(const Vector& x, Vector& grad) const { return call(object, x, grad); }
  };

  Scalar evaluate(const Function& f, const Vector& x, Vector& g);
  Scalar run(const Function& f);
  void two_loop();

  template <typename O, typename Fn>
  static void for_each_option(O& o, Fn&& fn);

  Options options_;
  State state_;
  State backup_;  // the state before the step, under Throw and Skip
  Index state_size_ = -1;
  std::int64_t skipped_ = 0;
  // Work vectors: the point, its gradient, a trial point, y and s before
  // they are stored, the two-loop's α.
  Vector x_, g_, x_trial_, y_, s_;
  std::vector<Scalar> al_;
  detail::WolfeBuffers<Vector> wolfe_;
  Scalar first_loss_ = 0;  // of the step under way, once evaluated_
  bool evaluated_ = false;
};

template <typename Scalar_>
template <typename Params, typename F>
typename LBFGS<Scalar_>::Scalar LBFGS<Scalar_>::step(Params&& params, F&& f) {
  using P = std::remove_reference_t<Params>;
  using PD = std::remove_cv_t<P>;
  static_assert(detail::is_dense<PD>, "descent::LBFGS::step: params must be an Eigen dense object");
  static_assert(std::is_same<typename PD::Scalar, Scalar>::value,
                "descent::LBFGS::step: params must hold the optimizer's Scalar");
  static_assert(detail::has_direct_access<PD>(),
                "descent::LBFGS::step: params must expose its storage (a Matrix, Array, Map or "
                "contiguous Block), not an expression");
  static_assert(!std::is_const<P>::value && (int(PD::Flags) & Eigen::LvalueBit) != 0,
                "descent::LBFGS::step: params must be writable");
  static_assert(std::is_invocable<F&, const Vector&, Vector&>::value,
                "descent::LBFGS::step: f must be callable as f(const Vector& x, Vector& grad)");
  static_assert(
      std::is_convertible<std::invoke_result_t<F&, const Vector&, Vector&>, Scalar>::value,
      "descent::LBFGS::step: f must return the loss, convertible to Scalar");

  const Index n = params.size();
  if (n == 0) throw std::invalid_argument(who("step") + ": params is empty");
  if (!detail::is_contiguous(params)) {
    throw std::invalid_argument(who("step") +
                                ": params must be stored contiguously (inner stride 1, no gaps)");
  }
  if (state_size_ >= 0 && n != state_size_) {
    std::ostringstream os;
    os << who("step") << ": params has " << n << " elements but the state was built for "
       << state_size_ << " (call reset() to change the size)";
    throw std::invalid_argument(os.str());
  }
  if (state_.n_iter > std::numeric_limits<std::int64_t>::max() - options_.max_iter) {
    throw std::overflow_error(who("step") + ": iterations() is within max_iter of 2^63 − 1, " +
                              "the most it can count (reset() to start again); params and " +
                              "state are unchanged");
  }
  Eigen::Map<Vector> flat(params.data(), n);
  x_ = flat;
  g_.resize(n);
  evaluated_ = false;
  const bool guarded = options_.nonfinite != NonFinite::Propagate;
  const Index size_before = state_size_;
  if (guarded) backup_ = state_;
  state_size_ = n;
  try {
    using Callable = std::remove_reference_t<F>;
    const Function function{
        const_cast<void*>(static_cast<const void*>(std::addressof(f))),
        [](void* object, const Vector& x, Vector& grad) {
          return static_cast<Scalar>((*static_cast<Callable*>(object))(x, grad));
        }};
    const Scalar loss = run(function);
    flat = x_;
    return loss;
  } catch (const NonFiniteValue& bad) {
    std::swap(state_, backup_);
    state_size_ = size_before;
    if (options_.nonfinite == NonFinite::Skip) {
      if (skipped_ < std::numeric_limits<std::int64_t>::max()) ++skipped_;
      return evaluated_ ? first_loss_ : bad.loss;
    }
    throw std::domain_error(who("step") + ": " + bad.what + "; params and state are unchanged");
  } catch (...) {
    if (guarded) {
      std::swap(state_, backup_);
      state_size_ = size_before;
    }
    throw;
  }
}

template <typename Scalar_>
typename LBFGS<Scalar_>::Scalar LBFGS<Scalar_>::evaluate(const Function& f, const Vector& x,
                                                         Vector& g) {
  const Index n = x.size();
  g.resize(n);  // a no-op but for a line-search buffer's first use
  const auto loss = static_cast<Scalar>(f(x, g));
  if (g.size() != n) {
    std::ostringstream os;
    os << who("step") << ": the function resized grad from " << n << " to " << g.size()
       << " elements";
    throw std::invalid_argument(os.str());
  }
  if (options_.nonfinite != NonFinite::Propagate) {
    if (!std::isfinite(loss)) throw NonFiniteValue{"the loss is " + detail::to_text(loss), loss};
    const Index bad = detail::first_nonfinite(g.data(), n);
    if (bad >= 0) {
      throw NonFiniteValue{"grad[" + std::to_string(bad) + "] is " + detail::to_text(g[bad]), loss};
    }
  }
  return loss;
}

template <typename Scalar_>
void LBFGS<Scalar_>::two_loop() {
  State& st = state_;
  const std::size_t num_old = st.old_dirs.size();
  al_.resize(num_old);
  Vector& q = st.d;  // q, then r, then the direction
  q = -g_;
  for (std::size_t i = num_old; i-- > 0;) {
    const std::size_t k = st.at(i);
    al_[i] = detail::dot_in_order(st.old_stps[k], q) * st.ro[k];
    axpy_fused(-al_[i], st.old_dirs[k], q);
  }
  q *= st.H_diag;
  for (std::size_t i = 0; i < num_old; ++i) {
    const std::size_t k = st.at(i);
    const Scalar be_i = detail::dot_in_order(st.old_dirs[k], q) * st.ro[k];
    axpy_fused(al_[i] - be_i, st.old_stps[k], q);
  }
}

template <typename Scalar_>
typename LBFGS<Scalar_>::Scalar LBFGS<Scalar_>::run(const Function& f) {
  const Options& o = options_;
  State& st = state_;
  const Scalar orig_loss = evaluate(f, x_, g_);
  first_loss_ = orig_loss;
  evaluated_ = true;
  Scalar loss = orig_loss;
  long current_evals = 1;
  ++st.func_evals;
  bool opt_cond = g_.cwiseAbs().maxCoeff() <= o.tolerance_grad;
  if (opt_cond) return orig_loss;

  const long max_eval = effective_max_eval(o);
  long n_iter = 0;
  while (n_iter < o.max_iter) {
    ++n_iter;
    ++st.n_iter;

    // The direction.
    if (st.n_iter == 1) {
      st.d = -g_;
      st.old_dirs.clear();
      st.old_stps.clear();
      st.ro.clear();
      st.oldest = 0;
      st.H_diag = Scalar(1);
    } else {
      y_ = g_ - st.prev_flat_grad;
      s_ = st.d * st.t;
      const Scalar ys = detail::dot_in_order(y_, s_);
      if (ys > o.min_curvature) {
        const Scalar yy = detail::dot_in_order(y_, y_);
        if (st.old_dirs.size() == std::size_t(o.history_size)) {
          // The oldest pair's storage takes the new one.
          st.old_dirs[st.oldest].swap(y_);
          st.old_stps[st.oldest].swap(s_);
          st.ro[st.oldest] = Scalar(1) / ys;
          st.oldest = (st.oldest + 1) % st.old_dirs.size();
        } else {
          // Not full: the ring is in order (oldest = 0).
          st.old_dirs.push_back(y_);
          st.old_stps.push_back(s_);
          st.ro.push_back(Scalar(1) / ys);
        }
        st.H_diag = ys / yy;
      }
      two_loop();
    }
    st.prev_flat_grad = g_;
    st.prev_loss = loss;

    // The step length.
    if (st.n_iter == 1) {
      const Scalar inv = Scalar(1) / detail::cascade_sum_abs(g_);
      st.t = detail::py_min(Scalar(1), inv) * o.lr;
    } else {
      st.t = o.lr;
    }
    const Scalar gtd = detail::dot_in_order(g_, st.d);
    if (gtd > -o.tolerance_change) break;

    long ls_func_evals = 0;
    if (o.line_search == LineSearch::StrongWolfe) {
      const auto obj = [&](Scalar t, Vector& g) {
        x_trial_ = x_;
        axpy_fused(t, st.d, x_trial_);
        return evaluate(f, x_trial_, g);
      };
      const auto found =
          detail::strong_wolfe(obj, st.t, st.d, loss, g_, gtd, o.tolerance_change, wolfe_);
      loss = found.loss;
      st.t = found.t;
      ls_func_evals = found.evals;
      axpy_fused(st.t, st.d, x_);
      opt_cond = g_.cwiseAbs().maxCoeff() <= o.tolerance_grad;
    } else {
      axpy_fused(st.t, st.d, x_);
      if (n_iter != o.max_iter) {
        // No evaluation after the last iteration: the next step() makes it.
        loss = evaluate(f, x_, g_);
        opt_cond = g_.cwiseAbs().maxCoeff() <= o.tolerance_grad;
        ls_func_evals = 1;
      }
    }
    current_evals += ls_func_evals;
    st.func_evals += ls_func_evals;

    if (n_iter == o.max_iter) break;
    if (current_evals >= max_eval) break;
    if (opt_cond) break;
    if ((st.d * st.t).cwiseAbs().maxCoeff() <= o.tolerance_change) break;
    if (std::abs(loss - st.prev_loss) < o.tolerance_change) break;
  }
  return orig_loss;
}

template <typename Scalar_>
template <typename O, typename Fn>
void LBFGS<Scalar_>::for_each_option(O& o, Fn&& fn) {
  fn("lr", o.lr);
  fn("max_iter", o.max_iter);
  fn("max_eval", o.max_eval);
  fn("tolerance_grad", o.tolerance_grad);
  fn("tolerance_change", o.tolerance_change);
  fn("history_size", o.history_size);
  fn("min_curvature", o.min_curvature);
  fn("line_search", o.line_search);
  fn("nonfinite", o.nonfinite);
}

}  // namespace descent

#include "detail/lbfgs_checkpoint.hpp"
