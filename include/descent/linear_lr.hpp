#pragma once
/// \file
/// LinearLR, the linear warm-up (lecture section 9).

#include "detail/check.hpp"
#include "detail/factor_schedule.hpp"
#include "scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace descent {

/// \brief lr = base_lr·(s + (e − s)·min(epoch, T) / T), s = start_factor,
/// e = end_factor, T = total_iters, as torch.optim.lr_scheduler.LinearLR.
///
/// PyTorch's defaults: start_factor 1/3, end_factor 1, total_iters 5: a
/// warm-up from base_lr/3 to base_lr over 5 epochs. start_factor > end_factor
/// decays instead. PyTorch allows start_factor 0, but its recursive form then
/// divides by zero at epoch 1; here start_factor must be > 0. PyTorch's
/// recursive form and this closed form (PyTorch's own _get_closed_form_lr)
/// agree to a few ulps, except with end_factor 0, where PyTorch leaves a
/// residue of about 1e-16·base_lr where this gives 0. Multiplicative: it can
/// be a ChainedScheduler link. The optimizers must outlive the scheduler.
template <typename Scalar_>
class LinearLR : public detail::FactorSchedule<Scalar_> {
 public:
  /// The Scalar of the optimizers it drives: float or double.
  using Scalar = Scalar_;

  /// \param optimizers one optimizer or several (OptimizerList).
  /// \param start_factor lr / base_lr at epoch 0; in (0, 1]. Default 1/3.
  /// \param end_factor lr / base_lr from total_iters on; in [0, 1]. Default 1.
  /// \param total_iters epochs of the ramp; >= 1. Default 5.
  /// \throws std::invalid_argument if an argument is out of range (the
  ///   optimizers are then unchanged).
  LinearLR(const OptimizerList<Scalar>& optimizers, double start_factor = 1.0 / 3,
           double end_factor = 1.0, std::int64_t total_iters = 5)
      : detail::FactorSchedule<Scalar>(kName, optimizers),
        start_(start_factor),
        end_(end_factor),
        total_iters_(total_iters) {
    check(start_, end_, total_iters_);
    this->apply(0);
  }

  /// lr / base_lr at epoch 0.
  double start_factor() const noexcept { return start_; }
  /// lr / base_lr from total_iters() on.
  double end_factor() const noexcept { return end_; }
  /// Epochs of the ramp.
  std::int64_t total_iters() const noexcept { return total_iters_; }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "LinearLR";
  std::string_view name() const noexcept override { return kName; }

 protected:
  double scaled(double start, std::int64_t e) const override {
    return start *
           (start_ + (end_ - start_) * double(std::min(total_iters_, e)) / double(total_iters_));
  }

  void write_params(detail::Writer& w) const override {
    w.f64(start_);
    w.f64(end_);
    w.i64(total_iters_);
  }

  std::function<void()> stage_params(detail::Reader& r) override {
    const double start = r.f64("start_factor"), end = r.f64("end_factor");
    const std::int64_t total = r.i64("total_iters");
    r.validate([&] { check(start, end, total); });
    return [this, start, end, total] {
      start_ = start;
      end_ = end;
      total_iters_ = total;
    };
  }

 private:
  /// The one check of the constructor and the checkpoint loader.
  static void check(double start, double end, std::int64_t total_iters) {
    if (!(start > 0 && start <= 1))
      detail::throw_invalid(kName, "start_factor", "in (0, 1]", start);
    if (!(end >= 0 && end <= 1)) detail::throw_invalid(kName, "end_factor", "in [0, 1]", end);
    detail::check_at_least(kName, "total_iters", total_iters, 1);
  }

  double start_;
  double end_;
  std::int64_t total_iters_;
};

}  // namespace descent
