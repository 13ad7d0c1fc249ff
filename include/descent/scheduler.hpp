#pragma once
/// \file
/// descent::LRScheduler, the base of the learning-rate schedulers (lecture
/// section 9).

#include <cmath>
#include <stdexcept>
#include <string>
#include <string_view>

#include "detail/check.hpp"
#include "optimizer.hpp"

namespace descent {

/// \brief A learning-rate schedule: lr as a closed-form function of the epoch,
/// with PyTorch's protocol.
///
/// The base lr is the optimizer's lr() when the scheduler is constructed;
/// construction applies epoch 0 and each step() advances one epoch and sets
/// the optimizer's lr for it. Call optimizer steps for an epoch first, then
/// scheduler.step(), as in PyTorch. The schedule is computed in double and
/// rounded to Scalar once, when it is handed to the optimizer.
///
/// The scheduler holds the optimizer by reference: the optimizer must
/// outlive it. A scheduler overrides any set_lr() made in between.
template <typename Scalar_>
class LRScheduler {
 public:
  using Scalar = Scalar_;

  virtual ~LRScheduler() = default;

  /// Advances one epoch and sets the optimizer's lr for it.
  /// \throws std::invalid_argument if the schedule gives a negative or
  ///   non-finite lr; epoch and lr are then unchanged.
  void step() { apply(epoch_ + 1); }

  /// Epochs stepped since construction (0 right after it).
  long epoch() const noexcept { return epoch_; }

  /// The lr this scheduler last set.
  Scalar last_lr() const noexcept { return last_lr_; }

  /// The optimizer's lr at construction.
  Scalar base_lr() const noexcept { return base_lr_; }

  /// The lr of epoch e, computed in double.
  virtual double lr_at(long e) const = 0;

  /// The class name, e.g. "StepLR".
  virtual std::string_view name() const noexcept = 0;

 protected:
  explicit LRScheduler(Optimizer<Scalar>& optimizer)
      : optimizer_(&optimizer), base_lr_(optimizer.lr()), last_lr_(optimizer.lr()) {}
  LRScheduler(const LRScheduler&) = default;
  LRScheduler& operator=(const LRScheduler&) = default;

  /// Sets the lr of epoch e and makes e current; does nothing if it throws.
  /// Derived constructors call apply(0) once their schedule is set up.
  void apply(long e) {
    const double lr = lr_at(e);
    const auto value = static_cast<Scalar>(lr);
    if (!(value >= Scalar(0)) || !std::isfinite(value)) {
      std::string message = "descent::";
      message.append(name()).append(": the schedule gives lr ").append(detail::to_text(lr));
      message.append(" at epoch ").append(std::to_string(e));
      message.append("; lr must be finite and >= 0");
      throw std::invalid_argument(message);
    }
    optimizer_->set_lr(value);
    last_lr_ = value;
    epoch_ = e;
  }

 private:
  Optimizer<Scalar>* optimizer_;
  Scalar base_lr_;
  Scalar last_lr_;
  long epoch_ = 0;
};

}  // namespace descent
