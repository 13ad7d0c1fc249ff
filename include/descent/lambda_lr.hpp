#pragma once
/// \file
/// LambdaLR (lecture section 9).

#include "scheduler.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace descent {

/// \brief lr = base_lr·λ(epoch), as torch.optim.lr_scheduler.LambdaLR.
///
/// Construction sets lr = base_lr·λ(0); each step() sets base_lr·λ(epoch),
/// for each optimizer with its own base lr (PyTorch also accepts one λ per
/// param group; here one λ serves all). Not a ChainedScheduler link: in
/// PyTorch a LambdaLR sets base_lr·λ(epoch) whatever the lr was, so it is not
/// a factor of a chain. The optimizers must outlive the scheduler.
template <typename Scalar_>
class LambdaLR : public LRScheduler<Scalar_> {
 public:
  /// The Scalar of the optimizers it drives: float or double.
  using Scalar = Scalar_;

  /// \throws std::invalid_argument if lambda is empty or λ(0) gives an
  ///   invalid lr (the optimizer is then unchanged).
  LambdaLR(const OptimizerList<Scalar>& optimizers,
           std::function<double(std::int64_t epoch)> lambda)
      : LRScheduler<Scalar>(kName, optimizers), lambda_(std::move(lambda)) {
    if (!lambda_) throw std::invalid_argument("descent::LambdaLR: lambda must not be empty");
    this->apply(0);
  }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "LambdaLR";
  std::string_view name() const noexcept override { return kName; }

 protected:
  double compute_lr(std::int64_t e, std::size_t i) const override {
    return double(this->base_lr(i)) * lambda_(e);
  }

 private:
  std::function<double(std::int64_t)> lambda_;
};

/// `LambdaLR schedule(adam, f)` deduces the scalar type from the optimizer.
template <typename S, typename F>
LambdaLR(Optimizer<S>&, F) -> LambdaLR<S>;

}  // namespace descent
