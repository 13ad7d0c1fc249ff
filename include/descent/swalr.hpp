#pragma once
/// \file
/// SWALR, the learning rate of stochastic weight averaging.

#include "detail/check.hpp"
#include "scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace descent {

/// \brief Anneals each optimizer's lr from where it is to a fixed swa_lr
/// over anneal_epochs epochs, then holds it: torch.optim.swa_utils.SWALR.
///
/// Not a closed form of the epoch: as PyTorch's, each step reads the
/// optimizer's current lr, takes it for the lr the annealing gave one epoch
/// earlier, recovers from it the lr the annealing started from, and moves
/// on by one epoch. With s = max(1, e) if anneal_epochs = 0 (else e),
/// A = max(1, anneal_epochs), f the strategy (cos: (1 − cos(π·t))/2,
/// linear: t), α' = f(clamp((s − 1)/A, 0, 1)), α = f(clamp(s/A, 0, 1)):
///
///     start = swa_lr                         if α' = 1
///           = (lr − α'·swa_lr) / (1 − α')    otherwise
///     lr    ← swa_lr·α + start·(1 − α)
///
/// So another scheduler (or set_lr()) may drive the lr up to the epoch SWA
/// starts, and SWALR anneals from whatever lr it finds there, as in the
/// PyTorch recipe: construct SWALR with the other scheduler and call its
/// step() once SWA has started. Construction, epoch 0, leaves the lr as it
/// is (anneal_epochs > 0) or sets swa_lr (anneal_epochs = 0). lr_at(e) is
/// the lr a step to epoch e would set from the optimizers' lr now. Computed
/// in double: with float optimizers the lr it reads has been rounded to
/// float. Not a SequentialLR or ChainedScheduler child. The optimizers must
/// outlive the scheduler.
template <typename Scalar_>
class SWALR : public LRScheduler<Scalar_> {
 public:
  /// The Scalar of the optimizers it drives: float or double.
  using Scalar = Scalar_;

  /// How the lr goes from its start to swa_lr.
  enum class Anneal {
    cos,    ///< α = (1 − cos(π·t)) / 2.
    linear  ///< α = t.
  };

  /// \param optimizers one optimizer or several (OptimizerList).
  /// \param swa_lr the lr to anneal every optimizer to; finite and >= 0.
  /// \param anneal_epochs epochs the annealing takes; >= 0. Default 10.
  /// \param anneal_strategy cos or linear. Default cos.
  /// \throws std::invalid_argument if an argument is out of range.
  SWALR(const OptimizerList<Scalar>& optimizers, double swa_lr, std::int64_t anneal_epochs = 10,
        Anneal anneal_strategy = Anneal::cos)
      : SWALR(optimizers, std::vector<double>(optimizers.pointers().size(), swa_lr), anneal_epochs,
              anneal_strategy) {}

  /// \param optimizers one optimizer or several (OptimizerList).
  /// \param swa_lrs one swa_lr per optimizer, in order (PyTorch's list per
  ///   param group); each finite and >= 0.
  /// \param anneal_epochs epochs the annealing takes; >= 0. Default 10.
  /// \param anneal_strategy cos or linear. Default cos.
  /// \throws std::invalid_argument if an argument is out of range or
  ///   swa_lrs has another length than optimizers.
  SWALR(const OptimizerList<Scalar>& optimizers, std::vector<double> swa_lrs,
        std::int64_t anneal_epochs = 10, Anneal anneal_strategy = Anneal::cos)
      : LRScheduler<Scalar>(kName, optimizers),
        swa_lrs_(std::move(swa_lrs)),
        anneal_epochs_(anneal_epochs),
        anneal_(anneal_strategy) {
    check(swa_lrs_, anneal_epochs_, anneal_, this->num_optimizers());
    this->apply(0);
  }

  /// The lr optimizer i is annealed to. \throws std::out_of_range.
  double swa_lr(std::size_t i = 0) const { return swa_lrs_.at(i); }
  /// Epochs the annealing takes.
  std::int64_t anneal_epochs() const noexcept { return anneal_epochs_; }
  /// cos or linear.
  Anneal anneal_strategy() const noexcept { return anneal_; }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "SWALR";
  std::string_view name() const noexcept override { return kName; }

 protected:
  double compute_lr(std::int64_t e, std::size_t i) const override {
    // PyTorch's get_lr() at _step_count − 1 = e, in its order of operations.
    const std::int64_t step = anneal_epochs_ == 0 ? std::max<std::int64_t>(1, e) : e;
    const double span = double(std::max<std::int64_t>(1, anneal_epochs_));
    const double prev_alpha = anneal(std::clamp((double(step) - 1) / span, 0.0, 1.0));
    const double swa = swa_lrs_[i];
    const double lr = double(this->optimizers()[i]->lr());
    const double start = prev_alpha == 1 ? swa : (lr - prev_alpha * swa) / (1 - prev_alpha);
    const double alpha = anneal(std::clamp(double(step) / span, 0.0, 1.0));
    return swa * alpha + start * (1 - alpha);
  }

  void write_params(detail::Writer& w) const override {
    w.i64(anneal_epochs_);
    w.u32(static_cast<std::uint32_t>(anneal_));
    w.u32(static_cast<std::uint32_t>(swa_lrs_.size()));
    for (const double lr : swa_lrs_) w.f64(lr);
  }

  std::function<void()> stage_params(detail::Reader& r) override {
    const std::int64_t epochs = r.i64("anneal_epochs");
    const std::uint32_t anneal = r.u32("anneal_strategy");
    std::vector<double> lrs(r.count("swa_lr count", sizeof(double)));
    for (double& lr : lrs) lr = r.f64("swa_lr");
    r.validate([&] {
      check_anneal(anneal);
      check(lrs, epochs, static_cast<Anneal>(anneal), this->num_optimizers());
    });
    return [this, epochs, anneal, lrs] {
      anneal_epochs_ = epochs;
      anneal_ = static_cast<Anneal>(anneal);
      swa_lrs_ = lrs;
    };
  }

 private:
  static constexpr double kPi = 3.141592653589793;  // math.pi

  /// The one check of the constructor and the checkpoint loader.
  static void check(const std::vector<double>& swa_lrs, std::int64_t anneal_epochs, Anneal anneal,
                    std::size_t n) {
    if (swa_lrs.size() != n) {
      detail::throw_invalid(kName, "swa_lrs", "one per optimizer (" + std::to_string(n) + ")",
                            swa_lrs.size());
    }
    for (std::size_t i = 0; i < swa_lrs.size(); ++i) {
      detail::check_nonnegative(kName, "swa_lrs[" + std::to_string(i) + "]", swa_lrs[i]);
    }
    detail::check_at_least(kName, "anneal_epochs", anneal_epochs, 0);
    check_anneal(anneal);
  }

  /// An Anneal, or the number that stands for one in a checkpoint.
  template <typename T>
  static void check_anneal(T anneal) {
    detail::check_enum(kName, "anneal_strategy", anneal, {"cos", "linear"});
  }

  double anneal(double t) const { return anneal_ == Anneal::cos ? (1 - std::cos(kPi * t)) / 2 : t; }

  std::vector<double> swa_lrs_;
  std::int64_t anneal_epochs_;
  Anneal anneal_;
};

}  // namespace descent
