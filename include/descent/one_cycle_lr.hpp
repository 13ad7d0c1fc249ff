#pragma once
/// \file
/// OneCycleLR, the 1cycle policy (lecture section 9).

#include "detail/check.hpp"
#include "scheduler.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace descent {

/// \brief The 1cycle policy, as torch.optim.lr_scheduler.OneCycleLR: from
/// initial_lr = max_lr / div_factor up to max_lr over the first pct_start of
/// total_steps, then down to min_lr = initial_lr / final_div_factor.
///
/// With s the step, each phase anneals from its start lr to its end lr as
/// pct = (s − start) / (end − start) goes from 0 to 1:
///
///     two phases:   initial_lr → max_lr,  steps 0 .. pct_start·T − 1
///                   max_lr → min_lr,      then to T − 1
///     three_phase:  initial_lr → max_lr,  steps 0 .. pct_start·T − 1
///                   max_lr → initial_lr,  then to 2·pct_start·T − 2
///                   initial_lr → min_lr,  then to T − 1
///     cos:     lr = end + (start − end)/2·(1 + cos(π·pct))
///     linear:  lr = (end − start)·pct + start
///
/// PyTorch's defaults (Options): pct_start 0.3, cos, div_factor 25,
/// final_div_factor 1e4, two phases, base_momentum 0.85, max_momentum 0.95.
/// With cycle_momentum each optimizer's momentum or β₁
/// (Optimizer::momentum_option(); PyTorch's `momentum`, else `betas[0]`) is
/// annealed inversely to the lr, phase by phase and with the same shape:
///
///     two phases:   max_momentum → base_momentum → max_momentum
///     three_phase:  max_momentum → base_momentum → max_momentum → max_momentum
///
/// What differs: cycle_momentum defaults to false (PyTorch: true), as
/// CyclicLR's, since PyTorch's default refuses an optimizer without momentum
/// and overrides the momentum of one that has it unasked; the optimizers' lr
/// is ignored (base_lr() is initial_lr, as PyTorch's initial_lr);
/// total_steps is given directly (PyTorch's epochs·steps_per_epoch is that
/// product). As PyTorch,
/// step T extrapolates the last phase (with linear annealing its lr can then
/// be negative, which step() refuses) and stepping past T throws
/// std::invalid_argument. Not a SequentialLR or ChainedScheduler child. The
/// optimizers must outlive the scheduler.
template <typename Scalar_>
class OneCycleLR : public LRScheduler<Scalar_> {
 public:
  /// The Scalar of the optimizers it drives: float or double.
  using Scalar = Scalar_;

  /// How each phase goes from its start lr to its end lr.
  enum class Anneal {
    cos,    ///< Half a cosine: lr = end + (start − end)/2·(1 + cos(π·pct)).
    linear  ///< A straight line: lr = (end − start)·pct + start.
  };

  /// \brief The shape of the cycle; the defaults are PyTorch's.
  struct Options {
    /// Fraction of the steps spent raising the lr; in [0, 1]. Default 0.3.
    double pct_start = 0.3;
    /// The shape of each phase. Default cos.
    Anneal anneal_strategy = Anneal::cos;
    /// initial_lr = max_lr / div_factor; finite and > 0. Default 25.
    double div_factor = 25.0;
    /// min_lr = initial_lr / final_div_factor; finite and > 0. Default 1e4.
    double final_div_factor = 1e4;
    /// Three phases (back down to initial_lr before the last). Default false.
    bool three_phase = false;
    /// Also cycle each optimizer's momentum or β₁, inversely to the lr.
    /// Default false (PyTorch: true; see the class).
    bool cycle_momentum = false;
    /// The momentum at the lr's peak: one for all optimizers or one each;
    /// in [0, 1). Default 0.85.
    std::vector<double> base_momentum{0.85};
    /// The momentum at the lr's ends: one or one each; in [0, 1). Default
    /// 0.95.
    std::vector<double> max_momentum{0.95};
  };

