#pragma once
/// \file
/// Lookahead (Zhang et al. 2019) around any optimizer.

#include "detail/check.hpp"
#include "detail/wrapper.hpp"
#include "optimizer.hpp"

#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

#include <Eigen/Core>

namespace descent {

/// \brief Lookahead: k steps forward with any optimizer, one step back
/// towards slow weights (Zhang et al., "Lookahead Optimizer: k steps
/// forward, 1 step back", 2019), as optax.lookahead.
///
/// Inputs: the wrapped ("fast") optimizer, sync_period (k), slow_step_size
/// (α), reset_state. State: the slow weights φ (the parameters before the
/// first step) and the fast steps since the last synchronisation, s. Per
/// step(θ, g):
///
///     inner.step(θ, g)                  (the fast step; skipped steps,
///                                        NonFinite::Skip, do not count)
///     s ← s + 1
///     if s = k:   φ ← (1 − α)·φ + α·θ;   θ ← φ;   s ← 0
///                 reset_state: inner.reset()
///
/// optax.lookahead(fast_optimizer, sync_period, slow_step_size, reset_state)
/// with LookaheadParams.init_synced(params): descent's θ is optax's fast
/// parameters, slow_weights() its slow ones. optax forms the synchronised
/// values as φ + α·(θ − φ) and θ + (u − (1 − α)·(θ + u − φ)); descent's
/// (1 − α)·φ + α·θ for both differs from those by rounding only, and makes
/// α = 1 exactly the wrapped optimizer and α = 0 exactly a restart from φ.
/// The synchronisation is one fused pass over θ and φ.
///
/// The wrapped optimizer keeps its own lr, options, threads and non-finite
/// policy: drive its lr with a scheduler directly. It must outlive the
/// wrapper. Lookahead is not itself an Optimizer (its step adds a pass after
/// the wrapped optimizer's); evaluate with slow_weights() or right after a
/// synchronisation, where θ = φ.
template <typename Scalar_>
class Lookahead : public detail::Wrapper<Scalar_> {
  using Base = detail::Wrapper<Scalar_>;

 public:
  /// The element type: float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;
  /// Storage of the slow weights.
  using Vector = typename Base::Vector;

  /// \brief The hyperparameters; the constructor checks them. The defaults
  /// are the paper's (optax has none).
  struct Options {
    /// k, fast steps between synchronisations; >= 1. Default 5.
    long sync_period = 5;
    /// α, how far the slow weights move towards the fast ones at a
    /// synchronisation; in [0, 1]. Default 0.5.
    double slow_step_size = 0.5;
    /// Reset the wrapped optimizer's state (inner.reset()) after each
    /// synchronisation, as optax's reset_state. Default false.
    bool reset_state = false;
  };

  /// \param inner the fast optimizer; must outlive the wrapper.
  /// \param options see Options.
  /// \throws std::invalid_argument if an option is out of range.
  explicit Lookahead(Optimizer<Scalar>& inner, Options options = {})
      : Base(inner), options_(checked(options)) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "Lookahead";
  /// The class name, kName.
  std::string_view name() const noexcept override { return kName; }

  /// The options.
  const Options& options() const noexcept { return options_; }

  /// \brief One fast step of the wrapped optimizer on params, then, every
  /// sync_period-th step, the synchronisation.
  ///
  /// Takes what Optimizer::step() takes. \throws what the wrapped
  /// optimizer's step() throws, and std::invalid_argument if params is not
  /// contiguous or not of the slow weights' size; then nothing has changed.
  template <typename Params, typename Grad>
  void step(Params&& params, const Eigen::DenseBase<Grad>& grad) {
    Scalar* x = this->checked_params(params, "step");
    const Index n = params.size();
    this->check_size(n, slow_.size() > 0 ? slow_.size() : -1, "step");
    Vector start;
    if (slow_.size() == 0) start = Eigen::Map<const Vector>(x, n);
    const std::int64_t before = this->inner().iterations();
    this->inner().step(params, grad);
    if (n == 0 || this->inner().iterations() == before) return;  // skipped
    if (slow_.size() == 0) slow_.swap(start);
    if (++since_sync_ < options_.sync_period) return;
    since_sync_ = 0;
    const Scalar alpha = static_cast<Scalar>(options_.slow_step_size);
    const Scalar keep = static_cast<Scalar>(1.0 - options_.slow_step_size);
    this->run(n, [x, phi = slow_.data(), alpha, keep](auto lanes, Index i) {
      using V = decltype(lanes);
      const V slow = V(keep) * V::load(phi + i) + V(alpha) * V::load(x + i);
      slow.store(phi + i);
      slow.store(x + i);
    });
    if (options_.reset_state) this->inner().reset();
  }

