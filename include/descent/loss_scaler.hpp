#pragma once
/// \file
/// LossScaler: dynamic loss scaling for low-precision gradients, with the
/// semantics of PyTorch's torch.cuda.amp.GradScaler.

#include "checkpoint.hpp"
#include "detail/check.hpp"
#include "detail/serialize.hpp"
#include "optimizer.hpp"

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

namespace descent {

namespace detail {
/// Whether opt.step(params, grad, scaler) exists: an optimizer that unscales
/// the gradient itself (MixedPrecision, which does it while converting).
template <typename Opt, typename Params, typename Grad, typename Scaler, typename = void>
struct steps_with_scaler : std::false_type {};
template <typename Opt, typename Params, typename Grad, typename Scaler>
struct steps_with_scaler<
    Opt, Params, Grad, Scaler,
    std::void_t<decltype(std::declval<Opt&>().step(std::declval<Params>(), std::declval<Grad>(),
                                                   std::declval<Scaler&>()))>> : std::true_type {};
}  // namespace detail

/// \brief Dynamic loss scaling, as PyTorch's GradScaler (torch 1.13,
/// torch/cuda/amp/grad_scaler.py and the kernels of
/// aten/src/ATen/native/cuda/AmpKernels.cu and
/// ForeachNonFiniteCheckAndUnscale.cu, release/1.13).
///
/// The loss is multiplied by scale() before back-propagation, so that small
/// gradients survive in half precision; the gradient is divided by it
/// again before the step. Inputs: init_scale, growth_factor (γ),
/// backoff_factor (β), growth_interval (N). State: the scale s (a float,
/// as torch's float32 tensor) and the growth tracker c (torch's int32
/// _growth_tracker), initially s = float(init_scale), c = 0. Per iteration:
///
///     (the caller back-propagates loss · s into g)
///     unscale:  inv = float(1 / double(s))
///               per element: found_inf |= !isfinite(g_i)  (before scaling)
///                            g_i ← (inv == 1 ? g_i : g_i · inv)   in float
///     step:     if not found_inf: opt.step(θ, g)    (else skipped entirely)
///     update:   if found_inf:   s ← float(double(s) · β);  c ← 0
///               else:           c ← c + 1
///                               if c = N:  s' = float(double(s) · γ)
///                                          if isfinite(s'): s ← s'
///                                          c ← 0
///
/// unscale() and update() are GradScaler's unscale_() and update(); step()
/// is its step() followed by update(). A skipped step does not call the
/// optimizer at all: its parameters, state and iterations() are untouched,
/// as torch's _maybe_opt_step leaves them. As in torch the check reads the
/// scaled gradient: when s < 1 a finite g_i · inv may still overflow.
/// Options are checked a little more strictly than torch's asserts
/// (growth_factor > 1, backoff_factor < 1): β must also be > 0, init_scale
/// finite and > 0 as a float, N at most 2^31 − 1 (the tracker is an int32).
class LossScaler {
 public:
  /// \brief The hyperparameters; the constructor checks them. The defaults
  /// are GradScaler's.
  struct Options {
    /// The initial scale; finite, and > 0 and finite once rounded to float.
    /// Default 2^16.
    double init_scale = 65536.0;
    /// γ, the factor of a growth; finite and > 1. Default 2.
    double growth_factor = 2.0;
    /// β, the factor of a back-off; in (0, 1). Default 0.5.
    double backoff_factor = 0.5;
    /// N, consecutive steps with finite gradients before a growth; in
    /// [1, 2^31 − 1]. Default 2000.
    long growth_interval = 2000;
  };

  /// GradScaler's defaults: scale 2^16, doubled after 2000 finite steps,
  /// halved after a non-finite one.
  LossScaler() : LossScaler(Options{}) {}

  /// \param options see Options.
  /// \throws std::invalid_argument if an option is out of range.
  explicit LossScaler(Options options)
      : options_(checked(options)), scale_(static_cast<float>(options.init_scale)) {}

  /// The class name, as checkpoints record it.
  static constexpr std::string_view kName = "LossScaler";
  /// The class name, kName.
  std::string_view name() const noexcept { return kName; }

  /// The options.
  const Options& options() const noexcept { return options_; }

  /// The current scale s: multiply the loss by it before back-propagation.
  float scale() const noexcept { return scale_; }

  /// \returns loss · s, computed in T (as GradScaler.scale(outputs)).
  template <typename T>
  T scaled(T loss) const noexcept {
    return loss * static_cast<T>(scale_);
  }

  /// The multiplier of unscale(): float(1 / double(s)), the reciprocal taken
  /// in double as torch takes it.
  float inv_scale() const noexcept { return static_cast<float>(1.0 / double(scale_)); }

  /// Consecutive steps with finite gradients since the last growth or
  /// back-off, in [0, growth_interval).
  std::int32_t growth_tracker() const noexcept { return tracker_; }

