#pragma once
/// \file
/// CosineAnnealingLR (lecture section 9).

#include "detail/check.hpp"
#include "scheduler.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace descent {

/// \brief lr = η_min + (base_lr − η_min)·(1 + cos(π·epoch / T_max)) / 2 for
/// epoch <= T_max, as torch.optim.lr_scheduler.CosineAnnealingLR.
///
/// PyTorch's defaults: η_min = 0; T_max has none. Past T_max PyTorch does
/// not follow the closed form: its recursive form restarts at each epoch
/// r = (2k + 1)·T_max + 1 with lr_r = η_min + (base_lr − η_min)·(1 −
/// cos(π / T_max)) / 2 and then scales by (1 + cos(π·epoch / T_max)) / (1 +
/// cos(π·r / T_max)). This follows those semantics, so the lr rises back to
/// base_lr at 2·T_max and so on, as PyTorch's does (to rounding: with η_min
/// ≠ 0 PyTorch's lr − η_min loses about T_max² ulps of η_min after a
/// restart, which this does not). Not a ChainedScheduler link: PyTorch's
/// chained cosine adds η_min and restarts additively, so it is not a factor
/// of a chain (use SequentialLR). The optimizers must outlive the scheduler.
template <typename Scalar_>
class CosineAnnealingLR : public LRScheduler<Scalar_> {
 public:
  /// The Scalar of the optimizers it drives: float or double.
  using Scalar = Scalar_;

  /// \param optimizers one optimizer or several (OptimizerList).
  /// \param T_max epochs from base_lr down to η_min; >= 1.
  /// \param eta_min the lowest lr; finite and >= 0. Default 0.
  /// \throws std::invalid_argument if an argument is out of range (the
  ///   optimizers are then unchanged).
  CosineAnnealingLR(const OptimizerList<Scalar>& optimizers, std::int64_t T_max, double eta_min = 0)
      : LRScheduler<Scalar>(kName, optimizers), T_max_(T_max), eta_min_(eta_min) {
    check(T_max_, eta_min_);
    this->apply(0);
  }

  /// Epochs from base_lr down to η_min.
  std::int64_t T_max() const noexcept { return T_max_; }
  /// The lowest lr, η_min.
  double eta_min() const noexcept { return eta_min_; }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "CosineAnnealingLR";
  std::string_view name() const noexcept override { return kName; }

 protected:
  double compute_lr(std::int64_t e, std::size_t i) const override {
    const double base = double(this->base_lr(i)), span = base - eta_min_;
    if (e <= T_max_) return eta_min_ + span * (1 + cos_at(e)) / 2;
    // The last restart r = (2k + 1)·T_max + 1 <= e, formed without 2·T_max,
    // which an int64 cannot hold for T_max > INT64_MAX / 2: k·T_max <= (e − 1 −
    // T_max) / 2, so every term stays within [0, e].
    const std::int64_t k = (e - 1 - T_max_) / T_max_ / 2;
    const std::int64_t r = T_max_ + 1 + 2 * (k * T_max_);
    const double restart = span * (1 - std::cos(kPi / double(T_max_))) / 2;
    if (e == r) return eta_min_ + restart;
    // 1 + cos(π·r / T_max) = 1 − cos(π / T_max), so this is the closed form
    // in PyTorch's rounding; for T_max beyond about 10⁸ that denominator
    // rounds to 0, and the closed form itself is the value.
    const double denominator = 1 + cos_at(r);
    if (denominator == 0) return eta_min_ + span * (1 + cos_at(e)) / 2;
    return eta_min_ + restart * ((1 + cos_at(e)) / denominator);
  }

  void write_params(detail::Writer& w) const override {
    w.i64(T_max_);
    w.f64(eta_min_);
  }

  std::function<void()> stage_params(detail::Reader& r) override {
    const std::int64_t T_max = r.i64("T_max");
    const double eta_min = r.f64("eta_min");
    r.validate([&] { check(T_max, eta_min); });
    return [this, T_max, eta_min] {
      T_max_ = T_max;
      eta_min_ = eta_min;
    };
  }

 private:
  static constexpr double kPi = 3.141592653589793;  // math.pi

  /// The one check of the constructor and the checkpoint loader.
  static void check(std::int64_t T_max, double eta_min) {
    detail::check_at_least(kName, "T_max", T_max, 1);
    detail::check_nonnegative(kName, "eta_min", eta_min);
  }

  // PyTorch's cos(math.pi * epoch / T_max), in that order.
  double cos_at(std::int64_t e) const { return std::cos(kPi * double(e) / double(T_max_)); }

  std::int64_t T_max_;
  double eta_min_;
};

}  // namespace descent
