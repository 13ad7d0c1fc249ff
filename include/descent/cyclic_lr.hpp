#pragma once
/// \file
/// CyclicLR, cyclical learning rates (lecture section 9).

#include "detail/check.hpp"
#include "scheduler.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace descent {

/// \brief The lr cycles between base_lr and max_lr, up over step_size_up
/// steps and down over step_size_down, as torch.optim.lr_scheduler.CyclicLR
/// (Smith 2017); step() once per batch.
///
/// With s the step, L = step_size_up + step_size_down and r =
/// step_size_up / L, per optimizer:
///
///     cycle = ⌊1 + s/L⌋,  x = 1 + s/L − cycle
///     f = x/r if x <= r, else (x − 1)/(r − 1)         (0 → 1 → 0 in a cycle)
///     lr       = base_lr + (max_lr − base_lr)·f·scale
///     momentum = max_momentum − (max_momentum − base_momentum)·f·scale
///     scale = 1                  (triangular)
///             1 / 2^(cycle − 1)  (triangular2: the height halves each cycle)
///             γ^s                (exp_range)
///             scale_fn(cycle) or scale_fn(s)   (a custom scale_fn, by scale_mode)
///
/// PyTorch's defaults: step_size_up 2000, step_size_down = step_size_up,
/// triangular, γ 1, base_momentum 0.8, max_momentum 0.9; so are these. Two
/// differ. cycle_momentum defaults to false here (PyTorch: true): PyTorch's
/// default refuses an optimizer without momentum, which most of descent's
/// adaptive ones are, and would override the momentum of an optimizer that
/// has one with 0.8 to 0.9 unasked; ask for it. And where PyTorch 1.13 cycles
/// only an optimizer's `momentum`, this cycles whichever of momentum, β or
/// β₁ the optimizer has (Optimizer::momentum_option(), as PyTorch 2 does
/// for β₁). The optimizers' lr is ignored: base_lr() is the base_lr given.
/// A custom scale_fn is not data: construct the scheduler with the same one
/// before load(). Not a SequentialLR or ChainedScheduler child. The
/// optimizers must outlive the scheduler.
template <typename Scalar_>
class CyclicLR : public LRScheduler<Scalar_> {
 public:
  /// The Scalar of the optimizers it drives: float or double.
  using Scalar = Scalar_;

  /// The built-in shapes of the cycles' heights.
  enum class Mode {
    triangular,   ///< Every cycle the same height.
    triangular2,  ///< The height halves each cycle.
    exp_range     ///< The height scales by γ^step.
  };

  /// What a custom scale_fn is given.
  enum class ScaleMode {
    cycle,      ///< The cycle number, 1, 2, …
    iterations  ///< The step.
  };

  /// \brief The shape of the cycles; the defaults are PyTorch's but for
  /// cycle_momentum.
  struct Options {
    /// Steps from base_lr up to max_lr; finite and > 0. Default 2000.
    double step_size_up = 2000;
    /// Steps from max_lr down to base_lr; finite and >= 0, or negative for
    /// step_size_up (PyTorch's None). Default -1.
    double step_size_down = -1;
    /// The cycles' heights, when scale_fn is empty. Default triangular.
    Mode mode = Mode::triangular;
    /// exp_range's factor per step; finite and > 0. Default 1.
    double gamma = 1.0;
    /// A custom scale in place of mode's, given what scale_mode says.
    /// Default empty.
    std::function<double(double)> scale_fn;
    /// What scale_fn is given. Default cycle.
    ScaleMode scale_mode = ScaleMode::cycle;
    /// Also cycle each optimizer's momentum or β₁, inversely to the lr.
    /// Default false (PyTorch: true; see the class).
    bool cycle_momentum = false;
    /// The momentum at the lr's peak: one for all optimizers or one each;
    /// in [0, 1). Default 0.8.
    std::vector<double> base_momentum{0.8};
    /// The momentum at base_lr: one or one each; in [0, 1). Default 0.9.
    std::vector<double> max_momentum{0.9};
  };

  /// \param optimizers one optimizer or several (OptimizerList).
  /// \param base_lr the lowest lr: one for all optimizers or one each;
  ///   finite and >= 0.
  /// \param max_lr the highest: one or one each; finite and >= 0.
  /// \param options the shape of the cycles.
  /// \throws std::invalid_argument if an argument is out of range, or
  ///   cycle_momentum is set and an optimizer has no momentum (the
  ///   optimizers are then unchanged).
  CyclicLR(const OptimizerList<Scalar>& optimizers, std::vector<double> base_lr,
           std::vector<double> max_lr, Options options = {})
      : LRScheduler<Scalar>(kName, optimizers),
        base_(std::move(base_lr)),
        max_(std::move(max_lr)),
        options_(std::move(options)) {
    for (auto* v : {&base_, &max_, &options_.base_momentum, &options_.max_momentum}) {
      detail::broadcast(*v, this->num_optimizers());
    }
    check(base_, max_, options_, this->optimizers());
    this->set_base_lrs(std::vector<Scalar>(base_.begin(), base_.end()));
    this->apply(0);
  }
  /// One base_lr and max_lr for every optimizer; as above.
  CyclicLR(const OptimizerList<Scalar>& optimizers, double base_lr, double max_lr,
           Options options = {})
      : CyclicLR(optimizers, std::vector<double>{base_lr}, std::vector<double>{max_lr},
                 std::move(options)) {}

  /// The lowest lr of each optimizer.
  const std::vector<double>& base_lr_values() const noexcept { return base_; }
  /// The highest lr of each optimizer.
  const std::vector<double>& max_lrs() const noexcept { return max_; }
  /// The shape of the cycles, with one momentum per optimizer.
  const Options& options() const noexcept { return options_; }
  bool cycles_momentum() const noexcept override { return options_.cycle_momentum; }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "CyclicLR";
  std::string_view name() const noexcept override { return kName; }

