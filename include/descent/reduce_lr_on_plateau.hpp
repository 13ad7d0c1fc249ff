#pragma once
/// \file
/// ReduceLROnPlateau: lower the lr when a metric stops improving (lecture
/// section 9).

#include "checkpoint.hpp"
#include "detail/check.hpp"
#include "detail/serialize.hpp"
#include "optimizer.hpp"
#include "scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace descent {

/// \brief lr ← max(lr·factor, min_lr) once the metric has not improved for
/// more than `patience` epochs, as torch.optim.lr_scheduler.ReduceLROnPlateau.
///
/// Each step(metric):
///
///     better = metric < best·(1 − threshold)   (min, rel)
///              metric < best − threshold       (min, abs)
///              metric > best·(1 + threshold)   (max, rel)
///              metric > best + threshold       (max, abs)
///     if better: best = metric, num_bad_epochs = 0 else num_bad_epochs += 1
///     if cooldown_counter > 0: cooldown_counter −= 1, num_bad_epochs = 0
///     if num_bad_epochs > patience:
///         for each optimizer: new = max(lr·factor, min_lr);
///                             if lr − new > eps: lr = new
///         cooldown_counter = cooldown, num_bad_epochs = 0
///
/// best starts at +∞ (min) or −∞ (max). PyTorch's defaults (Options): min,
/// factor 0.1, patience 10, threshold 1e-4, rel, cooldown 0, min_lr 0, eps
/// 1e-8. Unlike the other schedulers the lr is not a function of the epoch:
/// each reduction multiplies the optimizer's current lr (read with lr()), as
/// PyTorch's does, so an lr set in between is the one reduced; construction
/// does not change the lr. A NaN metric is not better, as in PyTorch.
/// PyTorch accepts any factor < 1; here factor must be in [0, 1). Not an
/// LRScheduler (there is no step() without a metric). The optimizers must
/// outlive the scheduler.
template <typename Scalar_>
class ReduceLROnPlateau {
 public:
  /// The Scalar of the optimizers it drives: float or double.
  using Scalar = Scalar_;

  /// Which way the metric improves.
  enum class Mode {
    min,  ///< Lower is better (a loss).
    max   ///< Higher is better (an accuracy).
  };
  /// How threshold measures an improvement.
  enum class ThresholdMode {
    rel,  ///< Relative to best: best·(1 ∓ threshold).
    abs   ///< Absolute: best ∓ threshold.
  };

  /// \brief When and how far to reduce; the defaults are PyTorch's.
  struct Options {
    /// Whether lower (min) or higher (max) metrics are better. Default min.
    Mode mode = Mode::min;
    /// lr multiplier at each reduction; in [0, 1). Default 0.1.
    double factor = 0.1;
    /// Epochs without improvement tolerated before a reduction; >= 0.
    /// Default 10.
    std::int64_t patience = 10;
    /// Least improvement that counts; finite and >= 0. Default 1e-4.
    double threshold = 1e-4;
    /// threshold relative to best (rel) or absolute (abs). Default rel.
    ThresholdMode threshold_mode = ThresholdMode::rel;
    /// Epochs after a reduction during which bad epochs are not counted;
    /// >= 0. Default 0.
    std::int64_t cooldown = 0;
    /// Lower bound of the lr: one for all optimizers, or one each; finite
    /// and >= 0. Default {0}.
    std::vector<double> min_lr = {0.0};
    /// A reduction smaller than eps is skipped; finite and >= 0. Default
    /// 1e-8.
    double eps = 1e-8;
  };

  /// \param optimizers one optimizer or several (OptimizerList).
  /// \param options when and how far to reduce.
  /// \throws std::invalid_argument if an option is out of range or the
  ///   optimizer list is empty, holds a null pointer or an optimizer twice.
  explicit ReduceLROnPlateau(const OptimizerList<Scalar>& optimizers, Options options = {})
      : optimizers_(detail::checked_optimizers(kName, optimizers)), options_(std::move(options)) {
    detail::broadcast(options_.min_lr, optimizers_.size());
    check(options_, optimizers_.size());
    best_ = worst();
    for (const auto* o : optimizers_) last_lrs_.push_back(o->lr());
  }

