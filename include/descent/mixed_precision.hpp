#pragma once
/// \file
/// MixedPrecision: half or bfloat16 parameters stepped through a float
/// master copy by any float optimizer.

#include "detail/wrapper.hpp"
#include "loss_scaler.hpp"
#include "optimizer.hpp"

#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <Eigen/Core>

namespace descent {

/// \brief Parameters and gradients in Eigen::half or Eigen::bfloat16,
/// stepped by an Optimizer<float> on a float master copy that the wrapper
/// keeps, as mixed-precision training keeps fp32 master weights
/// (Micikevicius et al., "Mixed Precision Training", 2018).
///
/// \tparam Low_ Eigen::half or Eigen::bfloat16.
///
/// Inputs: the wrapped float optimizer. State: the master copy m (floats),
/// made from the parameters at the first step (exactly: every half and
/// bfloat16 is a float) or given by set_master(). Per step(θ, g):
///
///     ĝ ← float(g)                     (with a LossScaler: float(g) · inv,
///                                        and no step if g held NaN or ±inf)
///     inner.step(m, ĝ)
///     θ ← round(m)                      (to nearest, ties to even)
///
/// So m follows exactly the trajectory of the float optimizer fed the same
/// gradients converted to float, and the parameters are always its
/// rounding: small updates accumulate in m instead of being lost to the
/// parameters' rounding. The master copy is authoritative: a change made to
/// θ between steps is overwritten by the next step (use set_master()).
///
/// With a LossScaler (step(θ, g, scaler), or scaler.step(wrapper, θ, g)),
/// the gradient is unscaled while it is converted, in float, as GradScaler
/// unscales in float opmath, but without rounding the unscaled values back
/// to the low type. A step skipped for a non-finite gradient leaves θ, m
/// and the wrapped optimizer untouched.
///
/// The wrapped optimizer keeps its lr, options, threads and schedule; it
/// must outlive the wrapper. The wrapper's conversions run on its own
/// set_threads() threads above 65 536 elements, with the same bits, except
/// the unscaling, which the LossScaler does on the calling thread.
/// Checkpoints hold the master copy and name the low type: a
/// MixedPrecision<half> refuses a MixedPrecision<bfloat16>'s checkpoint.
template <typename Low_>
class MixedPrecision : public detail::Wrapper<float> {
  static_assert(std::is_same<Low_, Eigen::half>::value ||
                    std::is_same<Low_, Eigen::bfloat16>::value,
                "descent::MixedPrecision: Low must be Eigen::half or Eigen::bfloat16");
  using Base = detail::Wrapper<float>;

 public:
  /// The parameters' element type: Eigen::half or Eigen::bfloat16.
  using Low = Low_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;
  /// Storage of the master copy.
  using Vector = Eigen::VectorXf;

  /// \param inner the float optimizer that steps the master copy; must
  ///   outlive the wrapper.
  explicit MixedPrecision(Optimizer<float>& inner) : Base(inner) {}

  /// The class name with its low type, as name() returns it and checkpoints
  /// record it: "MixedPrecision<half>" or "MixedPrecision<bfloat16>".
  static constexpr std::string_view kName =
      std::is_same<Low, Eigen::half>::value ? "MixedPrecision<half>" : "MixedPrecision<bfloat16>";
  /// The class name, kName.
  std::string_view name() const noexcept override { return kName; }

  /// \brief One step of the wrapped optimizer on the master copy, from
  /// grad converted to float; then params ← the master copy rounded.
  ///
  /// \param params a writable, contiguous Eigen dense object of Low.
  /// \param grad its gradient, of Low or float elements and the same size.
  /// \throws std::invalid_argument if the sizes differ, params is not
  ///   contiguous, or its size is not the master copy's; and what the
  ///   wrapped optimizer's step() throws. Then nothing has changed.
  template <typename Params, typename Grad>
  void step(Params&& params, const Eigen::DenseBase<Grad>& grad) {
    take(params, grad.derived(), nullptr);
  }

  /// \brief step() on a gradient scaled by `scaler`: unscaled while
  /// converted; skipped (nothing changes) if it holds NaN or ±inf; then
  /// scaler.update(), as GradScaler.step() and update().
  /// \returns whether the wrapped optimizer stepped.
  /// \throws as step(); the scaler is then not updated.
  template <typename Params, typename Grad>
  bool step(Params&& params, const Eigen::DenseBase<Grad>& grad, LossScaler& scaler) {
    return take(params, grad.derived(), &scaler);
  }

  /// The float master copy; empty before the first step or set_master().
  const Vector& master() const noexcept { return master_; }

  /// \brief Sets the master copy, e.g. to the float values the parameters
  /// were initialised from, before their rounding. The next step writes
  /// params from it.
  /// \param master float values, one per parameter.
  /// \throws std::invalid_argument if the wrapped optimizer's state is
  ///   built for another size; nothing has changed then.
  template <typename Derived>
  void set_master(const Eigen::DenseBase<Derived>& master) {
    static_assert(std::is_same<typename Derived::Scalar, float>::value,
                  "descent::MixedPrecision::set_master: the master copy holds floats");
    check_size(master.size(), inner().state_size(), "set_master");
    Vector copy(master.size());
    Eigen::Map<Eigen::Matrix<float, Derived::RowsAtCompileTime, Derived::ColsAtCompileTime,
                             Derived::IsRowMajor ? Eigen::RowMajor : Eigen::ColMajor>>(
        copy.data(), master.rows(), master.cols()) = master.derived();
    master_.swap(copy);
  }

