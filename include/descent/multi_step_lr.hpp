#pragma once
/// \file
/// MultiStepLR (lecture section 9).

#include "detail/check.hpp"
#include "detail/factor_schedule.hpp"
#include "scheduler.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

namespace descent {

/// \brief lr = base_lr·γ^k, k = the number of milestones <= epoch, as
/// torch.optim.lr_scheduler.MultiStepLR.
///
/// PyTorch's default γ is 0.1 and it has no default milestones. As StepLR,
/// lr_at() forms the product base_lr·γ·…·γ that PyTorch's recursive form
/// forms, so the sequence is PyTorch's exactly. PyTorch accepts a repeated
/// milestone (γ twice at once); here milestones must be strictly increasing.
/// Multiplicative: it can be a ChainedScheduler link. The optimizers must
/// outlive the scheduler.
template <typename Scalar_>
class MultiStepLR : public detail::FactorSchedule<Scalar_> {
 public:
  /// The Scalar of the optimizers it drives: float or double.
  using Scalar = Scalar_;

  /// \param optimizers one optimizer or several (OptimizerList).
  /// \param milestones epochs at which lr is multiplied by γ; each >= 0,
  ///   strictly increasing (may be empty).
  /// \param gamma finite and > 0. Default 0.1.
  /// \throws std::invalid_argument if an argument is out of range (the
  ///   optimizers are then unchanged).
  MultiStepLR(const OptimizerList<Scalar>& optimizers, std::vector<std::int64_t> milestones,
              double gamma = 0.1)
      : detail::FactorSchedule<Scalar>(kName, optimizers),
        milestones_(std::move(milestones)),
        gamma_(gamma) {
    check(milestones_, gamma_);
    this->apply(0);
  }

  /// Epochs at which lr is multiplied by γ.
  const std::vector<std::int64_t>& milestones() const noexcept { return milestones_; }
  /// The factor γ.
  double gamma() const noexcept { return gamma_; }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "MultiStepLR";
  std::string_view name() const noexcept override { return kName; }

 protected:
  double scaled(double start, std::int64_t e) const override {
    return detail::repeated_product(start, gamma_, passed(e));
  }

  void write_params(detail::Writer& w) const override {
    w.f64(gamma_);
    w.u32(static_cast<std::uint32_t>(milestones_.size()));
    for (const std::int64_t m : milestones_) w.i64(m);
  }

  std::function<void()> stage_params(detail::Reader& r) override {
    const double gamma = r.f64("gamma");
    std::vector<std::int64_t> milestones(r.count("milestone count", sizeof(std::int64_t)));
    for (std::int64_t& m : milestones) m = r.i64("milestone");
    r.validate([&] { check(milestones, gamma); });
    return [this, gamma, milestones] {
      gamma_ = gamma;
      milestones_ = milestones;
    };
  }

 private:
  /// The one check of the constructor and the checkpoint loader.
  static void check(const std::vector<std::int64_t>& milestones, double gamma) {
    detail::check_milestones(kName, milestones, 0);
    detail::check_positive(kName, "gamma", gamma);
  }

  std::int64_t passed(std::int64_t e) const {
    return std::int64_t(std::upper_bound(milestones_.begin(), milestones_.end(), e) -
                        milestones_.begin());
  }

  std::vector<std::int64_t> milestones_;
  double gamma_;
};

}  // namespace descent