  /// \brief Divides a scaled gradient by the scale, in place, as
  /// GradScaler.unscale_(): every element, in float (double for a double
  /// gradient), multiplied by inv_scale().
  /// \param grad a writable Eigen dense object of float or double.
  /// \returns true if every element of grad was finite before unscaling
  ///   (torch's found_inf is the opposite).
  template <typename Grad>
  bool unscale(Grad&& grad) const {
    using G = std::remove_cv_t<std::remove_reference_t<Grad>>;
    static_assert(detail::is_dense<G>,
                  "descent::LossScaler::unscale: grad must be an Eigen object");
    static_assert(std::is_floating_point<typename G::Scalar>::value,
                  "descent::LossScaler::unscale: grad must hold float or double (a half or "
                  "bfloat16 gradient is unscaled into a float one: the two-argument overload)");
    static_assert(
        !std::is_const<std::remove_reference_t<Grad>>::value,
        "descent::LossScaler::unscale: grad is unscaled in place, so it must be writable");
    if constexpr (detail::has_direct_access<G>()) {
      if (detail::is_contiguous(grad)) return unscale_raw(grad.data(), grad.data(), grad.size());
    }
    // A strided view: unscaled in a copy, written back.
    typename G::PlainObject copy = grad;
    const bool finite = unscale_raw(copy.data(), copy.data(), copy.size());
    grad = copy;
    return finite;
  }

  /// \brief Unscales `scaled` into `out`, converting: each element read
  /// as float (as torch's float opmath reads half and bfloat16), checked,
  /// multiplied by inv_scale() and stored in out. out may be scaled itself.
  /// \param scaled the scaled gradient: Eigen::half, Eigen::bfloat16, float
  ///   or double elements.
  /// \param out a writable Eigen dense object of float or double, of the
  ///   same size.
  /// \returns true if every element of scaled was finite.
  /// \throws std::invalid_argument if the sizes differ; out is then
  ///   untouched.
  template <typename In, typename Out>
  bool unscale(const Eigen::DenseBase<In>& scaled, Out&& out) const {
    using O = std::remove_cv_t<std::remove_reference_t<Out>>;
    static_assert(detail::is_dense<O>, "descent::LossScaler::unscale: out must be an Eigen object");
    static_assert(std::is_floating_point<typename O::Scalar>::value,
                  "descent::LossScaler::unscale: out must hold float or double");
    static_assert(detail::has_direct_access<O>() && (int(O::Flags) & Eigen::LvalueBit) != 0,
                  "descent::LossScaler::unscale: out must be writable storage (a Matrix, Array, "
                  "Map or contiguous Block)");
    const In& g = scaled.derived();
    if (g.size() != out.size()) {
      throw std::invalid_argument("descent::LossScaler::unscale: the gradient has " +
                                  std::to_string(g.size()) + " elements but out has " +
                                  std::to_string(out.size()));
    }
    if (!detail::is_contiguous(out)) {
      throw std::invalid_argument(
          "descent::LossScaler::unscale: out must be stored contiguously (inner stride 1, no "
          "gaps)");
    }
    if (g.rows() > 1 && g.cols() > 1 && out.rows() > 1 && out.cols() > 1 &&
        bool(In::IsRowMajor) != bool(O::IsRowMajor)) {
      throw std::invalid_argument(
          "descent::LossScaler::unscale: the gradient and out are matrices of different storage "
          "orders, so their flat element orders differ");
    }
    if constexpr (detail::has_direct_access<In>()) {
      if (detail::is_contiguous(g)) return unscale_raw(g.data(), out.data(), g.size());
    }
    // Strided views and expressions are read from a copy in their own
    // storage order.
    const typename In::PlainObject plain = g;
    return unscale_raw(plain.data(), out.data(), g.size());
  }

  /// \brief The end of an iteration, as GradScaler.update(): backs off
  /// after a non-finite gradient, grows after growth_interval finite ones.
  /// \param found_inf whether this iteration's gradient held NaN or ±inf
  ///   (the negation of what unscale() returned).
  void update(bool found_inf) noexcept {
    if (found_inf) {
      scale_ = static_cast<float>(double(scale_) * options_.backoff_factor);
      tracker_ = 0;
      return;
    }
    const std::int32_t successful = tracker_ + 1;
    if (successful == options_.growth_interval) {
      const auto grown = static_cast<float>(double(scale_) * options_.growth_factor);
      if (std::isfinite(grown)) scale_ = grown;
      tracker_ = 0;
    } else {
      tracker_ = successful;
    }
  }

  /// \brief One iteration on a scaled gradient: unscale, then the
  /// optimizer's step unless the gradient held NaN or ±inf, then update(),
  /// as GradScaler.step(opt) followed by GradScaler.update().
  ///
  /// opt is any descent optimizer or wrapper: an Optimizer, Lookahead,
  /// GradientAccumulation, or a MixedPrecision, which unscales while it
  /// converts the gradient to float (its step(params, grad, scaler)). For
  /// the others grad is unscaled in place, so it must be writable.
  /// \returns whether the optimizer stepped.
  /// \throws what opt.step() throws; the scale is then not updated, and
  ///   grad has been unscaled.
  template <typename Opt, typename Params, typename Grad>
  bool step(Opt& opt, Params&& params, Grad&& grad) {
    if constexpr (detail::steps_with_scaler<Opt, Params&&, Grad&&, LossScaler>::value) {
      return opt.step(std::forward<Params>(params), std::forward<Grad>(grad), *this);
    } else {
      const bool finite = unscale(grad);
      if (finite) opt.step(std::forward<Params>(params), grad);
      update(!finite);
      return finite;
    }
  }

