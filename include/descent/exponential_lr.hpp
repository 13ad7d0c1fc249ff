#pragma once
/// \file
/// ExponentialLR (lecture section 9).

#include "detail/check.hpp"
#include "detail/factor_schedule.hpp"
#include "scheduler.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

namespace descent {

/// \brief lr = base_lr·γ^epoch, as torch.optim.lr_scheduler.ExponentialLR.
///
/// PyTorch has no default γ. Its recursive form multiplies the lr by γ each
/// epoch; this closed form, base_lr·pow(γ, epoch), rounds twice where that
/// rounds once an epoch, and so agrees to within about epoch/2 ulps (< 1e-14
/// relative over 100 epochs). Multiplicative: it can be a ChainedScheduler
/// link. The optimizers must outlive the scheduler.
template <typename Scalar_>
class ExponentialLR : public detail::FactorSchedule<Scalar_> {
 public:
  /// The Scalar of the optimizers it drives: float or double.
  using Scalar = Scalar_;

  /// \param optimizers one optimizer or several (OptimizerList).
  /// \param gamma factor per epoch; finite and > 0.
  /// \throws std::invalid_argument if gamma is out of range (the optimizers
  ///   are then unchanged).
  ExponentialLR(const OptimizerList<Scalar>& optimizers, double gamma)
      : detail::FactorSchedule<Scalar>(kName, optimizers), gamma_(gamma) {
    check(gamma_);
    this->apply(0);
  }

  /// Factor per epoch.
  double gamma() const noexcept { return gamma_; }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "ExponentialLR";
  std::string_view name() const noexcept override { return kName; }

 protected:
  double scaled(double start, std::int64_t e) const override {
    return start * std::pow(gamma_, double(e));
  }

  void write_params(detail::Writer& w) const override { w.f64(gamma_); }

  std::function<void()> stage_params(detail::Reader& r) override {
    const double gamma = r.f64("gamma");
    r.validate([&] { check(gamma); });
    return [this, gamma] { gamma_ = gamma; };
  }

 private:
  /// The one check of the constructor and the checkpoint loader.
  static void check(double gamma) { detail::check_positive(kName, "gamma", gamma); }

  double gamma_;
};

}  // namespace descent
