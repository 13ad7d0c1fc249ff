#pragma once
/// \file
/// SequentialLR: one schedule after another (lecture section 9).

#include "detail/composite.hpp"
#include "detail/serialize.hpp"
#include "scheduler.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace descent {

/// \brief Scheduler k from milestone k − 1 on, restarted there: lr(epoch) =
/// schedulers[k].lr_at(epoch − milestones[k − 1]), as
/// torch.optim.lr_scheduler.SequentialLR.
///
/// PyTorch restarts each next scheduler with step(0), its closed form at its
/// epoch 0, from the optimizers' initial lr; so here every child's base lr
/// becomes schedulers[0]'s (the lr before any of them was constructed:
/// construct schedulers[0] first; constructing a scheduler sets the lr, so a
/// later child's own base would be an earlier one's epoch-0 lr). E.g. a
/// warm-up, then a decay:
///
///     descent::LinearLR<double> warmup(opt, 0.1, 1.0, 5);
///     descent::CosineAnnealingLR<double> cosine(opt, 95);
///     descent::SequentialLR<double> schedule({&warmup, &cosine}, {5});
///
/// The children serve as formulas: they are not stepped (their epoch() stays
/// put) and must outlive this scheduler; do not step them yourself. A child
/// may be any scheduler but a SequentialLR, a ChainedScheduler, a
/// OneCycleLR, a CyclicLR or a WarmupCosineLR (which replace PyTorch's
/// initial lr with their own). The lr is
/// PyTorch's to the rounding of each child's closed form.
template <typename Scalar_>
class SequentialLR : public LRScheduler<Scalar_> {
 public:
  /// The Scalar of the optimizers it drives: float or double.
  using Scalar = Scalar_;
  /// Pointers to the child schedulers, which must outlive this one.
  using Children = std::vector<LRScheduler<Scalar>*>;

  /// \param schedulers the children, in order; all drive the same optimizers.
  /// \param milestones epochs at which the next child takes over; one fewer
  ///   than schedulers, each >= 1, increasing.
  /// \throws std::invalid_argument if an argument is out of range (the
  ///   optimizers and children are then unchanged).
  SequentialLR(Children schedulers, std::vector<std::int64_t> milestones)
      : LRScheduler<Scalar>(kName, checked(schedulers, milestones)),
        children_(std::move(schedulers)),
        milestones_(std::move(milestones)) {
    detail::Composite<Scalar>::rebase(children_);
    this->set_base_lrs(children_[0]->base_lrs());
    this->apply(0);
  }

  /// The children, in order.
  const Children& schedulers() const noexcept { return children_; }
  /// Epochs at which the next child takes over.
  const std::vector<std::int64_t>& milestones() const noexcept { return milestones_; }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "SequentialLR";
  std::string_view name() const noexcept override { return kName; }

 protected:
  double compute_lr(std::int64_t e, std::size_t i) const override {
    const auto k = std::size_t(std::upper_bound(milestones_.begin(), milestones_.end(), e) -
                               milestones_.begin());
    return children_[k]->lr_at(k == 0 ? e : e - milestones_[k - 1], i);
  }
  bool composite() const noexcept override { return true; }

  void write_params(detail::Writer& w) const override {
    w.u32(static_cast<std::uint32_t>(milestones_.size()));
    for (const std::int64_t m : milestones_) w.i64(m);
    detail::Composite<Scalar>::write(w, children_);
  }

  std::function<void()> stage_params(detail::Reader& r) override {
    std::vector<std::int64_t> milestones(r.count("milestone count", sizeof(std::int64_t)));
    for (std::int64_t& m : milestones) m = r.i64("milestone");
    r.validate([&] { check(milestones, children_.size()); });
    auto commit_children = detail::Composite<Scalar>::stage(r, children_);
    return [this, milestones, commit_children] {
      milestones_ = milestones;
      commit_children();
    };
  }

 private:
  static OptimizerList<Scalar> checked(const Children& schedulers,
                                       const std::vector<std::int64_t>& milestones) {
    auto list = detail::Composite<Scalar>::checked(
        kName, schedulers, [](const LRScheduler<Scalar>& c) -> std::string {
          return detail::Composite<Scalar>::own_base_lrs(c)
                     ? "it sets its own initial lr, which PyTorch's SequentialLR would then "
                       "use for all"
                     : "";
        });
    check(milestones, schedulers.size());
    return list;
  }

  /// The one check of the milestones, by the constructor and the checkpoint
  /// loader: one fewer than the schedulers (n >= 1), each >= 1, increasing.
  static void check(const std::vector<std::int64_t>& milestones, std::size_t n) {
    if (milestones.size() + 1 != n) {
      detail::throw_invalid(kName, "the number of milestones",
                            "the number of schedulers - 1 = " + std::to_string(n - 1),
                            milestones.size());
    }
    detail::check_milestones(kName, milestones, 1);
  }

  Children children_;
  std::vector<std::int64_t> milestones_;
};

}  // namespace descent