  /// One cycle of total_steps steps with a peak lr per optimizer.
  /// \param optimizers one optimizer or several (OptimizerList).
  /// \param max_lr the peak lr, one for all optimizers or one each; finite
  ///   and >= 0.
  /// \param total_steps steps in the cycle; >= 1.
  /// \param options the shape of the cycle.
  /// \throws std::invalid_argument if an argument is out of range (the
  ///   optimizers are then unchanged).
  OneCycleLR(const OptimizerList<Scalar>& optimizers, std::vector<double> max_lr,
             std::int64_t total_steps, Options options = {})
      : LRScheduler<Scalar>(kName, optimizers),
        max_lrs_(std::move(max_lr)),
        total_steps_(total_steps),
        options_(options) {
    for (auto* v : {&max_lrs_, &options_.base_momentum, &options_.max_momentum}) {
      detail::broadcast(*v, this->num_optimizers());
    }
    check(max_lrs_, this->optimizers(), total_steps_, options_);
    rebase();
    this->apply(0);
  }
  /// One peak lr for every optimizer; as above.
  OneCycleLR(const OptimizerList<Scalar>& optimizers, double max_lr, std::int64_t total_steps,
             Options options = {})
      : OneCycleLR(optimizers, std::vector<double>{max_lr}, total_steps, std::move(options)) {}

  /// One per optimizer.
  const std::vector<double>& max_lrs() const noexcept { return max_lrs_; }
  /// Steps in the cycle.
  std::int64_t total_steps() const noexcept { return total_steps_; }
  /// The shape of the cycle, with one momentum per optimizer.
  const Options& options() const noexcept { return options_; }
  bool cycles_momentum() const noexcept override { return options_.cycle_momentum; }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "OneCycleLR";
  std::string_view name() const noexcept override { return kName; }

 protected:
  bool own_base_lrs() const noexcept override { return true; }
  double compute_lr(std::int64_t e, std::size_t i) const override {
    const double max_lr = max_lrs_[i], initial = max_lr / options_.div_factor;
    const double min_lr = initial / options_.final_div_factor;
    const double ends[3][2] = {
        {initial, max_lr}, {max_lr, options_.three_phase ? initial : min_lr}, {initial, min_lr}};
    return anneal_at(e, ends);
  }
  double compute_momentum(std::int64_t e, std::size_t i) const override {
    const double hi = options_.max_momentum[i], lo = options_.base_momentum[i];
    const double ends[3][2] = {{hi, lo}, {lo, hi}, {hi, hi}};
    return anneal_at(e, ends);
  }

  // Bit 1 of the three_phase word (written 0 or 1 before momentum was
  // cycled) says that the momenta follow max_lr, so checkpoints without
  // cycle_momentum keep their bytes.
  void write_params(detail::Writer& w) const override {
    w.i64(total_steps_);
    w.f64(options_.pct_start);
    w.u32(static_cast<std::uint32_t>(options_.anneal_strategy));
    w.f64(options_.div_factor);
    w.f64(options_.final_div_factor);
    w.u32((options_.three_phase ? 1u : 0u) | (options_.cycle_momentum ? kMomentumBit : 0u));
    w.u32(static_cast<std::uint32_t>(max_lrs_.size()));
    for (const double m : max_lrs_) w.f64(m);
    if (!options_.cycle_momentum) return;
    for (const double m : options_.base_momentum) w.f64(m);
    for (const double m : options_.max_momentum) w.f64(m);
  }

  std::function<void()> stage_params_at(detail::Reader& r, std::int64_t epoch) override {
    const std::int64_t total = r.i64("total_steps");
    Options o;
    o.pct_start = r.f64("pct_start");
    const std::uint32_t anneal = r.u32("anneal_strategy");
    o.div_factor = r.f64("div_factor");
    o.final_div_factor = r.f64("final_div_factor");
    const std::uint32_t three = r.u32("three_phase");
    if (three > (1u | kMomentumBit)) {
      r.fail("three_phase " + std::to_string(three) + " is not 0 or 1, plus 2 with cycle_momentum");
    }
    o.three_phase = (three & 1u) != 0;
    o.cycle_momentum = (three & kMomentumBit) != 0;
    std::vector<double> max_lrs(r.count("max_lr count", sizeof(double)));
    for (double& m : max_lrs) m = r.f64("max_lr");
    // Without cycle_momentum the checkpoint holds no momenta: keep these.
    o.base_momentum = options_.base_momentum;
    o.max_momentum = options_.max_momentum;
    if (o.cycle_momentum) {
      o.base_momentum.resize(max_lrs.size());
      o.max_momentum.resize(max_lrs.size());
      for (double& m : o.base_momentum) m = r.f64("base_momentum");
      for (double& m : o.max_momentum) m = r.f64("max_momentum");
    }
    r.validate([&] {
      check_anneal(anneal);
      o.anneal_strategy = static_cast<Anneal>(anneal);
      check(max_lrs, this->optimizers(), total, o);
    });
    // step() refuses to go past total_steps, so no run saves a later epoch.
    if (epoch > total) {
      r.fail("epoch " + std::to_string(epoch) + " is past total_steps " + std::to_string(total));
    }
    return [this, total, o, max_lrs] {
      total_steps_ = total;
      options_ = o;
      max_lrs_ = max_lrs;  // the base lrs are the checkpoint's
    };
  }

