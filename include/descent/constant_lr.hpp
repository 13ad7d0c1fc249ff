#pragma once
/// \file
/// ConstantLR, a constant warm-up (lecture section 9).

#include "detail/check.hpp"
#include "detail/factor_schedule.hpp"
#include "scheduler.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace descent {

/// \brief lr = base_lr·factor for epoch < total_iters, base_lr from then on,
/// as torch.optim.lr_scheduler.ConstantLR.
///
/// PyTorch's defaults: factor 1/3, total_iters 5. PyTorch allows factor 0,
/// but its recursive form then divides by zero at total_iters; here factor
/// must be > 0. PyTorch's recursive form (×factor, then ×1/factor) and this
/// closed form agree to an ulp or two. Multiplicative: it can be a
/// ChainedScheduler link. The optimizers must outlive the scheduler.
template <typename Scalar_>
class ConstantLR : public detail::FactorSchedule<Scalar_> {
 public:
  /// The Scalar of the optimizers it drives: float or double.
  using Scalar = Scalar_;

  /// \param optimizers one optimizer or several (OptimizerList).
  /// \param factor lr / base_lr before total_iters; in (0, 1]. Default 1/3.
  /// \param total_iters epochs at the reduced lr; >= 1. Default 5.
  /// \throws std::invalid_argument if an argument is out of range (the
  ///   optimizers are then unchanged).
  ConstantLR(const OptimizerList<Scalar>& optimizers, double factor = 1.0 / 3,
             std::int64_t total_iters = 5)
      : detail::FactorSchedule<Scalar>(kName, optimizers),
        factor_(factor),
        total_iters_(total_iters) {
    check(factor_, total_iters_);
    this->apply(0);
  }

  /// lr / base_lr before total_iters().
  double factor() const noexcept { return factor_; }
  /// Epochs at the reduced lr.
  std::int64_t total_iters() const noexcept { return total_iters_; }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "ConstantLR";
  std::string_view name() const noexcept override { return kName; }

 protected:
  double scaled(double start, std::int64_t e) const override {
    return start * (factor_ + double(e >= total_iters_) * (1 - factor_));
  }

  void write_params(detail::Writer& w) const override {
    w.f64(factor_);
    w.i64(total_iters_);
  }

  std::function<void()> stage_params(detail::Reader& r) override {
    const double factor = r.f64("factor");
    const std::int64_t total = r.i64("total_iters");
    r.validate([&] { check(factor, total); });
    return [this, factor, total] {
      factor_ = factor;
      total_iters_ = total;
    };
  }

 private:
  /// The one check of the constructor and the checkpoint loader.
  static void check(double factor, std::int64_t total_iters) {
    if (!(factor > 0 && factor <= 1)) detail::throw_invalid(kName, "factor", "in (0, 1]", factor);
    detail::check_at_least(kName, "total_iters", total_iters, 1);
  }

  double factor_;
  std::int64_t total_iters_;
};

}  // namespace descent
