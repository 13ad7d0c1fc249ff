#pragma once
/// \file
/// descent::LRScheduler, the base of the learning-rate schedulers (lecture
/// section 9), and descent::OptimizerList, the optimizers one scheduler
/// drives.

#include "checkpoint.hpp"
#include "detail/check.hpp"
#include "detail/serialize.hpp"
#include "optimizer.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace descent {

/// \brief The optimizers one scheduler drives, PyTorch's param groups: one
/// optimizer, or several (say weights with weight decay and biases without),
/// each keeping its own base lr.
///
/// Converts implicitly from an optimizer, so `StepLR<double>(adam, 30)`
/// works, and from a braced list of pointers: `StepLR<double>({&weights,
/// &biases}, 30)`. The optimizers are not owned: they must outlive the
/// scheduler. A scheduler refuses an empty list, a null pointer and an
/// optimizer listed twice.
template <typename Scalar>
class OptimizerList {
 public:
  /// One optimizer.
  OptimizerList(Optimizer<Scalar>& optimizer) : list_{&optimizer} {}  // NOLINT: implicit
  /// Several, in order: `{&weights, &biases}`.
  OptimizerList(std::initializer_list<Optimizer<Scalar>*> list) : list_(list) {}
  /// Several, in order.
  OptimizerList(std::vector<Optimizer<Scalar>*> list) : list_(std::move(list)) {}  // NOLINT

  /// The optimizers, in order (not yet checked).
  const std::vector<Optimizer<Scalar>*>& pointers() const noexcept { return list_; }

 private:
  std::vector<Optimizer<Scalar>*> list_;
};

namespace detail {

/// Refuses an empty list, a null pointer or a repeated optimizer.
template <typename Scalar>
std::vector<Optimizer<Scalar>*> checked_optimizers(std::string_view cls,
                                                   const OptimizerList<Scalar>& list) {
  const auto& p = list.pointers();
  const std::string prefix = "descent::" + std::string(cls) + ": ";
  if (p.empty()) throw std::invalid_argument(prefix + "optimizers must not be empty");
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == nullptr) {
      throw std::invalid_argument(prefix + "optimizer " + std::to_string(i) + " is null");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (p[j] == p[i]) {
        throw std::invalid_argument(prefix + "optimizer " + std::to_string(i) + " is optimizer " +
                                    std::to_string(j) + " again");
      }
    }
  }
  return p;
}

/// Milestones: each >= lowest and each greater than the one before.
inline void check_milestones(std::string_view cls, const std::vector<std::int64_t>& milestones,
                             std::int64_t lowest) {
  for (std::size_t k = 0; k < milestones.size(); ++k) {
    const std::string field = "milestones[" + std::to_string(k) + "]";
    check_at_least(cls, field, milestones[k], lowest);
    if (k > 0 && milestones[k] <= milestones[k - 1]) {
      throw_invalid(cls, field,
                    "> milestones[" + std::to_string(k - 1) +
                        "] = " + std::to_string(milestones[k - 1]) + " (increasing)",
                    milestones[k]);
    }
  }
}

/// A value per optimizer, given as one for all or one each: one value is
/// repeated for each of the n optimizers; other lengths are left for
/// check_count to refuse.
inline void broadcast(std::vector<double>& values, std::size_t n) {
  if (values.size() == 1) values.resize(n, values[0]);
}

/// Refuses a list of values per optimizer (after broadcast) whose length is
/// not the number of optimizers, n.
inline void check_count(std::string_view cls, std::string_view field,
                        const std::vector<double>& values, std::size_t n) {
  if (values.size() != n) {
    throw_invalid(cls, "the number of " + std::string(field) + " values",
                  "1 or the number of optimizers, " + std::to_string(n), values.size());
  }
}

/// Refuses optimizers without momentum or β₁ for a scheduler that cycles it.
template <typename Scalar>
void check_momentum_optimizers(std::string_view cls,
                               const std::vector<Optimizer<Scalar>*>& optimizers) {
  for (std::size_t i = 0; i < optimizers.size(); ++i) {
    if (!optimizers[i]->has_momentum()) {
      throw std::invalid_argument("descent::" + std::string(cls) +
                                  ": cycle_momentum needs optimizers with a momentum or beta1, "
                                  "and optimizer " +
                                  std::to_string(i) + " is a " +
                                  std::string(optimizers[i]->name()) + ", which has none");
    }
  }
}

