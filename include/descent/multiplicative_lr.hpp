#pragma once
/// \file
/// MultiplicativeLR (lecture section 9).

#include "detail/check.hpp"
#include "detail/factor_schedule.hpp"
#include "scheduler.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

namespace descent {

/// \brief lr = base_lr·λ(1)·λ(2)·…·λ(epoch), as
/// torch.optim.lr_scheduler.MultiplicativeLR: each step multiplies the lr by
/// λ(epoch).
///
/// PyTorch's form is recursive: lr_e = lr_{e−1}·λ(e), lr_0 = base_lr. This
/// forms the same product, left to right from base_lr, so the sequence is
/// PyTorch's bit for bit. It keeps the product at the current epoch, and its
/// checkpoint holds it, so a step() costs one call of λ per optimizer, also
/// after a resume; lr_at(e) of an earlier epoch multiplies from base_lr
/// again (e calls). λ must be a function of the epoch alone. As for
/// LambdaLR, λ is not data: construct the scheduler with the same λ before
/// load(). Multiplicative: it can be a ChainedScheduler link (PyTorch's
/// chain multiplies by λ(e) too); there its factor λ(1)·…·λ(e) is formed
/// anew each epoch, e calls of λ. The optimizers must outlive the
/// scheduler.
template <typename Scalar_>
class MultiplicativeLR : public detail::FactorSchedule<Scalar_> {
 public:
  /// The Scalar of the optimizers it drives: float or double.
  using Scalar = Scalar_;

  /// \param optimizers one optimizer or several (OptimizerList).
  /// \param lambda the factor λ(epoch) of each step from epoch 1 on.
  /// \throws std::invalid_argument if lambda is empty (the optimizers are
  ///   then unchanged).
  MultiplicativeLR(const OptimizerList<Scalar>& optimizers,
                   std::function<double(std::int64_t epoch)> lambda)
      : detail::FactorSchedule<Scalar>(kName, optimizers), lambda_(std::move(lambda)) {
    if (!lambda_)
      throw std::invalid_argument("descent::MultiplicativeLR: lambda must not be empty");
    this->apply(0);
  }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "MultiplicativeLR";
  std::string_view name() const noexcept override { return kName; }

 protected:
  double scaled(double start, std::int64_t e) const override { return product(start, 0, e); }
  // scaled(base_lr, e), continued from the product at the cached epoch: the
  // same factors in the same order, so the same bits.
  double compute_lr(std::int64_t e, std::size_t i) const override {
    // A composite parent may have replaced the base lrs since (SequentialLR).
    if (cached_epoch_ >= 0 && e >= cached_epoch_ && cached_base_[i] == this->base_lr(i)) {
      return product(cached_[i], cached_epoch_, e);
    }
    return scaled(double(this->base_lr(i)), e);
  }

  void commit_epoch(std::int64_t e) noexcept override {
    try {
      std::vector<double> values;
      for (std::size_t i = 0; i < this->num_optimizers(); ++i) values.push_back(compute_lr(e, i));
      cached_ = std::move(values);
      cached_base_ = this->base_lrs();
      cached_epoch_ = e;
    } catch (...) {
      cached_epoch_ = -1;  // formed from base_lr again at the next step
    }
  }

  // The product at the current epoch, per optimizer, so that a resumed run
  // steps from it (and in double, whatever Scalar last_lr() has).
  void write_params(detail::Writer& w) const override {
    for (std::size_t i = 0; i < this->num_optimizers(); ++i) w.f64(compute_lr(this->epoch(), i));
  }

  std::function<void()> stage_params(detail::Reader& r) override {
    std::vector<double> products(this->num_optimizers());
    for (double& p : products) {
      p = r.f64("lr product");
      if (!(p >= 0) || !std::isfinite(p)) {
        r.fail("lr product " + detail::to_text(p) + " is not finite and >= 0");
      }
    }
    return [this, products]() mutable {
      cached_ = std::move(products);
      cached_base_ = this->base_lrs();
      cached_epoch_ = this->epoch();
    };
  }

 private:
  /// start·λ(from + 1)·…·λ(to), left to right.
  double product(double start, std::int64_t from, std::int64_t to) const {
    // k < to before ++k: `k <= to` would never end for to = INT64_MAX.
    for (std::int64_t k = from; k < to;) start *= lambda_(++k);
    return start;
  }

  std::function<double(std::int64_t)> lambda_;
  std::vector<double> cached_;       // the lr of each optimizer at cached_epoch_
  std::vector<Scalar> cached_base_;  // the base lrs it was formed from
  std::int64_t cached_epoch_ = -1;   // -1: none
};

/// `MultiplicativeLR schedule(adam, f)` deduces the scalar type from the
/// optimizer.
template <typename S, typename F>
MultiplicativeLR(Optimizer<S>&, F) -> MultiplicativeLR<S>;

}  // namespace descent
