#pragma once
/// \file
/// Composite, what SequentialLR and ChainedScheduler do with their children:
/// checks, base lrs, factors and checkpoint records.

#include "../scheduler.hpp"
#include "serialize.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace descent::detail {

/// The composites' access to their children's protected and private parts;
/// LRScheduler befriends it.
template <typename Scalar>
struct Composite {
  /// The schedulers a SequentialLR or ChainedScheduler holds.
  using Children = std::vector<LRScheduler<Scalar>*>;

  /// Refuses no children, a null one, a composite one, one that `refuse`
  /// refuses (`refuse(child)` gives the reason, or "") and children that
  /// drive other optimizers than the first; returns the first's optimizers.
  template <typename Refuse>
  static OptimizerList<Scalar> checked(std::string_view cls, const Children& children,
                                       const Refuse& refuse) {
    const std::string prefix = "descent::" + std::string(cls) + ": ";
    if (children.empty()) throw std::invalid_argument(prefix + "schedulers must not be empty");
    for (std::size_t k = 0; k < children.size(); ++k) {
      const std::string child = "schedulers[" + std::to_string(k) + "]";
      if (children[k] == nullptr) throw std::invalid_argument(prefix + child + " is null");
      const LRScheduler<Scalar>& c = *children[k];
      if (c.composite()) {
        throw std::invalid_argument(prefix + child + " is a " + std::string(c.name()) +
                                    "; SequentialLR and ChainedScheduler do not nest");
      }
      const std::string reason = refuse(c);
      if (!reason.empty()) {
        throw std::invalid_argument(prefix + child + " is a " + std::string(c.name()) + ": " +
                                    reason);
      }
      if (c.optimizers_ != children[0]->optimizers_) {
        throw std::invalid_argument(prefix + child +
                                    " drives other optimizers than schedulers[0]: all must "
                                    "drive the same ones, in the same order");
      }
    }
    return OptimizerList<Scalar>(children[0]->optimizers_);
  }

  /// PyTorch's children all start from the optimizers' initial_lr, their lr
  /// before the first scheduler was made: here the first child's base lrs.
  /// Constructing a child sets the optimizers' lr, so a later child's own
  /// base is the lr an earlier one set; this undoes that.
  static void rebase(const Children& children) {
    for (LRScheduler<Scalar>* c : children) c->base_lrs_ = children[0]->base_lrs_;
  }

  /// c.multiplicative(), for ChainedScheduler's check.
  static bool multiplicative(const LRScheduler<Scalar>& c) { return c.multiplicative(); }
  /// c.chain_factor(e), for ChainedScheduler.
  static double factor(const LRScheduler<Scalar>& c, std::int64_t e) { return c.chain_factor(e); }
  /// c.own_base_lrs(), for SequentialLR's check.
  static bool own_base_lrs(const LRScheduler<Scalar>& c) { return c.own_base_lrs(); }

  /// Checkpoint records of the children: count u32, then per child its kind
  /// name and its scheduler payload.
  static void write(Writer& w, const Children& children) {
    w.u32(static_cast<std::uint32_t>(children.size()));
    for (const LRScheduler<Scalar>* c : children) {
      w.name(c->name());
      c->write_payload(w);
    }
  }

  /// Reads what write() wrote, refusing another number or kind of children;
  /// returns what makes it current.
  static std::function<void()> stage(Reader& r, const Children& children) {
    const std::uint32_t n = r.u32("scheduler count");
    if (n != children.size()) {
      r.fail("the checkpoint holds " + std::to_string(n) + " schedulers, this one " +
             std::to_string(children.size()));
    }
    std::vector<std::function<void()>> commits;
    for (std::size_t k = 0; k < children.size(); ++k) {
      LRScheduler<Scalar>* c = children[k];
      const std::string kind = r.name("scheduler kind");
      if (kind != c->name()) {
        r.fail("the checkpoint holds a " + kind + " where this holds a " + std::string(c->name()));
      }
      commits.push_back(c->stage_payload(r, "schedulers[" + std::to_string(k) + "]."));
    }
    return [commits] {
      for (const auto& commit : commits) commit();
    };
  }
};

}  // namespace descent::detail