/// A counter of a checkpoint (an epoch, a count of epochs) in
/// [lowest, highest]; otherwise fails with "<field> <value> is not in
/// [lowest, highest]", followed by "(<above>)" for a value above highest.
inline std::int64_t checked_counter(const Reader& r, const std::string& field, std::int64_t value,
                                    std::int64_t lowest, std::int64_t highest,
                                    const std::string& above = "") {
  if (value < lowest || value > highest) {
    std::string message = field + " " + std::to_string(value) + " is not in [" +
                          std::to_string(lowest) + ", " + std::to_string(highest) + "]";
    if (value > highest && !above.empty()) message.append(" (").append(above).append(")");
    r.fail(message);
  }
  return value;
}

/// start·γ·γ·…·γ (k factors), formed left to right as PyTorch's recursive
/// schedules do, so that the rounding is PyTorch's; past 100 000 factors,
/// which no real run reaches, start·γᵏ.
inline double repeated_product(double start, double gamma, std::int64_t k) {
  if (k > 100000) return start * std::pow(gamma, double(k));
  for (; k > 0 && start != 0.0; --k) start *= gamma;
  return start;
}

/// What SequentialLR and ChainedScheduler do with their children
/// (detail/composite.hpp).
template <typename Scalar>
struct Composite;

}  // namespace detail

/// \brief A learning-rate schedule: lr as a closed-form function of the epoch
/// and the base lr, with PyTorch's protocol.
///
/// A scheduler drives one optimizer or several (OptimizerList); optimizer i's
/// base lr is its lr() when the scheduler is constructed, and its lr at epoch
/// e is the schedule's function of (e, base lr i), as PyTorch's per-group
/// schedules. Construction applies epoch 0 and each step() advances one
/// epoch and sets every optimizer's lr for it. Call optimizer steps for an
/// epoch first, then scheduler.step(), as in PyTorch. The schedule is
/// computed in double and rounded to Scalar once, when it is handed to the
/// optimizer.
///
/// The scheduler holds the optimizers by pointer: they must outlive it. A
/// scheduler overrides any set_lr() made in between.
template <typename Scalar_>
class LRScheduler {
 public:
  /// The optimizers' Scalar: float or double.
  using Scalar = Scalar_;

  virtual ~LRScheduler() = default;

  /// Advances one epoch and sets every optimizer's lr for it.
  /// \throws std::invalid_argument if the schedule gives a negative or
  ///   non-finite lr (or, for OneCycleLR, runs past its total steps);
  ///   std::overflow_error if epoch() is already the largest std::int64_t. Epoch and
  ///   every lr are then unchanged.
  void step() {
    if (epoch_ == std::numeric_limits<std::int64_t>::max()) {
      throw std::overflow_error(who("step") + ": epoch " + std::to_string(epoch_) +
                                " is the largest a std::int64_t holds; there is no next epoch");
    }
    apply(epoch_ + 1);
  }

  /// Epochs stepped since construction (0 right after it).
  std::int64_t epoch() const noexcept { return epoch_; }

  /// How many optimizers this scheduler drives.
  std::size_t num_optimizers() const noexcept { return optimizers_.size(); }

  /// The lr this scheduler last set on the first optimizer.
  Scalar last_lr() const noexcept { return last_lrs_[0]; }
  /// The lr it last set on optimizer i. \throws std::out_of_range.
  Scalar last_lr(std::size_t i) const { return last_lrs_.at(i); }
  /// One per optimizer: PyTorch's get_last_lr().
  const std::vector<Scalar>& last_lrs() const noexcept { return last_lrs_; }

  /// The first optimizer's base lr (its lr at construction).
  Scalar base_lr() const noexcept { return base_lrs_[0]; }
  /// Optimizer i's base lr. \throws std::out_of_range.
  Scalar base_lr(std::size_t i) const { return base_lrs_.at(i); }
  /// One per optimizer: PyTorch's base_lrs.
  const std::vector<Scalar>& base_lrs() const noexcept { return base_lrs_; }

