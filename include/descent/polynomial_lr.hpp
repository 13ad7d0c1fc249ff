#pragma once
/// \file
/// PolynomialLR, a polynomial decay to zero (lecture section 9).

#include "detail/check.hpp"
#include "detail/factor_schedule.hpp"
#include "scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

namespace descent {

/// \brief lr = base_lr·(1 − min(epoch, T) / T)^p, T = total_iters, p = power,
/// as torch.optim.lr_scheduler.PolynomialLR: a decay from base_lr to 0 over T
/// epochs, then 0.
///
/// PyTorch's defaults: total_iters 5, power 1 (a straight line). PyTorch
/// steps by the ratio of consecutive values of its closed form,
/// ((1 − e/T) / (1 − (e − 1)/T))^p; this is that closed form (PyTorch's own
/// _get_closed_form_lr), which agrees with its recursion to a few ulps per
/// epoch. Multiplicative: it can be a ChainedScheduler link. The optimizers
/// must outlive the scheduler.
template <typename Scalar_>
class PolynomialLR : public detail::FactorSchedule<Scalar_> {
 public:
  /// The Scalar of the optimizers it drives: float or double.
  using Scalar = Scalar_;

  /// \param optimizers one optimizer or several (OptimizerList).
  /// \param total_iters epochs of the decay; >= 1. Default 5.
  /// \param power the exponent p; finite and >= 0. Default 1.
  /// \throws std::invalid_argument if an argument is out of range (the
  ///   optimizers are then unchanged).
  PolynomialLR(const OptimizerList<Scalar>& optimizers, std::int64_t total_iters = 5,
               double power = 1.0)
      : detail::FactorSchedule<Scalar>(kName, optimizers),
        total_iters_(total_iters),
        power_(power) {
    check(total_iters_, power_);
    this->apply(0);
  }

  /// Epochs of the decay.
  std::int64_t total_iters() const noexcept { return total_iters_; }
  /// The exponent p.
  double power() const noexcept { return power_; }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "PolynomialLR";
  std::string_view name() const noexcept override { return kName; }

 protected:
  double scaled(double start, std::int64_t e) const override {
    return start * std::pow(1.0 - double(std::min(total_iters_, e)) / double(total_iters_), power_);
  }

  void write_params(detail::Writer& w) const override {
    w.i64(total_iters_);
    w.f64(power_);
  }

  std::function<void()> stage_params(detail::Reader& r) override {
    const std::int64_t total = r.i64("total_iters");
    const double power = r.f64("power");
    r.validate([&] { check(total, power); });
    return [this, total, power] {
      total_iters_ = total;
      power_ = power;
    };
  }

 private:
  /// The one check of the constructor and the checkpoint loader.
  static void check(std::int64_t total_iters, double power) {
    detail::check_at_least(kName, "total_iters", total_iters, 1);
    detail::check_nonnegative(kName, "power", power);
  }

  std::int64_t total_iters_;
  double power_;
};

}  // namespace descent
