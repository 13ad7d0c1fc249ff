#pragma once
/// \file
/// GradientAccumulation: one step of any optimizer per k micro-batches, on
/// their mean gradient.

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

/// \brief Accumulates the gradients of k micro-batches and steps the wrapped
/// optimizer once on their mean: a batch k times larger in the memory of
/// one, as Keras's gradient_accumulation_steps and optax.MultiSteps.
///
/// Inputs: the wrapped optimizer, steps (k), mean. State: the accumulator a
/// and the micro-steps m taken since the last real step. Per step(θ, g_j):
///
///     Keras (mean = SumThenDivide):  m < k − 1:  a ← a + g_j
///                                    m = k − 1:  ḡ = (g_j + a) / k
///     optax (mean = RunningMean):    a ← a + (g_j − a)/(m + 1); ḡ = a at m = k − 1
///     m = k − 1:  inner.step(θ, ḡ);  a ← 0;  m ← 0     otherwise m ← m + 1
///
/// (a starts at 0; each line is one fused pass.) The wrapped optimizer takes
/// one real step per k calls, exactly the step it takes given ḡ itself: its
/// step count, bias corrections and lr schedule see real steps only, as in
/// optax.MultiSteps (Keras's optimizers instead count micro-steps in their
/// own iterations). Its non-finite policy applies to ḡ; a skipped or refused
/// real step still ends the accumulation when it is skipped, and leaves
/// everything as it was when it throws.
///
/// The wrapped optimizer must outlive the wrapper; drive its lr with a
/// scheduler directly.
template <typename Scalar_>
class GradientAccumulation : public detail::Wrapper<Scalar_> {
  using Base = detail::Wrapper<Scalar_>;

 public:
  /// The element type: float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;
  /// Storage of the accumulator.
  using Vector = typename Base::Vector;

  /// How the mean of the micro-batch gradients is formed.
  enum class Mean {
    SumThenDivide,  ///< Keras's: the sum, divided by k at the last micro-step.
    RunningMean     ///< optax's (Welford's): a running mean.
  };

  /// \brief The hyperparameters; the constructor checks them.
  struct Options {
    /// k, micro-batches per real step; >= 1. Default 2.
    long steps = 2;
    /// How the mean is formed. Default SumThenDivide (Keras's).
    Mean mean = Mean::SumThenDivide;
  };

  /// \param inner the optimizer to step; must outlive the wrapper.
  /// \param options see Options.
  /// \throws std::invalid_argument if an option is out of range.
  explicit GradientAccumulation(Optimizer<Scalar>& inner, Options options = {})
      : Base(inner), options_(checked(options)) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "GradientAccumulation";
  /// The class name, kName.
  std::string_view name() const noexcept override { return kName; }

  /// The options.
  const Options& options() const noexcept { return options_; }

  /// \brief Takes one micro-batch's gradient; every steps-th call steps the
  /// wrapped optimizer on the mean.
  ///
  /// Takes what Optimizer::step() takes. \throws std::invalid_argument if
  /// params is not contiguous, or params or grad is not of the size the
  /// state is built for, and what the wrapped optimizer's step() throws;
  /// then nothing has changed.
  template <typename Params, typename Grad>
  void step(Params&& params, const Eigen::DenseBase<Grad>& grad) {
    this->checked_params(params, "step");
    const Index n = params.size();
    this->check_size(n, size_, "step");
    const Grad& g = grad.derived();
    if (g.size() != n) {
      throw std::invalid_argument(this->who("step") + ": params has " + std::to_string(n) +
                                  " elements but grad has " + std::to_string(g.size()));
    }
    if (n == 0) return;
    if constexpr (detail::has_direct_access<Grad>()) {
      if (detail::is_contiguous(g)) {
        take(params, g.data(), n);
        return;
      }
    }
    const typename Grad::PlainObject plain = g;
    take(params, plain.data(), n);
  }

  /// Micro-steps taken since the last real step, in [0, steps).
  long micro_steps() const noexcept { return micro_; }

  /// The accumulator: the sum (SumThenDivide) or the mean (RunningMean) of
  /// the gradients of the micro_steps() micro-batches so far; empty before
  /// the first step.
  const Vector& accumulated() const noexcept { return accumulator_; }

  /// Forgets the accumulated gradients (not the wrapped optimizer's state).
  void reset() noexcept {
    accumulator_.resize(0);
    mean_.resize(0);
    micro_ = 0;
    size_ = -1;
  }