 protected:
  bool own_base_lrs() const noexcept override { return true; }
  double compute_lr(std::int64_t e, std::size_t i) const override {
    return base_[i] + (max_[i] - base_[i]) * factor(e) * scale(e);
  }
  double compute_momentum(std::int64_t e, std::size_t i) const override {
    const double lo = options_.base_momentum[i], hi = options_.max_momentum[i];
    return hi - (hi - lo) * factor(e) * scale(e);
  }

  void write_params(detail::Writer& w) const override {
    w.f64(options_.step_size_up);
    w.f64(options_.step_size_down);
    w.u32(static_cast<std::uint32_t>(options_.mode));
    w.f64(options_.gamma);
    w.u32(options_.scale_fn ? 1u : 0u);
    w.u32(static_cast<std::uint32_t>(options_.scale_mode));
    w.u32(options_.cycle_momentum ? 1u : 0u);
    for (const auto* v : {&base_, &max_, &options_.base_momentum, &options_.max_momentum}) {
      for (const double x : *v) w.f64(x);
    }
  }

  std::function<void()> stage_params(detail::Reader& r) override {
    Options o;
    o.step_size_up = r.f64("step_size_up");
    o.step_size_down = r.f64("step_size_down");
    const std::uint32_t mode = r.u32("mode");
    o.gamma = r.f64("gamma");
    const std::uint32_t custom = r.u32("scale_fn");
    const std::uint32_t scale_mode = r.u32("scale_mode");
    const std::uint32_t cycle_momentum = r.u32("cycle_momentum");
    const std::size_t n = this->num_optimizers();
    std::vector<double> base(n), max(n);
    o.base_momentum.resize(n);
    o.max_momentum.resize(n);
    for (auto* v : {&base, &max, &o.base_momentum, &o.max_momentum}) {
      for (double& x : *v) x = r.f64("lr or momentum");
    }
    if (custom > 1) r.fail("scale_fn " + std::to_string(custom) + " is not 0 or 1");
    if ((custom == 1) != bool(options_.scale_fn)) {
      r.fail(custom == 1 ? "the checkpoint's schedule has a custom scale_fn, this one none"
                         : "the checkpoint's schedule has no custom scale_fn, this one has");
    }
    if (cycle_momentum > 1) {
      r.fail("cycle_momentum " + std::to_string(cycle_momentum) + " is not 0 or 1");
    }
    o.cycle_momentum = cycle_momentum == 1;
    o.scale_fn = options_.scale_fn;
    r.validate([&] {
      check_enums(mode, scale_mode);
      o.mode = static_cast<Mode>(mode);
      o.scale_mode = static_cast<ScaleMode>(scale_mode);
      check(base, max, o, this->optimizers());
    });
    return [this, o, base, max] {
      options_ = o;
      base_ = base;
      max_ = max;
    };
  }

 private:
  /// The one check of the constructor and the checkpoint loader.
  static void check(const std::vector<double>& base, const std::vector<double>& max,
                    const Options& o, const std::vector<Optimizer<Scalar>*>& optimizers) {
    const std::size_t n = optimizers.size();
    detail::check_count(kName, "base_lr", base, n);
    detail::check_count(kName, "max_lr", max, n);
    detail::check_count(kName, "base_momentum", o.base_momentum, n);
    detail::check_count(kName, "max_momentum", o.max_momentum, n);
    for (const double v : base) detail::check_nonnegative(kName, "base_lr", v);
    for (const double v : max) detail::check_nonnegative(kName, "max_lr", v);
    for (const double v : o.base_momentum) detail::check_unit_interval(kName, "base_momentum", v);
    for (const double v : o.max_momentum) detail::check_unit_interval(kName, "max_momentum", v);
    detail::check_positive(kName, "step_size_up", o.step_size_up);
    if (!std::isfinite(o.step_size_down) || std::isnan(o.step_size_down)) {
      detail::throw_invalid(kName, "step_size_down", "finite", o.step_size_down);
    }
    check_enums(o.mode, o.scale_mode);
    detail::check_positive(kName, "gamma", o.gamma);
    if (o.cycle_momentum) detail::check_momentum_optimizers(kName, optimizers);
  }

  template <typename M, typename S>
  static void check_enums(M mode, S scale_mode) {
    detail::check_enum(kName, "mode", mode, {"triangular", "triangular2", "exp_range"});
    detail::check_enum(kName, "scale_mode", scale_mode, {"cycle", "iterations"});
  }

  double total() const {
    const double up = options_.step_size_up;
    return up + (options_.step_size_down < 0 ? up : options_.step_size_down);
  }

  double cycle(std::int64_t e) const { return std::floor(1 + double(e) / total()); }

  /// 0 → 1 → 0 over a cycle.
  double factor(std::int64_t e) const {
    const double ratio = options_.step_size_up / total();
    const double x = 1. + double(e) / total() - cycle(e);
    return x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
  }

  double scale(std::int64_t e) const {
    const bool by_cycle = options_.scale_fn ? options_.scale_mode == ScaleMode::cycle
                                            : options_.mode != Mode::exp_range;
    const double arg = by_cycle ? cycle(e) : double(e);
    if (options_.scale_fn) return options_.scale_fn(arg);
    switch (options_.mode) {
      case Mode::triangular:
        return 1.;
      case Mode::triangular2:
        return 1 / std::pow(2., arg - 1);
      case Mode::exp_range:
        break;
    }
    return std::pow(options_.gamma, arg);
  }

  std::vector<double> base_;
  std::vector<double> max_;
  Options options_;
};

}  // namespace descent
