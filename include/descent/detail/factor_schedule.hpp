#pragma once
/// \file
/// FactorSchedule, the base of the multiplicative schedules: StepLR,
/// MultiStepLR, ExponentialLR, LinearLR, ConstantLR, PolynomialLR and
/// MultiplicativeLR.

#include "../scheduler.hpp"

#include <cstddef>
#include <cstdint>

namespace descent::detail {

/// A schedule lr = base_lr·factor(epoch). The derived class gives
/// scaled(start, e), start·factor(e) formed in its own rounding; from it this
/// gives the lr, scaled(base_lr, e), and the factor a ChainedScheduler
/// multiplies, scaled(1, e). One function serves both because the rounding
/// is the schedule's: StepLR forms start·γ·γ·…·γ left to right, as PyTorch's
/// recursion does, so its lr is not base_lr times its factor to the last bit.
template <typename Scalar>
class FactorSchedule : public LRScheduler<Scalar> {
 protected:
  using LRScheduler<Scalar>::LRScheduler;

  /// start·factor(e), rounded as the schedule rounds it.
  virtual double scaled(double start, std::int64_t e) const = 0;

  double compute_lr(std::int64_t e, std::size_t i) const override {
    return scaled(double(this->base_lr(i)), e);
  }
  bool multiplicative() const noexcept final { return true; }
  double chain_factor(std::int64_t e) const final { return scaled(1.0, e); }
};

}  // namespace descent::detail