  /// The first optimizer's lr at epoch e, computed in double.
  double lr_at(std::int64_t e) const { return compute_lr(e, 0); }
  /// Optimizer i's lr at epoch e. \throws std::out_of_range.
  double lr_at(std::int64_t e, std::size_t i) const {
    if (i >= optimizers_.size())
      throw std::out_of_range(who("lr_at") + ": no optimizer " + std::to_string(i));
    return compute_lr(e, i);
  }

  /// The optimizers, in order.
  const std::vector<Optimizer<Scalar>*>& optimizers() const noexcept { return optimizers_; }

  /// Whether this scheduler also sets its optimizers' momentum or β₁
  /// (Optimizer::set_momentum): CyclicLR's and OneCycleLR's cycle_momentum.
  virtual bool cycles_momentum() const noexcept { return false; }

  /// Optimizer i's momentum or β₁ at epoch e, computed in double.
  /// \param e the epoch.
  /// \param i the optimizer.
  /// \throws std::invalid_argument if the scheduler does not cycle momentum;
  ///   std::out_of_range if there is no optimizer i.
  double momentum_at(std::int64_t e, std::size_t i = 0) const {
    if (!cycles_momentum())
      throw std::invalid_argument(who("momentum_at") + ": this scheduler does not cycle momentum");
    if (i >= optimizers_.size())
      throw std::out_of_range(who("momentum_at") + ": no optimizer " + std::to_string(i));
    return compute_momentum(e, i);
  }

  /// The class name, e.g. "StepLR".
  virtual std::string_view name() const noexcept = 0;

  /// \brief Writes the scheduler's state: kind, scalar type, epoch, base and
  /// last lrs, and its parameters (checkpoint.hpp). A LambdaLR's function is
  /// not data: construct the LambdaLR with the same function before load().
  /// \throws CheckpointError if the stream fails.
  void save(std::ostream& out) const {
    detail::Writer w(detail::ObjectKind::Scheduler, name(), int(sizeof(Scalar)));
    write_payload(w);
    w.finish(out, who("save"));
  }