 private:
  static constexpr double kPi = 3.141592653589793;  // math.pi
  static constexpr std::uint32_t kMomentumBit = 2;

  /// The value at step e of the phases whose start and end values are
  /// ends[k] (the first two, or all three with three_phase).
  double anneal_at(std::int64_t e, const double (&ends)[3][2]) const {
    if (e > total_steps_) {
      throw std::invalid_argument("descent::OneCycleLR: step " + std::to_string(e) +
                                  " is past total_steps " + std::to_string(total_steps_));
    }
    const double T = double(total_steps_), p = options_.pct_start;
    const double three_ends[3] = {p * T - 1, 2 * p * T - 2, T - 1};
    const double two_ends[2] = {p * T - 1, T - 1};
    const double* end_steps = options_.three_phase ? three_ends : two_ends;
    const int n = options_.three_phase ? 3 : 2;
    double start_step = 0;
    for (int k = 0;; ++k) {
      if (double(e) <= end_steps[k] || k == n - 1) {
        const double pct = (double(e) - start_step) / (end_steps[k] - start_step);
        const double start = ends[k][0], end = ends[k][1];
        if (options_.anneal_strategy == Anneal::linear) return (end - start) * pct + start;
        const double cos_out = std::cos(kPi * pct) + 1;
        return end + (start - end) / 2.0 * cos_out;
      }
      start_step = end_steps[k];
    }
  }

  /// The one check of the constructor and the checkpoint loader.
  static void check(const std::vector<double>& max_lrs,
                    const std::vector<Optimizer<Scalar>*>& optimizers, std::int64_t total_steps,
                    const Options& o) {
    const std::size_t n = optimizers.size();
    detail::check_count(kName, "max_lr", max_lrs, n);
    detail::check_count(kName, "base_momentum", o.base_momentum, n);
    detail::check_count(kName, "max_momentum", o.max_momentum, n);
    for (const double m : max_lrs) detail::check_nonnegative(kName, "max_lr", m);
    for (const double m : o.base_momentum) detail::check_unit_interval(kName, "base_momentum", m);
    for (const double m : o.max_momentum) detail::check_unit_interval(kName, "max_momentum", m);
    detail::check_at_least(kName, "total_steps", total_steps, 1);
    if (!(o.pct_start >= 0 && o.pct_start <= 1)) {
      detail::throw_invalid(kName, "pct_start", "in [0, 1]", o.pct_start);
    }
    check_anneal(o.anneal_strategy);
    detail::check_positive(kName, "div_factor", o.div_factor);
    detail::check_positive(kName, "final_div_factor", o.final_div_factor);
    if (o.cycle_momentum) detail::check_momentum_optimizers(kName, optimizers);
  }

  /// An Anneal, or the number that stands for one in a checkpoint.
  template <typename T>
  static void check_anneal(T anneal) {
    detail::check_enum(kName, "anneal_strategy", anneal, {"cos", "linear"});
  }

  /// PyTorch's initial_lr, max_lr / div_factor, is the base lr.
  void rebase() {
    std::vector<Scalar> base;
    for (const double m : max_lrs_) base.push_back(static_cast<Scalar>(m / options_.div_factor));
    this->set_base_lrs(std::move(base));
  }

  std::vector<double> max_lrs_;
  std::int64_t total_steps_;
  Options options_;
};

}  // namespace descent
