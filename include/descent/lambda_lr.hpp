#pragma once
/// \file
/// LambdaLR (lecture section 9).

#include <functional>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "scheduler.hpp"

namespace descent {

/// \brief lr = base_lr·λ(epoch), as torch.optim.lr_scheduler.LambdaLR.
///
/// Construction sets lr = base_lr·λ(0); each step() sets base_lr·λ(epoch).
/// The optimizer must outlive the scheduler.
template <typename Scalar_>
class LambdaLR : public LRScheduler<Scalar_> {
 public:
  using Scalar = Scalar_;

  /// \throws std::invalid_argument if lambda is empty or λ(0) gives an
  ///   invalid lr (the optimizer is then unchanged).
  LambdaLR(Optimizer<Scalar>& optimizer, std::function<double(long epoch)> lambda)
      : LRScheduler<Scalar>(optimizer), lambda_(std::move(lambda)) {
    if (!lambda_) throw std::invalid_argument("descent::LambdaLR: lambda must not be empty");
    this->apply(0);
  }

  double lr_at(long e) const override { return double(this->base_lr()) * lambda_(e); }

  static constexpr std::string_view kName = "LambdaLR";
  std::string_view name() const noexcept override { return kName; }

 private:
  std::function<double(long)> lambda_;
};

}  // namespace descent