  /// The slow weights φ; empty before the first step.
  const Vector& slow_weights() const noexcept { return slow_; }

  /// Fast steps since the last synchronisation, in [0, sync_period).
  long steps_since_sync() const noexcept { return since_sync_; }

  /// Forgets the slow weights and the count (not the wrapped optimizer's
  /// state: reset it yourself).
  void reset() noexcept {
    slow_.resize(0);
    since_sync_ = 0;
  }

 protected:
  /// Checkpoint payload: sync_period i64, slow_step_size f64, reset_state
  /// u32, steps since sync i64, slow weights (length u64, elements).
  void write_state(detail::Writer& w) const override {
    w.i64(options_.sync_period);
    w.f64(options_.slow_step_size);
    w.u32(options_.reset_state ? 1u : 0u);
    w.i64(since_sync_);
    w.i64(slow_.size() > 0 ? std::int64_t(slow_.size()) : -1);
    w.array(slow_.data(), slow_.size());
  }

  /// Reads and checks what write_state() wrote; returns what makes it
  /// current.
  std::function<void()> stage_state(detail::Reader& r) override {
    Options o;
    const std::int64_t period = r.i64("sync_period");
    o.slow_step_size = r.f64("slow_step_size");
    const std::uint32_t reset = r.u32("reset_state");
    const std::int64_t since = r.i64("steps since sync");
    const std::int64_t size = r.i64("size");
    if (period < 1 || period > std::numeric_limits<long>::max()) {
      r.fail("sync_period " + std::to_string(period) + " is not >= 1");
    }
    o.sync_period = static_cast<long>(period);
    if (reset > 1) r.fail("reset_state " + std::to_string(reset) + " is not 0 or 1");
    o.reset_state = reset == 1;
    r.validate([&] { checked(o); }, "invalid options: ");
    if (since < 0 || since >= period) {
      r.fail("steps since sync " + std::to_string(since) + " is not in [0, sync_period)");
    }
    constexpr std::int64_t kMax = std::numeric_limits<std::ptrdiff_t>::max() / sizeof(Scalar);
    if (size == 0 || size < -1 || size > kMax) {
      r.fail("size " + std::to_string(size) + " is not −1 (none) or in [1, " +
             std::to_string(kMax) + "]");
    }
    if (size < 0 && since != 0) r.fail("steps since sync with no slow weights");
    if (slow_.size() > 0 && size > 0 && size != slow_.size()) {
      r.fail("the checkpoint's slow weights are of " + std::to_string(size) +
             " parameters, these of " + std::to_string(slow_.size()) +
             " (reset() first to load another size)");
    }
    Vector staged = r.template array<Scalar, Vector>(size < 0 ? 0 : size, "slow weights");
    return [this, o, since, staged = std::move(staged)]() mutable {
      options_ = o;
      since_sync_ = static_cast<long>(since);
      slow_.swap(staged);
    };
  }

 private:
  static const Options& checked(const Options& o) {
    detail::check_at_least(kName, "sync_period", o.sync_period, 1);
    detail::check_closed_unit_interval(kName, "slow_step_size", o.slow_step_size);
    return o;
  }

  Options options_;
  Vector slow_;
  long since_sync_ = 0;
};

}  // namespace descent
