#pragma once
/// \file
/// StepLR (lecture section 9).

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>

#include "detail/check.hpp"
#include "scheduler.hpp"

namespace descent {

/// \brief lr = base_lr·γ^⌊epoch / step_size⌋, as
/// torch.optim.lr_scheduler.StepLR.
///
/// PyTorch multiplies the current lr by γ at each change point, so after k
/// changes its lr is (((base_lr·γ)·γ)…)·γ, which can differ from
/// base_lr·γᵏ in the last bit; lr_at() forms that same product and so
/// reproduces PyTorch's sequence exactly (up to 100 000 changes; past that
/// it uses base_lr·γᵏ). The optimizer must outlive the
/// scheduler.
template <typename Scalar_>
class StepLR : public LRScheduler<Scalar_> {
 public:
  using Scalar = Scalar_;

  /// \param step_size epochs between changes; > 0.
  /// \param gamma factor applied at each change; finite and > 0. Default 0.1.
  /// \throws std::invalid_argument if an argument is out of range.
  StepLR(Optimizer<Scalar>& optimizer, long step_size, double gamma = 0.1)
      : LRScheduler<Scalar>(optimizer), step_size_(step_size), gamma_(gamma) {
    detail::check_at_least(kName, "step_size", step_size, 1);
    detail::check_positive(kName, "gamma", gamma);
    this->apply(0);
  }

  double lr_at(long e) const override {
    const long changes = e / step_size_;
    // Beyond any real run's length the product is not worth forming step by
    // step (and γ near 1 would take billions of them): use the closed form.
    if (changes > kMaxProduct) return double(this->base_lr()) * std::pow(gamma_, double(changes));
    double lr = double(this->base_lr());
    for (long k = changes; k > 0 && lr != 0.0; --k) lr *= gamma_;
    return lr;
  }

  long step_size() const noexcept { return step_size_; }
  double gamma() const noexcept { return gamma_; }

  static constexpr std::string_view kName = "StepLR";
  std::string_view name() const noexcept override { return kName; }

 protected:
  void write_params(detail::Writer& w) const override {
    w.i64(step_size_);
    w.f64(gamma_);
  }

  std::function<void()> stage_params(detail::Reader& r) override {
    const std::int64_t step_size = r.i64("step_size");
    const double gamma = r.f64("gamma");
    if (step_size < 1 || step_size > std::numeric_limits<long>::max()) {
      r.fail("step_size " + std::to_string(step_size) + " is not >= 1");
    }
    if (!(gamma > 0) || !std::isfinite(gamma)) {
      r.fail("gamma " + detail::to_text(gamma) + " is not finite and > 0");
    }
    return [this, step_size, gamma] {
      step_size_ = static_cast<long>(step_size);
      gamma_ = gamma;
    };
  }

 private:
  static constexpr long kMaxProduct = 100000;

  long step_size_;
  double gamma_;
};

}  // namespace descent