  /// Forgets the master copy (not the wrapped optimizer's state: reset it
  /// yourself); the next step makes it again from the parameters.
  void reset() noexcept { master_.resize(0); }

 protected:
  /// Checkpoint payload: size i64 (−1: none yet), master copy (length u64:
  /// 0 or size, elements).
  void write_state(detail::Writer& w) const override {
    w.i64(master_.size() > 0 ? std::int64_t(master_.size()) : -1);
    w.array(master_.data(), master_.size());
  }

  /// Reads and checks what write_state() wrote; returns what makes it
  /// current.
  std::function<void()> stage_state(detail::Reader& r) override {
    const std::int64_t size = r.i64("size");
    constexpr std::int64_t kMax = std::numeric_limits<std::ptrdiff_t>::max() / sizeof(float);
    if (size == 0 || size < -1 || size > kMax) {
      r.fail("size " + std::to_string(size) + " is not −1 (none) or in [1, " +
             std::to_string(kMax) + "]");
    }
    if (master_.size() > 0 && size > 0 && size != master_.size()) {
      r.fail("the checkpoint's master copy is of " + std::to_string(size) +
             " parameters, this one of " + std::to_string(master_.size()) +
             " (reset() first to load another size)");
    }
    Vector staged = r.template array<float, Vector>(size < 0 ? 0 : size, "master copy");
    return [this, staged = std::move(staged)]() mutable { master_.swap(staged); };
  }

 private:
  /// to[i] = To(from[i]) for n elements, on threads() threads.
  template <typename From, typename To>
  void convert(const From* from, To* to, Index n) {
    this->run(n, [from, to](auto lanes, Index i) {
      for (int k = 0; k < decltype(lanes)::size; ++k) to[i + k] = static_cast<To>(from[i + k]);
    });
  }

  /// Copies g, flat in its storage order, into out as floats: unscaled by
  /// scaler if there is one. Returns whether g was finite (always true
  /// without a scaler).
  template <typename Grad>
  bool convert_grad(const Grad& g, float* out, const LossScaler* scaler) {
    if (scaler != nullptr) return scaler->unscale(g, Eigen::Map<Vector>(out, g.size()));
    if constexpr (detail::has_direct_access<Grad>()) {
      if (detail::is_contiguous(g)) {
        convert(g.data(), out, g.size());
        return true;
      }
    }
    const typename Grad::PlainObject plain = g;
    convert(plain.data(), out, plain.size());
    return true;
  }

  template <typename Params, typename Grad>
  bool take(Params& params, const Grad& g, LossScaler* scaler) {
    using P = std::remove_cv_t<std::remove_reference_t<Params>>;
    static_assert(detail::is_dense<P>,
                  "descent::MixedPrecision::step: params must be an Eigen object");
    static_assert(std::is_same<typename P::Scalar, Low>::value,
                  "descent::MixedPrecision::step: params must hold the wrapper's Low type");
    static_assert(std::is_same<typename Grad::Scalar, Low>::value ||
                      std::is_same<typename Grad::Scalar, float>::value,
                  "descent::MixedPrecision::step: grad must hold Low or float");
    static_assert(detail::has_direct_access<P>() && (int(P::Flags) & Eigen::LvalueBit) != 0,
                  "descent::MixedPrecision::step: params must be writable storage (a Matrix, "
                  "Array, Map or contiguous Block)");
    const Index n = params.size();
    if (g.size() != n) {
      throw std::invalid_argument(who("step") + ": params has " + std::to_string(n) +
                                  " elements but grad has " + std::to_string(g.size()));
    }
    if (!detail::is_contiguous(params)) {
      throw std::invalid_argument(who("step") +
                                  ": params must be stored contiguously (inner stride 1, no gaps)");
    }
    if (params.rows() > 1 && params.cols() > 1 && g.rows() > 1 && g.cols() > 1 &&
        bool(P::IsRowMajor) != bool(Grad::IsRowMajor)) {
      throw std::invalid_argument(who("step") +
                                  ": params and grad are matrices of different storage orders, "
                                  "so their flat element orders differ");
    }
    check_size(n, master_.size() > 0 ? master_.size() : -1, "step");
    if (n == 0) return true;
    if (grad_.size() != n) grad_.resize(n);
    if (!convert_grad(g, grad_.data(), scaler)) {
      scaler->update(true);
      return false;
    }
    Low* x = params.data();
    Vector start;
    if (master_.size() == 0) {
      start.resize(n);
      convert(static_cast<const Low*>(x), start.data(), n);
    }
    Vector& master = master_.size() == 0 ? start : master_;
    inner().step(master, grad_);  // may throw: master_ and params are untouched
    if (master_.size() == 0) master_.swap(start);
    convert(static_cast<const float*>(master_.data()), x, n);
    if (scaler != nullptr) scaler->update(false);
    return true;
  }

  Vector master_;
  Vector grad_;  // the gradient converted to float, reused
};

}  // namespace descent
