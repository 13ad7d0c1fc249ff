#pragma once
/// \file
/// descent::LRScheduler, the base of the learning-rate schedulers (lecture
/// section 9).

#include <cmath>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "checkpoint.hpp"
#include "detail/check.hpp"
#include "detail/serialize.hpp"
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

  /// \brief Writes the scheduler's state: kind, scalar type, epoch, base and
  /// last lr, and its parameters (checkpoint.hpp). A LambdaLR's function is
  /// not data: construct the LambdaLR with the same function before load().
  /// \throws CheckpointError if the stream fails.
  void save(std::ostream& out) const {
    detail::Writer w(detail::ObjectKind::Scheduler, name(), int(sizeof(Scalar)));
    w.i64(epoch_);
    w.f64(double(base_lr_));
    w.f64(double(last_lr_));
    write_params(w);
    w.finish(out, who("save"));
  }

  /// \brief Reads back what save() wrote. The optimizer is not touched: its
  /// lr comes back with its own checkpoint, as in PyTorch.
  /// \throws CheckpointError if the checkpoint is not this kind's, is
  ///   corrupt or holds invalid values; the scheduler is then unchanged.
  void load(std::istream& in) {
    detail::Reader r(in, who("load"), detail::ObjectKind::Scheduler, name(), int(sizeof(Scalar)));
    const std::int64_t epoch = r.i64("epoch");
    const double base_lr = r.f64("base lr");
    const double last_lr = r.f64("last lr");
    if (epoch < 0) r.fail("negative epoch " + std::to_string(epoch));
    for (const double lr : {base_lr, last_lr}) {
      if (!(lr >= 0) || !std::isfinite(static_cast<Scalar>(lr))) {
        r.fail("lr " + detail::to_text(lr) + " is not finite and >= 0");
      }
    }
    auto commit = stage_params(r);
    r.finish();
    commit();
    epoch_ = static_cast<long>(epoch);
    base_lr_ = static_cast<Scalar>(base_lr);
    last_lr_ = static_cast<Scalar>(last_lr);
  }

  /// save() to a file through a temporary file and a rename, as
  /// Optimizer::save_file.
  void save_file(const std::string& path) const {
    detail::save_file(path, who("save_file"), [this](std::ostream& out) { save(out); });
  }

  /// load() from a file. \throws CheckpointError if it cannot be opened or
  /// read; the scheduler is then unchanged.
  void load_file(const std::string& path) {
    detail::load_file(path, who("load_file"), [this](std::istream& in) { load(in); });
  }

 protected:
  explicit LRScheduler(Optimizer<Scalar>& optimizer)
      : optimizer_(&optimizer), base_lr_(optimizer.lr()), last_lr_(optimizer.lr()) {}
  LRScheduler(const LRScheduler&) = default;
  LRScheduler& operator=(const LRScheduler&) = default;

  /// Writes the scheduler's own parameters into a checkpoint.
  virtual void write_params(detail::Writer&) const {}

  /// Reads and checks them without changing anything; returns what makes
  /// them current, which cannot fail.
  virtual std::function<void()> stage_params(detail::Reader&) {
    return [] {};
  }

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
  std::string who(const char* method) const {
    return "descent::" + std::string(name()) + "::" + method;
  }

  Optimizer<Scalar>* optimizer_;
  Scalar base_lr_;
  Scalar last_lr_;
  long epoch_ = 0;
};

}  // namespace descent