 protected:
  /// Checkpoint payload: steps i64, mean u32, micro-steps i64, size i64
  /// (−1 before the first step), accumulator (length u64: size if
  /// micro-steps > 0, else 0; elements).
  void write_state(detail::Writer& w) const override {
    w.i64(options_.steps);
    w.u32(static_cast<std::uint32_t>(options_.mean));
    w.i64(micro_);
    w.i64(size_);
    w.array(accumulator_.data(), micro_ > 0 ? accumulator_.size() : 0);
  }

  /// Reads and checks what write_state() wrote; returns what makes it
  /// current.
  std::function<void()> stage_state(detail::Reader& r) override {
    Options o;
    const std::int64_t steps = r.i64("steps");
    const std::uint32_t mean = r.u32("mean");
    const std::int64_t micro = r.i64("micro-steps");
    const std::int64_t size = r.i64("size");
    if (steps < 1 || steps > std::numeric_limits<long>::max()) {
      r.fail("steps " + std::to_string(steps) + " is not >= 1");
    }
    o.steps = static_cast<long>(steps);
    if (mean > 1)
      r.fail("mean " + std::to_string(mean) + " is not SumThenDivide (0) or RunningMean (1)");
    o.mean = static_cast<Mean>(mean);
    if (micro < 0 || micro >= steps) {
      r.fail("micro-steps " + std::to_string(micro) + " is not in [0, steps)");
    }
    constexpr std::int64_t kMax = std::numeric_limits<std::ptrdiff_t>::max() / sizeof(Scalar);
    if (size == 0 || size < -1 || size > kMax) {
      r.fail("size " + std::to_string(size) + " is not −1 (none) or in [1, " +
             std::to_string(kMax) + "]");
    }
    if (size < 0 && micro != 0) r.fail("micro-steps with no accumulator");
    if (size_ >= 0 && size >= 0 && size != size_) {
      r.fail("the checkpoint's accumulator is of " + std::to_string(size) +
             " parameters, this one of " + std::to_string(size_) +
             " (reset() first to load another size)");
    }
    Vector staged = r.template array<Scalar, Vector>(micro > 0 ? size : 0, "accumulator");
    return [this, o, micro, size, staged = std::move(staged)]() mutable {
      options_ = o;
      micro_ = static_cast<long>(micro);
      size_ = static_cast<Index>(size);
      accumulator_.swap(staged);
      if (size_ >= 0) accumulator_.resize(size_);
    };
  }

 private:
  static const Options& checked(const Options& o) {
    detail::check_at_least(kName, "steps", o.steps, 1);
    detail::check_enum(kName, "mean", o.mean, {"SumThenDivide", "RunningMean"});
    return o;
  }

  /// a ← a + g (Keras) or a ← a + (g − a)/count (optax), reading a as 0
  /// if kZero; the result goes to out (a itself, or the mean's buffer).
  /// With out = mean and count = k these are the last micro-step's
  /// (g + a)/k and a + (g − a)/k.
  template <bool kZero, bool kWelford, bool kDivide>
  static auto accumulate_body(const Scalar* a, const Scalar* g, Scalar* out, Scalar count) {
    return [=](auto lanes, Index i) {
      using V = decltype(lanes);
      const V ai = kZero ? V(Scalar(0)) : V::load(a + i);
      const V gi = V::load(g + i);
      if constexpr (kWelford) {
        (ai + (gi - ai) / V(count)).store(out + i);
      } else if constexpr (kDivide) {
        ((gi + ai) / V(count)).store(out + i);
      } else {
        (ai + gi).store(out + i);
      }
    };
  }

  template <typename Params>
  void take(Params& params, const Scalar* g, Index n) {
    if (accumulator_.size() != n) accumulator_.resize(n);  // the first step
    Scalar* a = accumulator_.data();
    // On the first micro-step a is 0 and is not read.
    const bool first = micro_ == 0;
    const bool running = options_.mean == Mean::RunningMean;
    const bool last = micro_ + 1 == options_.steps;
    if (last && mean_.size() != n) mean_.resize(n);
    Scalar* out = last ? mean_.data() : a;
    const Scalar count = static_cast<Scalar>(micro_ + 1);
    detail::with_flag(first, [&](auto zero) {
      detail::with_flag(running, [&](auto welford) {
        detail::with_flag(last, [&](auto divide) {
          this->run(n, accumulate_body<decltype(zero)::value, decltype(welford)::value,
                                       decltype(divide)::value>(a, g, out, count));
        });
      });
    });
    if (last) this->inner().step(params, mean_);  // may throw: a is untouched
    micro_ = last ? 0 : micro_ + 1;
    size_ = n;
  }

  Options options_;
  Vector accumulator_;
  Vector mean_;
  long micro_ = 0;
  Index size_ = -1;
};

}  // namespace descent