  /// Back to the initial scale and a tracker of 0; the options are kept.
  void reset() noexcept {
    scale_ = static_cast<float>(options_.init_scale);
    tracker_ = 0;
  }

  /// \brief Writes the options, the scale and the tracker (object 5 of
  /// checkpoint.hpp) and flushes the stream.
  /// \throws CheckpointError if writing fails.
  void save(std::ostream& out) const {
    detail::Writer w(detail::ObjectKind::LossScaler, kName, int(sizeof(float)));
    w.f64(options_.init_scale);
    w.f64(options_.growth_factor);
    w.f64(options_.backoff_factor);
    w.i64(options_.growth_interval);
    w.f64(double(scale_));
    w.i64(tracker_);
    w.finish(out, "descent::LossScaler::save");
  }

  /// \brief Reads back what save() wrote.
  ///
  /// Besides the frame and checksum, checks the options as the constructor
  /// does, a scale that is a float, finite and >= 0 (repeated back-offs may
  /// reach 0), and a tracker in [0, growth_interval).
  /// \throws CheckpointError if the checkpoint is of another kind,
  ///   truncated, corrupt or invalid; the scaler is then unchanged.
  void load(std::istream& in) {
    detail::Reader r(in, "descent::LossScaler::load", detail::ObjectKind::LossScaler, kName,
                     int(sizeof(float)));
    Options o;
    o.init_scale = r.f64("init_scale");
    o.growth_factor = r.f64("growth_factor");
    o.backoff_factor = r.f64("backoff_factor");
    const std::int64_t interval = r.i64("growth_interval");
    const double scale = r.f64("scale");
    const std::int64_t tracker = r.i64("growth tracker");
    r.finish();
    if (interval < 1 || interval > kMaxInterval) {
      r.fail("invalid options: growth_interval " + std::to_string(interval) +
             " is not in [1, 2^31 − 1]");
    }
    o.growth_interval = static_cast<long>(interval);
    r.validate([&] { checked(o); }, "invalid options: ");
    if (!(scale >= 0) || !std::isfinite(scale) || double(static_cast<float>(scale)) != scale) {
      r.fail("scale " + detail::to_text(scale) + " is not a finite float >= 0");
    }
    if (tracker < 0 || tracker >= interval) {
      r.fail("growth tracker " + std::to_string(tracker) + " is not in [0, growth_interval)");
    }
    options_ = o;
    scale_ = static_cast<float>(scale);
    tracker_ = static_cast<std::int32_t>(tracker);
  }

  /// save() to a file through a temporary file and a rename, as
  /// Optimizer::save_file().
  void save_file(const std::string& path) const {
    detail::save_file(path, "descent::LossScaler::save_file",
                      [this](std::ostream& out) { save(out); });
  }

  /// load() from a file, which the checkpoint must fill exactly.
  /// \throws CheckpointError as load(), or if the file cannot be read.
  void load_file(const std::string& path) {
    detail::load_file(path, "descent::LossScaler::load_file",
                      [this](std::istream& in) { load(in); });
  }

 private:
  static constexpr std::int64_t kMaxInterval = std::numeric_limits<std::int32_t>::max();

  /// The unscale kernel over n contiguous elements; in may be out.
  template <typename In, typename T>
  bool unscale_raw(const In* in, T* out, Eigen::Index n) const noexcept {
    const float inv = inv_scale();
    const bool identity = inv == 1.f;
    const T factor = static_cast<T>(inv);
    bool finite = true;
    for (Eigen::Index i = 0; i < n; ++i) {
      const auto v = static_cast<T>(in[i]);
      finite &= std::abs(v) <= std::numeric_limits<T>::max();  // false for NaN
      out[i] = identity ? v : v * factor;
    }
    return finite;
  }

  static const Options& checked(const Options& o) {
    const float init = static_cast<float>(o.init_scale);
    if (!(o.init_scale > 0) || !std::isfinite(init) || !(init > 0)) {
      detail::throw_invalid(kName, "init_scale", "finite and > 0 as a float", o.init_scale);
    }
    if (!(o.growth_factor > 1) || !std::isfinite(o.growth_factor)) {
      detail::throw_invalid(kName, "growth_factor", "finite and > 1", o.growth_factor);
    }
    if (!(o.backoff_factor > 0 && o.backoff_factor < 1)) {
      detail::throw_invalid(kName, "backoff_factor", "in (0, 1)", o.backoff_factor);
    }
    if (o.growth_interval < 1 || o.growth_interval > kMaxInterval) {
      detail::throw_invalid(kName, "growth_interval", "in [1, 2^31 − 1]", o.growth_interval);
    }
    return o;
  }

  Options options_;
  float scale_;
  std::int32_t tracker_ = 0;
};

}  // namespace descent
