#pragma once
/// \file
/// OneCycleLR, the 1cycle policy (lecture section 9).

#include "detail/check.hpp"
#include "scheduler.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
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
/// final_div_factor 1e4, two phases. What differs: the optimizers' lr is
/// ignored (base_lr() is initial_lr, as PyTorch's initial_lr); PyTorch's
/// cycle_momentum (momentum cycled inversely to lr) is left out, since
/// descent's momentum is not a scheduled quantity; total_steps is given
/// directly (PyTorch's epochs·steps_per_epoch is that product). As PyTorch,
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
  };

  /// One cycle of total_steps steps with a peak lr per optimizer.
  /// \param optimizers one optimizer or several (OptimizerList).
  /// \param max_lr the peak lr, one for all optimizers or one each; finite
  ///   and >= 0.
  /// \param total_steps steps in the cycle; >= 1.
  /// \param options the shape of the cycle.
  /// \throws std::invalid_argument if an argument is out of range (the
  ///   optimizers are then unchanged).
  OneCycleLR(const OptimizerList<Scalar>& optimizers, std::vector<double> max_lr, long total_steps,
             Options options = {})
      : LRScheduler<Scalar>(kName, optimizers),
        max_lrs_(std::move(max_lr)),
        total_steps_(total_steps),
        options_(options) {
    if (max_lrs_.size() == 1) max_lrs_.resize(this->num_optimizers(), max_lrs_[0]);
    check(max_lrs_, this->num_optimizers(), total_steps_, options_);
    rebase();
    this->apply(0);
  }
  /// One peak lr for every optimizer; as above.
  OneCycleLR(const OptimizerList<Scalar>& optimizers, double max_lr, long total_steps,
             Options options = {})
      : OneCycleLR(optimizers, std::vector<double>{max_lr}, total_steps, options) {}

  /// One per optimizer.
  const std::vector<double>& max_lrs() const noexcept { return max_lrs_; }
  /// Steps in the cycle.
  long total_steps() const noexcept { return total_steps_; }
  /// The shape of the cycle.
  const Options& options() const noexcept { return options_; }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "OneCycleLR";
  std::string_view name() const noexcept override { return kName; }

 protected:
  double compute_lr(long e, std::size_t i) const override {
    if (e > total_steps_) {
      throw std::invalid_argument("descent::OneCycleLR: step " + std::to_string(e) +
                                  " is past total_steps " + std::to_string(total_steps_));
    }
    const double max_lr = max_lrs_[i], initial = max_lr / options_.div_factor;
    const double min_lr = initial / options_.final_div_factor;
    const double T = double(total_steps_), p = options_.pct_start;
    struct Phase {
      double end_step, start_lr, end_lr;
    };
    const Phase two[] = {{p * T - 1, initial, max_lr}, {T - 1, max_lr, min_lr}};
    const Phase three[] = {
        {p * T - 1, initial, max_lr}, {2 * p * T - 2, max_lr, initial}, {T - 1, initial, min_lr}};
    const Phase* phases = options_.three_phase ? three : two;
    const int n = options_.three_phase ? 3 : 2;
    double start_step = 0;
    for (int k = 0;; ++k) {
      const Phase& phase = phases[k];
      if (double(e) <= phase.end_step || k == n - 1) {
        const double pct = (double(e) - start_step) / (phase.end_step - start_step);
        if (options_.anneal_strategy == Anneal::linear) {
          return (phase.end_lr - phase.start_lr) * pct + phase.start_lr;
        }
        const double cos_out = std::cos(kPi * pct) + 1;
        return phase.end_lr + (phase.start_lr - phase.end_lr) / 2.0 * cos_out;
      }
      start_step = phase.end_step;
    }
  }

  void write_params(detail::Writer& w) const override {
    w.i64(total_steps_);
    w.f64(options_.pct_start);
    w.u32(static_cast<std::uint32_t>(options_.anneal_strategy));
    w.f64(options_.div_factor);
    w.f64(options_.final_div_factor);
    w.u32(options_.three_phase ? 1u : 0u);
    w.u32(static_cast<std::uint32_t>(max_lrs_.size()));
    for (const double m : max_lrs_) w.f64(m);
  }

  std::function<void()> stage_params_at(detail::Reader& r, long epoch) override {
    const std::int64_t total = r.i64("total_steps");
    Options o;
    o.pct_start = r.f64("pct_start");
    const std::uint32_t anneal = r.u32("anneal_strategy");
    o.div_factor = r.f64("div_factor");
    o.final_div_factor = r.f64("final_div_factor");
    const std::uint32_t three = r.u32("three_phase");
    if (three > 1) r.fail("three_phase " + std::to_string(three) + " is not 0 or 1");
    o.three_phase = three == 1;
    std::vector<double> max_lrs(r.count("max_lr count", sizeof(double)));
    for (double& m : max_lrs) m = r.f64("max_lr");
    if (total > std::numeric_limits<long>::max()) r.fail("total_steps is out of range");
    try {
      check_anneal(anneal);
      o.anneal_strategy = static_cast<Anneal>(anneal);
      check(max_lrs, this->num_optimizers(), static_cast<long>(total), o);
    } catch (const std::invalid_argument& e) {
      r.fail(e.what());
    }
    // step() refuses to go past total_steps, so no run saves a later epoch.
    if (epoch > total) {
      r.fail("epoch " + std::to_string(epoch) + " is past total_steps " + std::to_string(total));
    }
    return [this, total, o, max_lrs] {
      total_steps_ = static_cast<long>(total);
      options_ = o;
      max_lrs_ = max_lrs;
      rebase();
    };
  }

 private:
  static constexpr double kPi = 3.141592653589793;  // math.pi

  static void check(const std::vector<double>& max_lrs, std::size_t n, long total_steps,
                    const Options& o) {
    if (max_lrs.size() != n) {
      detail::throw_invalid(kName, "the number of max_lr values",
                            "1 or the number of optimizers, " + std::to_string(n), max_lrs.size());
    }
    for (const double m : max_lrs) detail::check_nonnegative(kName, "max_lr", m);
    detail::check_at_least(kName, "total_steps", total_steps, 1);
    if (!(o.pct_start >= 0 && o.pct_start <= 1)) {
      detail::throw_invalid(kName, "pct_start", "in [0, 1]", o.pct_start);
    }
    check_anneal(o.anneal_strategy);
    detail::check_positive(kName, "div_factor", o.div_factor);
    detail::check_positive(kName, "final_div_factor", o.final_div_factor);
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
  long total_steps_;
  Options options_;
};

}  // namespace descent
