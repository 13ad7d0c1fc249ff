#pragma once
/// \file
/// ChainedScheduler: the product of several schedules (lecture section 9).

#include "detail/composite.hpp"
#include "detail/serialize.hpp"
#include "scheduler.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace descent {

/// \brief lr = base_lr·f₁(epoch)·f₂(epoch)·…, fₖ the factor of the k-th
/// child, as torch.optim.lr_scheduler.ChainedScheduler of multiplicative
/// schedulers.
///
/// PyTorch's ChainedScheduler steps each child in turn, and each multiplies
/// the current lr by its own ratio fₖ(epoch)/fₖ(epoch − 1); for schedules of
/// the form base_lr·fₖ(epoch) that is the product above, to rounding. The
/// children must be such schedules: StepLR, MultiStepLR, ExponentialLR,
/// LinearLR, ConstantLR. The others are refused: a LambdaLR or OneCycleLR sets
/// its lr whatever the chain's was, and a CosineAnnealingLR adds η_min and,
/// past T_max, restarts additively, so in PyTorch none of them is a factor
/// of a chain. The base lrs are schedulers[0]'s (construct it first: see
/// SequentialLR). E.g.
///
///     descent::ConstantLR<double> warm(opt, 0.1, 2);
///     descent::ExponentialLR<double> decay(opt, 0.9);
///     descent::ChainedScheduler<double> schedule({&warm, &decay});
///
/// The children serve as formulas: they are not stepped and must outlive
/// this scheduler; do not step them yourself.
template <typename Scalar_>
class ChainedScheduler : public LRScheduler<Scalar_> {
 public:
  /// The Scalar of the optimizers it drives: float or double.
  using Scalar = Scalar_;
  /// Pointers to the child schedulers, which must outlive this one.
  using Children = std::vector<LRScheduler<Scalar>*>;

  /// \param schedulers the multiplicative children; all drive the same
  ///   optimizers.
  /// \throws std::invalid_argument if a child is null, not multiplicative, a
  ///   composite or drives other optimizers (the optimizers and children are
  ///   then unchanged).
  explicit ChainedScheduler(Children schedulers)
      : LRScheduler<Scalar>(kName, checked(schedulers)), children_(std::move(schedulers)) {
    detail::Composite<Scalar>::rebase(children_);
    this->set_base_lrs(children_[0]->base_lrs());
    this->apply(0);
  }

  /// The children, whose factors multiply.
  const Children& schedulers() const noexcept { return children_; }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "ChainedScheduler";
  std::string_view name() const noexcept override { return kName; }

 protected:
  double compute_lr(std::int64_t e, std::size_t i) const override {
    double lr = double(this->base_lr(i));
    for (const auto* c : children_) lr *= detail::Composite<Scalar>::factor(*c, e);
    return lr;
  }
  bool composite() const noexcept override { return true; }

  void write_params(detail::Writer& w) const override {
    detail::Composite<Scalar>::write(w, children_);
  }

  std::function<void()> stage_params(detail::Reader& r) override {
    return detail::Composite<Scalar>::stage(r, children_);
  }

 private:
  static OptimizerList<Scalar> checked(const Children& schedulers) {
    return detail::Composite<Scalar>::checked(
        kName, schedulers, [](const LRScheduler<Scalar>& c) -> std::string {
          return detail::Composite<Scalar>::multiplicative(c)
                     ? ""
                     : "its PyTorch form is not a factor of a chain (only StepLR, MultiStepLR, "
                       "ExponentialLR, LinearLR and ConstantLR chain)";
        });
  }

  Children children_;
};

}  // namespace descent