  /// Ends an epoch whose metric (say the validation loss) is `metric`.
  /// \throws std::overflow_error if epoch() is already the largest std::int64_t;
  ///   nothing is then changed.
  void step(double metric) {
    if (epoch_ == std::numeric_limits<std::int64_t>::max()) {
      throw std::overflow_error(who("step") + ": epoch " + std::to_string(epoch_) +
                                " is the largest a std::int64_t holds; there is no next epoch");
    }
    ++epoch_;
    if (better(metric)) {
      best_ = metric;
      num_bad_epochs_ = 0;
    } else if (num_bad_epochs_ < std::numeric_limits<std::int64_t>::max()) {
      // The count stays <= patience + 1; only patience = INT64_MAX lets it
      // reach INT64_MAX, where it stays: that patience never runs out.
      ++num_bad_epochs_;
    }
    if (cooldown_counter_ > 0) {
      --cooldown_counter_;
      num_bad_epochs_ = 0;
    }
    if (num_bad_epochs_ > options_.patience) {
      for (std::size_t i = 0; i < optimizers_.size(); ++i) {
        const double lr = double(optimizers_[i]->lr());
        const double reduced = std::max(lr * options_.factor, options_.min_lr[i]);
        if (lr - reduced > options_.eps) optimizers_[i]->set_lr(static_cast<Scalar>(reduced));
      }
      cooldown_counter_ = options_.cooldown;
      num_bad_epochs_ = 0;
    }
    for (std::size_t i = 0; i < optimizers_.size(); ++i) last_lrs_[i] = optimizers_[i]->lr();
  }

  /// step() calls so far.
  std::int64_t epoch() const noexcept { return epoch_; }
  /// The best metric so far (±∞ before the first step).
  double best() const noexcept { return best_; }
  /// Epochs in a row without improvement, counted since the last
  /// reduction or cooldown.
  std::int64_t num_bad_epochs() const noexcept { return num_bad_epochs_; }
  /// Epochs of cooldown left.
  std::int64_t cooldown_counter() const noexcept { return cooldown_counter_; }
  /// Whether a cooldown is running (cooldown_counter() > 0).
  bool in_cooldown() const noexcept { return cooldown_counter_ > 0; }
  /// The options, min_lr with one entry per optimizer.
  const Options& options() const noexcept { return options_; }

  /// How many optimizers this scheduler drives.
  std::size_t num_optimizers() const noexcept { return optimizers_.size(); }
  /// The first optimizer's lr after the last step() (or at construction).
  Scalar last_lr() const noexcept { return last_lrs_[0]; }
  /// Optimizer i's. \throws std::out_of_range.
  Scalar last_lr(std::size_t i) const { return last_lrs_.at(i); }
  /// One per optimizer.
  const std::vector<Scalar>& last_lrs() const noexcept { return last_lrs_; }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "ReduceLROnPlateau";
  /// The class name, kName.
  std::string_view name() const noexcept { return kName; }

  /// \brief Writes epoch, best, num_bad_epochs, cooldown_counter, the
  /// options and the last lrs (checkpoint.hpp).
  /// \throws CheckpointError if the stream fails.
  void save(std::ostream& out) const {
    detail::Writer w(detail::ObjectKind::Scheduler, kName, int(sizeof(Scalar)));
    w.i64(epoch_);
    w.f64(best_);
    w.i64(num_bad_epochs_);
    w.i64(cooldown_counter_);
    w.u32(static_cast<std::uint32_t>(options_.mode));
    w.f64(options_.factor);
    w.i64(options_.patience);
    w.f64(options_.threshold);
    w.u32(static_cast<std::uint32_t>(options_.threshold_mode));
    w.i64(options_.cooldown);
    w.f64(options_.eps);
    w.u32(static_cast<std::uint32_t>(optimizers_.size()));
    for (std::size_t i = 0; i < optimizers_.size(); ++i) {
      w.f64(options_.min_lr[i]);
      w.f64(double(last_lrs_[i]));
    }
    w.finish(out, who("save"));
  }

