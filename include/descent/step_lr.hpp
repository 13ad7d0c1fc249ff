#pragma once
/// \file
/// StepLR (lecture section 9).

#include "detail/check.hpp"
#include "detail/factor_schedule.hpp"
#include "scheduler.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace descent {

/// \brief lr = base_lr·γ^⌊epoch / step_size⌋, as
/// torch.optim.lr_scheduler.StepLR.
///
/// PyTorch multiplies the current lr by γ at each change point, so after k
/// changes its lr is (((base_lr·γ)·γ)…)·γ, which can differ from
/// base_lr·γᵏ in the last bit; lr_at() forms that same product and so
/// reproduces PyTorch's sequence exactly (up to 100 000 changes; past that
/// it uses base_lr·γᵏ). Multiplicative: it can be a ChainedScheduler link.
/// The optimizers must outlive the scheduler.
template <typename Scalar_>
class StepLR : public detail::FactorSchedule<Scalar_> {
 public:
  /// The Scalar of the optimizers it drives: float or double.
  using Scalar = Scalar_;

  /// \param optimizers one optimizer or several (OptimizerList).
  /// \param step_size epochs between changes; > 0.
  /// \param gamma factor applied at each change; finite and > 0. Default 0.1.
  /// \throws std::invalid_argument if an argument is out of range (the
  ///   optimizers are then unchanged).
  StepLR(const OptimizerList<Scalar>& optimizers, std::int64_t step_size, double gamma = 0.1)
      : detail::FactorSchedule<Scalar>(kName, optimizers), step_size_(step_size), gamma_(gamma) {
    check(step_size_, gamma_);
    this->apply(0);
  }

  /// Epochs between changes.
  std::int64_t step_size() const noexcept { return step_size_; }
  /// Factor applied at each change.
  double gamma() const noexcept { return gamma_; }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "StepLR";
  std::string_view name() const noexcept override { return kName; }

 protected:
  double scaled(double start, std::int64_t e) const override {
    return detail::repeated_product(start, gamma_, e / step_size_);
  }

  void write_params(detail::Writer& w) const override {
    w.i64(step_size_);
    w.f64(gamma_);
  }

  std::function<void()> stage_params(detail::Reader& r) override {
    const std::int64_t step_size = r.i64("step_size");
    const double gamma = r.f64("gamma");
    r.validate([&] { check(step_size, gamma); });
    return [this, step_size, gamma] {
      step_size_ = step_size;
      gamma_ = gamma;
    };
  }

 private:
  /// The one check of the constructor and the checkpoint loader.
  static void check(std::int64_t step_size, double gamma) {
    detail::check_at_least(kName, "step_size", step_size, 1);
    detail::check_positive(kName, "gamma", gamma);
  }

  std::int64_t step_size_;
  double gamma_;
};

/// `StepLR schedule(adam, 30)` deduces the scalar type from the optimizer.
template <typename S>
StepLR(Optimizer<S>&, std::int64_t) -> StepLR<S>;
/// `StepLR schedule(adam, 30, 0.5)` deduces the scalar type from the optimizer.
template <typename S>
StepLR(Optimizer<S>&, std::int64_t, double) -> StepLR<S>;

}  // namespace descent