  /// \brief Reads back what save() wrote. The optimizers are not touched:
  /// their lr comes back with their own checkpoints, as in PyTorch.
  /// \throws CheckpointError if the checkpoint is not this kind's, is
  ///   corrupt, holds invalid values or another number of optimizers; the
  ///   scheduler is then unchanged.
  void load(std::istream& in) {
    detail::Reader r(in, who("load"), detail::ObjectKind::Scheduler, name(), int(sizeof(Scalar)));
    auto commit = stage_payload(r);
    r.finish();
    commit();
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
  /// One optimizer; for schedulers written before OptimizerList.
  explicit LRScheduler(Optimizer<Scalar>& optimizer)
      : LRScheduler("LRScheduler", OptimizerList<Scalar>(optimizer)) {}
  /// Base lrs: each optimizer's lr() now. \throws std::invalid_argument if
  /// the list is empty, holds a null pointer or an optimizer twice.
  LRScheduler(std::string_view cls, const OptimizerList<Scalar>& optimizers)
      : optimizers_(detail::checked_optimizers(cls, optimizers)) {
    for (const auto* o : optimizers_) base_lrs_.push_back(o->lr());
    last_lrs_ = base_lrs_;
  }
  /// Copies refer to the same optimizers.
  LRScheduler(const LRScheduler&) = default;
  /// As the copy constructor.
  LRScheduler& operator=(const LRScheduler&) = default;

  /// Optimizer i's lr at epoch e, in double; i < num_optimizers().
  virtual double compute_lr(std::int64_t e, std::size_t i) const = 0;

  /// Optimizer i's momentum at epoch e, for a scheduler that
  /// cycles_momentum(); i < num_optimizers().
  virtual double compute_momentum(std::int64_t e, std::size_t i) const {
    static_cast<void>(e);
    static_cast<void>(i);
    return 0.0;
  }

  /// Called when epoch e becomes current, after the optimizers were set for
  /// it (a scheduler with state besides the epoch updates it here).
  virtual void commit_epoch(std::int64_t e) noexcept { static_cast<void>(e); }

  /// Schedules of the form lr = base_lr·factor(epoch) answer true, and
  /// ChainedScheduler multiplies their factors.
  virtual bool multiplicative() const noexcept { return false; }
  /// The factor(epoch) of a multiplicative schedule.
  virtual double chain_factor(std::int64_t) const { return 1.0; }
  /// Schedules that replace the optimizers' lr as base with their own
  /// (OneCycleLR's initial lr, CyclicLR's base_lr, WarmupCosineLR's
  /// init_value) answer true: SequentialLR
  /// refuses them, as PyTorch's would restart the others from it.
  virtual bool own_base_lrs() const noexcept { return false; }
  /// SequentialLR and ChainedScheduler, which do not nest.
  virtual bool composite() const noexcept { return false; }

  /// Writes the scheduler's own parameters into a checkpoint.
  virtual void write_params(detail::Writer&) const {}

  /// Reads and checks them without changing anything; returns what makes
  /// them current, which cannot fail, and runs once the loaded epoch and
  /// base lrs are current.
  virtual std::function<void()> stage_params(detail::Reader&) {
    return [] {};
  }

  /// As stage_params, for a checkpoint whose epoch is `epoch`: a schedule
  /// whose parameters bound the epoch (OneCycleLR) overrides this one, to
  /// refuse an epoch its parameters do not allow. By default stage_params(r).
  virtual std::function<void()> stage_params_at(detail::Reader& r, std::int64_t epoch) {
    static_cast<void>(epoch);
    return stage_params(r);
  }

  /// Sets the lr of epoch e on every optimizer and makes e current; does
  /// nothing if it throws. Derived constructors call apply(0) once their
  /// schedule is set up.
  void apply(std::int64_t e) {
    std::vector<double> lrs(optimizers_.size()), momenta;
    for (std::size_t i = 0; i < optimizers_.size(); ++i) lrs[i] = compute_lr(e, i);
    if (cycles_momentum()) {
      for (std::size_t i = 0; i < optimizers_.size(); ++i)
        momenta.push_back(compute_momentum(e, i));
    }
    set_epoch(e, lrs, momenta);
  }

  /// Sets lrs[i] (and momenta[i], unless momenta is empty) on optimizer i,
  /// makes e current and calls commit_epoch(e); does nothing if it throws.
  /// For a scheduler whose step computes them otherwise than apply()
  /// (CosineAnnealingWarmRestarts' fractional epochs).
  void set_epoch(std::int64_t e, const std::vector<double>& lrs,
                 const std::vector<double>& momenta) {
    std::vector<Scalar> values(optimizers_.size());
    for (std::size_t i = 0; i < optimizers_.size(); ++i) {
      const double lr = lrs[i];
      values[i] = static_cast<Scalar>(lr);
      if (!(values[i] >= Scalar(0)) || !std::isfinite(values[i])) {
        std::string message = "descent::";
        message.append(name()).append(": the schedule gives lr ").append(detail::to_text(lr));
        message.append(" at epoch ").append(std::to_string(e));
        if (optimizers_.size() > 1) message.append(" for optimizer ").append(std::to_string(i));
        message.append("; lr must be finite and >= 0");
        throw std::invalid_argument(message);
      }
    }
    if (!momenta.empty()) set_momenta(e, momenta);
    for (std::size_t i = 0; i < optimizers_.size(); ++i) optimizers_[i]->set_lr(values[i]);
    last_lrs_ = std::move(values);
    commit_epoch(e);
    epoch_ = e;
  }

  /// Replaces the base lrs; for constructors whose base is not the
  /// optimizers' lr (OneCycleLR's max_lr / div_factor).
  void set_base_lrs(std::vector<Scalar> base_lrs) { base_lrs_ = std::move(base_lrs); }

  std::string who(const char* method) const {
    return "descent::" + std::string(name()) + "::" + method;
  }

 private:
  friend struct detail::Composite<Scalar>;

  /// Payload (checkpoint.hpp): epoch, first base and last lr, the
  /// parameters, then for n > 1 optimizers n and the others' base and last
  /// lrs.
  void write_payload(detail::Writer& w) const {
    w.i64(epoch_);
    w.f64(double(base_lrs_[0]));
    w.f64(double(last_lrs_[0]));
    write_params(w);
    if (optimizers_.size() > 1) {
      w.u32(static_cast<std::uint32_t>(optimizers_.size()));
      for (std::size_t i = 1; i < optimizers_.size(); ++i) {
        w.f64(double(base_lrs_[i]));
        w.f64(double(last_lrs_[i]));
      }
    }
  }

  /// Reads a payload; `field` prefixes the names of its fields in messages
  /// ("schedulers[1]." for a child).
  std::function<void()> stage_payload(detail::Reader& r, const std::string& field = "") {
    const std::int64_t stored_epoch = r.i64("epoch");
    std::vector<double> base{r.f64("base lr")}, last{r.f64("last lr")};
    // An epoch that step() could not advance is none that step() produced.
    const std::int64_t epoch = detail::checked_counter(r, field + "epoch", stored_epoch, 0,
                                                       std::numeric_limits<std::int64_t>::max() - 1,
                                                       "the next step would overflow");
    check_lrs(r, base[0], last[0]);
    auto commit_params = stage_params_at(r, epoch);
    if (optimizers_.size() > 1) {
      const std::uint32_t n = r.u32("optimizer count");
      if (n != optimizers_.size()) {
        r.fail("the checkpoint is for " + std::to_string(n) +
               " optimizers, this scheduler drives " + std::to_string(optimizers_.size()));
      }
      for (std::size_t i = 1; i < n; ++i) {
        base.push_back(r.f64("base lr"));
        last.push_back(r.f64("last lr"));
        check_lrs(r, base.back(), last.back());
      }
    }
    std::vector<Scalar> base_lrs, last_lrs;
    for (std::size_t i = 0; i < base.size(); ++i) {
      base_lrs.push_back(static_cast<Scalar>(base[i]));
      last_lrs.push_back(static_cast<Scalar>(last[i]));
    }
    return [this, epoch, commit_params, base_lrs, last_lrs] {
      epoch_ = epoch;
      base_lrs_ = base_lrs;
      last_lrs_ = last_lrs;
      commit_params();  // after them, so that it sees the loaded epoch and base lrs
    };
  }

  /// Sets every optimizer's momentum, or none: an optimizer that refuses
  /// its value (out of its range) undoes those set before it.
  void set_momenta(std::int64_t e, const std::vector<double>& momenta) {
    std::vector<Scalar> old;
    for (const auto* o : optimizers_) old.push_back(o->momentum());
    std::size_t done = 0;
    try {
      for (; done < optimizers_.size(); ++done) {
        optimizers_[done]->set_momentum(static_cast<Scalar>(momenta[done]));
      }
    } catch (const std::invalid_argument& error) {
      // The old values were accepted before, so setting them back succeeds.
      for (std::size_t i = 0; i < done; ++i) optimizers_[i]->set_momentum(old[i]);
      std::string message = "descent::";
      message.append(name()).append(": the schedule gives momentum ");
      message.append(detail::to_text(momenta[done])).append(" at epoch ").append(std::to_string(e));
      if (optimizers_.size() > 1) message.append(" for optimizer ").append(std::to_string(done));
      message.append(", which the optimizer refuses: ").append(error.what());
      throw std::invalid_argument(message);
    }
  }

  static void check_lrs(const detail::Reader& r, double base, double last) {
    for (const double lr : {base, last}) {
      if (!(lr >= 0) || !std::isfinite(static_cast<Scalar>(lr))) {
        r.fail("lr " + detail::to_text(lr) + " is not finite and >= 0");
      }
    }
  }

  std::vector<Optimizer<Scalar>*> optimizers_;
  std::vector<Scalar> base_lrs_;
  std::vector<Scalar> last_lrs_;
  std::int64_t epoch_ = 0;
};

}  // namespace descent