  /// \brief Reads back what save() wrote. The optimizers are not touched:
  /// their lr comes back with their own checkpoints, as in PyTorch.
  /// \throws CheckpointError if the checkpoint is not a ReduceLROnPlateau's
  ///   of this scalar type and number of optimizers, is corrupt or holds
  ///   invalid values; the scheduler is then unchanged.
  void load(std::istream& in) {
    detail::Reader r(in, who("load"), detail::ObjectKind::Scheduler, kName, int(sizeof(Scalar)));
    const std::int64_t epoch = r.i64("epoch");
    const double best = r.f64("best");
    const std::int64_t bad = r.i64("num_bad_epochs"), cooling = r.i64("cooldown_counter");
    Options o;
    const std::uint32_t mode = r.u32("mode");
    o.factor = r.f64("factor");
    o.patience = r.i64("patience");
    o.threshold = r.f64("threshold");
    const std::uint32_t threshold_mode = r.u32("threshold_mode");
    o.cooldown = r.i64("cooldown");
    o.eps = r.f64("eps");
    const std::uint32_t n = r.u32("optimizer count");
    if (n != optimizers_.size()) {
      r.fail("the checkpoint is for " + std::to_string(n) + " optimizers, this scheduler drives " +
             std::to_string(optimizers_.size()));
    }
    o.min_lr.assign(n, 0.0);
    std::vector<Scalar> last(n);
    for (std::size_t i = 0; i < n; ++i) {
      o.min_lr[i] = r.f64("min_lr");
      const double lr = r.f64("last lr");
      if (!(lr >= 0) || !std::isfinite(static_cast<Scalar>(lr))) {
        r.fail("lr " + detail::to_text(lr) + " is not finite and >= 0");
      }
      last[i] = static_cast<Scalar>(lr);
    }
    r.finish();
    r.validate([&] {
      check_modes(mode, threshold_mode);
      o.mode = static_cast<Mode>(mode);
      o.threshold_mode = static_cast<ThresholdMode>(threshold_mode);
      check(o, n);
    });
    // What step() can leave: an epoch it can advance, at most patience bad
    // epochs (one more reduces the lr and restarts the count) and at most
    // cooldown epochs of cooldown.
    const std::int64_t loaded_epoch =
        detail::checked_counter(r, "epoch", epoch, 0, std::numeric_limits<std::int64_t>::max() - 1,
                                "the next step would overflow");
    const std::int64_t loaded_bad =
        detail::checked_counter(r, "num_bad_epochs", bad, 0, o.patience, "more than patience");
    const std::int64_t loaded_cooling = detail::checked_counter(r, "cooldown_counter", cooling, 0,
                                                                o.cooldown, "more than cooldown");
    if (std::isnan(best)) r.fail("best is NaN");
    epoch_ = loaded_epoch;
    best_ = best;
    num_bad_epochs_ = loaded_bad;
    cooldown_counter_ = loaded_cooling;
    options_ = o;
    last_lrs_ = last;
  }

  /// save() to a file through a temporary file and a rename.
  void save_file(const std::string& path) const {
    detail::save_file(path, who("save_file"), [this](std::ostream& out) { save(out); });
  }

  /// load() from a file; the scheduler is unchanged if it throws.
  void load_file(const std::string& path) {
    detail::load_file(path, who("load_file"), [this](std::istream& in) { load(in); });
  }

 private:
  /// The one check of the constructor and the checkpoint loader.
  static void check(const Options& o, std::size_t n) {
    check_modes(o.mode, o.threshold_mode);
    if (!(o.factor >= 0 && o.factor < 1))
      detail::throw_invalid(kName, "factor", "in [0, 1)", o.factor);
    detail::check_at_least(kName, "patience", o.patience, 0);
    detail::check_nonnegative(kName, "threshold", o.threshold);
    detail::check_at_least(kName, "cooldown", o.cooldown, 0);
    detail::check_count(kName, "min_lr", o.min_lr, n);
    for (const double m : o.min_lr) detail::check_nonnegative(kName, "min_lr", m);
    detail::check_nonnegative(kName, "eps", o.eps);
  }

  /// A Mode and a ThresholdMode, or the numbers that stand for them in a
  /// checkpoint.
  template <typename M, typename T>
  static void check_modes(M mode, T threshold_mode) {
    detail::check_enum(kName, "mode", mode, {"min", "max"});
    detail::check_enum(kName, "threshold_mode", threshold_mode, {"rel", "abs"});
  }

  double worst() const {
    const double inf = std::numeric_limits<double>::infinity();
    return options_.mode == Mode::min ? inf : -inf;
  }

  bool better(double a) const {
    const double t = options_.threshold;
    if (options_.mode == Mode::min) {
      return options_.threshold_mode == ThresholdMode::rel ? a < best_ * (1. - t) : a < best_ - t;
    }
    return options_.threshold_mode == ThresholdMode::rel ? a > best_ * (t + 1.) : a > best_ + t;
  }

  std::string who(const char* method) const {
    return "descent::" + std::string(kName) + "::" + method;
  }

  std::vector<Optimizer<Scalar>*> optimizers_;
  Options options_;
  double best_ = 0;
  std::int64_t num_bad_epochs_ = 0;
  std::int64_t cooldown_counter_ = 0;
  std::int64_t epoch_ = 0;
  std::vector<Scalar> last_lrs_;
};

}  // namespace descent
