#pragma once
/// \file
/// descent::ParamGroups: one optimizer over a network's tensors, in groups
/// with options of their own (PyTorch's param_groups), and
/// descent::ParamGrad, one tensor of a step.

#include "checkpoint.hpp"
#include "detail/serialize.hpp"
#include "detail/thread_pool.hpp"
#include "nonfinite.hpp"
#include "optimizer.hpp"
#include "scheduler.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

namespace descent {

/// \brief One tensor of a ParamGroups step: its parameters and its gradient,
/// as `{W, dW}` in the step's list.
///
/// params is any writable contiguous Eigen object of Scalar (a vector, a
/// matrix in either storage order, a Map over user memory); grad is stored
/// data of the same number of elements and, for a matrix, the same storage
/// order (an expression must be evaluated first). Only pointers are kept:
/// both must outlive the step.
template <typename Scalar>
class ParamGrad {
 public:
  /// Takes params and grad; what can only be known at run time (sizes,
  /// contiguity) is checked by the step, which names the tensor.
  template <typename Params, typename Grad>
  ParamGrad(Params&& params, const Eigen::DenseBase<Grad>& grad)  // NOLINT: implicit, {W, dW}
      : params_(params.data()),
        grad_(grad.derived().data()),
        size_(params.size()),
        grad_size_(grad.size()),
        shape_(TensorShape::of(params)) {
    using PD = detail::checked_params<Params, Scalar>;
    static_assert(std::is_same<typename Grad::Scalar, Scalar>::value,
                  "descent::ParamGrad: grad must hold the optimizer's Scalar");
    static_assert(detail::has_direct_access<Grad>(),
                  "descent::ParamGrad: grad must be stored data (a Matrix, Array, Map or "
                  "contiguous Block); evaluate an expression into one first");
    const Grad& g = grad.derived();
    contiguous_ = detail::is_contiguous(params) && detail::is_contiguous(g);
    orders_differ_ = params.rows() > 1 && params.cols() > 1 && g.rows() > 1 && g.cols() > 1 &&
                     bool(PD::IsRowMajor) != bool(Grad::IsRowMajor);
  }

  /// The parameters' storage.
  Scalar* params() const noexcept { return params_; }
  /// The gradient's storage.
  const Scalar* grad() const noexcept { return grad_; }
  /// The number of parameters.
  Eigen::Index size() const noexcept { return size_; }
  /// The parameters' shape.
  const TensorShape& shape() const noexcept { return shape_; }

 private:
  template <typename>
  friend class ParamGroups;

  Scalar* params_;
  const Scalar* grad_;
  Eigen::Index size_;
  Eigen::Index grad_size_;
  TensorShape shape_;
  bool contiguous_ = true;
  bool orders_differ_ = false;
};

/// \brief One optimizer over a list of tensors in groups, each group with
/// options of its own: PyTorch's `param_groups`.
///
/// Every tensor has its own state, as in torch.optim; a group's options
/// (lr, weight decay, betas, momentum, …) are those of its optimizer, and
/// groups may even use different optimizers (Muon for matrices, AdamW for
/// the rest). One step updates every tensor with one iteration count.
///
///     descent::AdamW<float>::Options decay;            // weights
///     auto no_decay = decay;  no_decay.weight_decay = 0;  // biases
///     descent::ParamGroups<float> opt({{descent::AdamW<float>(decay), 2},
///                                      {descent::AdamW<float>(no_decay), 2}});
///     descent::StepLR<float> schedule(opt, 30, 0.5);   // drives both groups
///     for (...) {
///       // ... gradients into dW1, dW2, db1, db2 ...
///       opt.step({{W1, dW1}, {W2, dW2}, {b1, db1}, {b2, db2}});  // group order
///     }
///
/// The groups are fixed at construction; the first step fixes each tensor's
/// shape (reset() forgets them). A group's handle, group(k), is an optimizer
/// of the group's kind that holds its options and lr and never steps: set
/// its lr, momentum or weight decay, or let a scheduler do it (a
/// ParamGroups converts to the OptimizerList of its handles, so each group
/// keeps its own base lr), and every tensor of the group follows from the
/// next step. An element's update is the one its group's optimizer would
/// make stepping that tensor alone, bit for bit, with any thread count.
template <typename Scalar_>
class ParamGroups {
 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;
  /// Makes one optimizer of a group: its handle, and one per tensor.
  using Factory = std::function<std::unique_ptr<Optimizer<Scalar>>()>;

  /// A group: how to make its optimizer, and how many of the step's tensors
  /// (the next ones in the list, in order) belong to it.
  struct Group {
    /// A copy of `prototype` (options, lr, and state if it has stepped)
    /// for each of `tensors` tensors.
    template <typename Opt, typename O = std::remove_cv_t<std::remove_reference_t<Opt>>,
              typename = std::enable_if_t<std::is_base_of<Optimizer<Scalar>, O>::value>>
    Group(Opt&& prototype, std::size_t count)  // NOLINT: implicit, {Adam<float>(o), 2}
        : make([p = O(std::forward<Opt>(prototype))]() -> std::unique_ptr<Optimizer<Scalar>> {
            return std::make_unique<O>(p);
          }),
          tensors(count) {}
    /// make() for each of `tensors` tensors, e.g. a lambda calling
    /// make_optimizer() and setting an option.
    Group(Factory factory, std::size_t count) : make(std::move(factory)), tensors(count) {}

    /// Makes the group's optimizers.
    Factory make;
    /// How many tensors the group has; at least 1.
    std::size_t tensors;
  };

  /// \param groups the groups in order; the step's tensors are the first
  ///   group's, then the second's, and so on.
  /// \throws std::invalid_argument if there are no groups, a group has no
  ///   tensors or no factory, or a factory returns null.
  explicit ParamGroups(std::vector<Group> groups);

  /// \brief One update of every tensor, in place.
  ///
  /// \param tensors `{params, grad}` pairs, the groups' tensors in order.
  /// \throws std::invalid_argument if the number of tensors is not the
  ///   groups', if a tensor's params and grad differ in size, are not
  ///   contiguous, are matrices of different storage orders or overlap, if
  ///   a shape differs from the first step's, or if a group's option set
  ///   through its handle is refused by its tensors' state (SGD's momentum
  ///   0 ↔ positive after the first step).
  /// \throws std::domain_error if a gradient holds NaN or ±inf and its
  ///   group's `nonfinite` is NonFinite::Throw. A NonFinite::Skip group's
  ///   non-finite gradient skips the whole step (every group), counted by
  ///   skipped_steps().
  /// \throws std::overflow_error if iterations() is already 2^63 − 1.
  /// \throws std::system_error if worker threads cannot be started.
  ///
  /// Whatever it throws, parameters and state are untouched.
  void step(std::initializer_list<ParamGrad<Scalar>> tensors) {
    step_all(tensors.begin(), tensors.size());
  }
  /// As above, from a vector (a loop over a network's layers).
  void step(const std::vector<ParamGrad<Scalar>>& tensors) {
    step_all(tensors.data(), tensors.size());
  }

  /// The number of groups.
  std::size_t groups() const noexcept { return handles_.size(); }
  /// The number of tensors, over all groups.
  std::size_t tensors() const noexcept { return tensors_.size(); }
  /// The shape the first step fixed for tensor k (a default TensorShape, of
  /// 0 rows, before it). \throws std::out_of_range if there is no tensor k.
  TensorShape shape(std::size_t k) const { return shapes_.at(k); }
  /// The group tensor k belongs to.
  std::size_t group_of(std::size_t k) const { return group_of_.at(k); }

  /// \brief Group g's handle: an optimizer of its kind that holds its
  /// options and never steps (see the class notes).
  /// \throws std::out_of_range if there is no group g.
  Optimizer<Scalar>& group(std::size_t g) { return *handles_.at(g); }
  /// As above.
  const Optimizer<Scalar>& group(std::size_t g) const { return *handles_.at(g); }
  /// Tensor k's optimizer, which holds its state (for inspection).
  /// \throws std::out_of_range if there is no tensor k.
  const Optimizer<Scalar>& tensor(std::size_t k) const { return *tensors_.at(k); }

  /// Group g's lr.
  Scalar lr(std::size_t g) const { return group(g).lr(); }
  /// Sets group g's lr. \throws std::invalid_argument unless finite and >= 0.
  void set_lr(std::size_t g, Scalar lr) { group(g).set_lr(lr); }

  /// The handles, in group order, for a scheduler: `StepLR<float>(opt, 30)`.
  operator OptimizerList<Scalar>() {  // NOLINT: implicit, as an optimizer converts
    std::vector<Optimizer<Scalar>*> list;
    for (auto& h : handles_) list.push_back(h.get());
    return OptimizerList<Scalar>(std::move(list));
  }

  /// Steps taken since construction or the last reset().
  std::int64_t iterations() const noexcept { return iterations_; }
  /// Steps skipped for a non-finite gradient in a NonFinite::Skip group.
  std::int64_t skipped_steps() const noexcept { return skipped_; }

  /// \brief Lets a step use n threads: tensors of at least 65 536 elements
  /// are split across them one after another, and the smaller tensors are
  /// shared out among them, in runs of about equal size. Bitwise the same
  /// result as one thread. Default 1.
  /// \throws std::invalid_argument if n < 1.
  void set_threads(int n);
  /// The thread count set by set_threads().
  int threads() const noexcept { return threads_; }

  /// Forgets every tensor's state and shape and the step counts; handles
  /// and their options are kept.
  void reset() noexcept {
    for (auto& t : tensors_) t->reset();
    shapes_.assign(tensors_.size(), TensorShape{});
    shaped_ = false;
    plan_threads_ = 0;
    iterations_ = 0;
    skipped_ = 0;
  }

  /// \brief Writes the layout (groups, tensors and their shapes), the step
  /// counts, every handle and every tensor's optimizer, in the format of
  /// checkpoint.hpp. \throws CheckpointError if writing fails.
  void save(std::ostream& out) const;

  /// \brief Reads back what save() wrote, so that the next step continues
  /// the saved run bit for bit.
  /// \throws CheckpointError if the checkpoint is of another kind, scalar
  ///   type or layout (number of groups, tensors per group, shapes once
  ///   both have stepped, a group's optimizer kind), corrupt or invalid;
  ///   then nothing has changed.
  void load(std::istream& in);

  /// save() through a temporary file and a rename, as Optimizer::save_file().
  void save_file(const std::string& path) const {
    detail::save_file(path, who("save_file"), [this](std::ostream& out) { save(out); });
  }
  /// load() from a file, which the checkpoint must fill exactly.
  void load_file(const std::string& path) {
    detail::load_file(path, who("load_file"), [this](std::istream& in) { load(in); });
  }

  /// "ParamGroups".
  std::string_view name() const noexcept { return "ParamGroups"; }

 private:
  using Opt = Optimizer<Scalar>;

  void step_all(const ParamGrad<Scalar>* list, std::size_t count);
  void check_tensors(const ParamGrad<Scalar>* list, std::size_t count) const;
  bool check_finite(const ParamGrad<Scalar>* list) const;
  void follow_handles();
  void update_all(const ParamGrad<Scalar>* list, std::int64_t t);
  // Tensor k's update of its elements [lo, hi), whole when that is all of
  // them, else through a feed that runs its element loop over that range.
  void update_one(std::size_t k, const ParamGrad<Scalar>& p, Index lo, Index hi,
                  std::int64_t t) noexcept {
    struct Range final : detail::ElementFeed {
      Index lo, hi;
      Range(Index l, Index h) : lo(l), hi(h) {}
      void feed(Index, Run run, const void* context) override { run(context, lo, hi); }
    };
    Range range(lo, hi);
    if (lo > 0 || hi < p.size_) detail::next_feed = &range;
    tensors_[k]->update(p.params_, p.grad_, p.size_, t);
    detail::next_feed = nullptr;
  }
  void make_plan(const ParamGrad<Scalar>* list);
  // A thread's piece of the step: elements [lo, hi) of a tensor.
  struct Piece {
    std::size_t tensor;
    Index lo, hi;
  };
  std::string who(const char* method) const {
    return "descent::ParamGroups::" + std::string(method);
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument(who("step") + ": " + what);
  }
  static std::string describe(const TensorShape& s);
  void forget_followed() {
    followed_.assign(handles_.size(), {});
    for (auto& f : followed_) f.fill(std::numeric_limits<Scalar>::quiet_NaN());
  }

  std::vector<Factory> makes_;
  std::vector<std::unique_ptr<Opt>> handles_;
  std::vector<std::unique_ptr<Opt>> tensors_;
  std::vector<std::size_t> group_of_;
  std::vector<std::size_t> group_sizes_;
  // The options a handle can change after construction besides lr, and
  // their values when each group's tensors last took them (NaN: unknown).
  static constexpr std::array<std::string_view, 4> kFollowed{"momentum", "beta1", "beta",
                                                             "weight_decay"};
  std::vector<std::array<Scalar, 4>> followed_;
  std::vector<TensorShape> shapes_;
  bool shaped_ = false;
  std::int64_t iterations_ = 0;
  std::int64_t skipped_ = 0;
  int threads_ = 1;
  detail::PoolHandle pool_;
  // The threads' pieces, run w's being plan_[plan_start_[w], plan_start_[w + 1]),
  // made for plan_threads_ threads (0: none made) and the shapes fixed.
  std::vector<Piece> plan_;
  std::vector<std::size_t> plan_start_;
  int plan_threads_ = 0;
};

template <typename S>
ParamGroups<S>::ParamGroups(std::vector<Group> groups) {
  if (groups.empty())
    throw std::invalid_argument(who("ParamGroups") + ": groups must not be empty");
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const std::string which = "group " + std::to_string(g);
    if (!groups[g].make)
      throw std::invalid_argument(who("ParamGroups") + ": " + which + " has no factory");
    if (groups[g].tensors == 0) {
      throw std::invalid_argument(who("ParamGroups") + ": " + which + " has no tensors");
    }
    auto made = [&] {
      auto o = groups[g].make();
      if (!o)
        throw std::invalid_argument(who("ParamGroups") + ": " + which + "'s factory returned null");
      return o;
    };
    handles_.push_back(made());
    for (std::size_t k = 0; k < groups[g].tensors; ++k) {
      tensors_.push_back(made());
      tensors_.back()->threads_ = 1;  // the groups share the work out themselves
      group_of_.push_back(g);
    }
    group_sizes_.push_back(groups[g].tensors);
    makes_.push_back(std::move(groups[g].make));
  }
  shapes_.assign(tensors_.size(), TensorShape{});
  forget_followed();
}

template <typename S>
void ParamGroups<S>::set_threads(int n) {
  detail::check_at_least("ParamGroups", "threads", n, 1);
  threads_ = n;
}

template <typename S>
std::string ParamGroups<S>::describe(const TensorShape& s) {
  if (!s.matrix) return "a vector of " + std::to_string(s.rows);
  return std::string("a ") + (s.row_major ? "row-major " : "") + std::to_string(s.rows) + "×" +
         std::to_string(s.cols) + " matrix";
}

template <typename S>
void ParamGroups<S>::check_tensors(const ParamGrad<S>* list, std::size_t count) const {
  if (count != tensors_.size()) {
    fail("got " + std::to_string(count) + " tensors but the groups have " +
         std::to_string(tensors_.size()));
  }
  for (std::size_t k = 0; k < count; ++k) {
    const ParamGrad<S>& p = list[k];
    const auto refuse = [&](const std::string& what) {
      fail("tensor " + std::to_string(k) + " (group " + std::to_string(group_of_[k]) + ")" + what);
    };
    if (p.size_ != p.grad_size_) {
      refuse(": params has " + std::to_string(p.size_) + " elements but grad has " +
             std::to_string(p.grad_size_));
    }
    if (!p.contiguous_) refuse(": params and grad must be stored contiguously");
    if (p.orders_differ_) refuse(": params and grad are matrices of different storage orders");
    const bool overlaps = p.size_ > 0 && std::less<const S*>{}(p.grad_, p.params_ + p.size_) &&
                          std::less<const S*>{}(p.params_, p.grad_ + p.size_);
    if (overlaps) refuse(": grad overlaps params");
    if (shaped_ && p.shape_ != shapes_[k]) {
      refuse(" is " + describe(p.shape_) + " but was " + describe(shapes_[k]) +
             " (reset() to change the shapes)");
    }
    const Index built = tensors_[k]->state_size_;
    if (built >= 0 && p.size_ != built) {
      refuse(" has " + std::to_string(p.size_) + " elements but its state was built for " +
             std::to_string(built));
    }
    if (built >= 0) {
      const std::string error = tensors_[k]->shape_error(p.shape_);
      if (!error.empty()) refuse(": " + error);
    }
  }
}

template <typename S>
bool ParamGroups<S>::check_finite(const ParamGrad<S>* list) const {
  bool skip = false;
  for (std::size_t k = 0; k < tensors_.size(); ++k) {
    const NonFinite policy = tensors_[k]->nonfinite_policy();
    if (policy == NonFinite::Propagate || (skip && policy == NonFinite::Skip)) continue;
    const Index bad = detail::first_nonfinite(list[k].grad_, list[k].size_);
    if (bad < 0) continue;
    if (policy == NonFinite::Throw) {
      throw std::domain_error(who("step") + ": grad[" + std::to_string(bad) + "] of tensor " +
                              std::to_string(k) + " (group " + std::to_string(group_of_[k]) +
                              ") is " + detail::to_text(list[k].grad_[bad]) +
                              "; parameters and state are unchanged");
    }
    skip = true;
  }
  return !skip;
}

// Each tensor takes its group handle's lr, and its momentum and weight
// decay where they changed since the last step. The first tensor of a group
// refuses a momentum its state cannot take before any other changes.
template <typename S>
void ParamGroups<S>::follow_handles() {
  for (std::size_t k = 0; k < tensors_.size(); ++k) tensors_[k]->lr_ = handles_[group_of_[k]]->lr_;
  std::size_t first = 0;
  for (std::size_t g = 0; g < handles_.size(); first += group_sizes_[g], ++g) {
    for (std::size_t i = 0; i < kFollowed.size(); ++i) {
      S want{};
      if (!handles_[g]->read_option(kFollowed[i], want)) continue;
      S& followed = followed_[g][i];
      if (want == followed) continue;
      for (std::size_t k = first; k < first + group_sizes_[g]; ++k) {
        tensors_[k]->write_option(kFollowed[i], want);
      }
      followed = want;
    }
  }
}

template <typename S>
void ParamGroups<S>::step_all(const ParamGrad<S>* list, std::size_t count) {
  check_tensors(list, count);
  follow_handles();
  if (!check_finite(list)) {
    if (skipped_ < std::numeric_limits<std::int64_t>::max()) ++skipped_;
    return;
  }
  if (iterations_ == std::numeric_limits<std::int64_t>::max()) {
    throw std::overflow_error(who("step") + ": iterations() is 2^63 − 1, the most it can count " +
                              "(reset() to start again); parameters and state are unchanged");
  }
  if (threads_ > 1) pool_.reserve(threads_ - 1);
  // State for every tensor first: if an allocation fails, what this step
  // allocated is released and nothing has changed.
  std::vector<bool> fresh(count);
  try {
    for (std::size_t k = 0; k < count; ++k) {
      Opt& t = *tensors_[k];
      if (t.state_size_ >= 0 || list[k].size_ == 0) continue;
      fresh[k] = true;
      t.shape_ = list[k].shape_;
      t.allocate_state(list[k].size_);
      t.state_size_ = list[k].size_;
    }
  } catch (...) {
    for (std::size_t k = 0; k < count; ++k) {
      if (fresh[k]) tensors_[k]->reset();
    }
    throw;
  }
  if (!shaped_) {
    for (std::size_t k = 0; k < count; ++k) shapes_[k] = list[k].shape_;
    shaped_ = true;
  }
  update_all(list, iterations_ + 1);
  ++iterations_;
}

template <typename S>
void ParamGroups<S>::update_all(const ParamGrad<S>* list, std::int64_t t) {
  const std::size_t count = tensors_.size();
  // Each tensor's elements at their place in the concatenation of the
  // tensors, for stochastic rounding's bits (Optimizer::element_offset).
  Index offset = 0;
  for (std::size_t k = 0; k < count; ++k) {
    tensors_[k]->shape_ = list[k].shape_;
    tensors_[k]->element_offset_ = offset;
    offset += list[k].size_;
  }
  if (threads_ == 1) {
    for (std::size_t k = 0; k < count; ++k) {
      if (list[k].size_ > 0) update_one(k, list[k], 0, list[k].size_, t);
    }
  } else {
    if (plan_threads_ != threads_) make_plan(list);
    pool_.get()->run([&](int w) {
      for (std::size_t j = plan_start_[std::size_t(w)]; j < plan_start_[std::size_t(w) + 1]; ++j) {
        const Piece& piece = plan_[j];
        update_one(piece.tensor, list[piece.tensor], piece.lo, piece.hi, t);
      }
    });
  }
  for (std::size_t k = 0; k < count; ++k) {
    if (list[k].size_ > 0) ++tensors_[k]->iterations_;  // an empty tensor keeps no state
  }
}

// The threads' shares: the tensors' elements end to end, cut into threads()
// runs of about equal length at multiples of 64 elements (apart cache
// lines). A tensor whose update is not elementwise is not cut: it goes
// whole to the run its first element falls in.
template <typename S>
void ParamGroups<S>::make_plan(const ParamGrad<S>* list) {
  const auto runs = static_cast<std::size_t>(threads_);
  Index total = 0;
  for (std::size_t k = 0; k < tensors_.size(); ++k) total += list[k].size_;
  const auto bound = [&](std::size_t w) {  // where run w ends
    if (w + 1 >= runs) return total;
    const Index b =
        total / Index(runs) * Index(w + 1) + total % Index(runs) * Index(w + 1) / Index(runs);
    return std::min(total, (b + 63) / 64 * 64);
  };
  std::vector<Piece> plan;
  std::vector<std::size_t> start(runs + 1, 0);
  std::size_t w = 0;
  Index pos = 0;  // where tensor k starts, end to end
  for (std::size_t k = 0; k < tensors_.size(); ++k) {
    const Index n = list[k].size_;
    Index lo = 0;
    while (lo < n) {
      while (w + 1 < runs && pos + lo >= bound(w)) start[++w] = plan.size();
      const Index hi = tensors_[k]->elementwise() ? std::min(n, bound(w) - pos) : n;
      plan.push_back({k, lo, hi});
      lo = hi;
    }
    pos += n;
  }
  while (w + 1 < runs) start[++w] = plan.size();
  start[runs] = plan.size();
  plan_ = std::move(plan);
  plan_start_ = std::move(start);
  plan_threads_ = threads_;
}

template <typename S>
void ParamGroups<S>::save(std::ostream& out) const {
  detail::Writer w(detail::ObjectKind::ParamGroups, name(), int(sizeof(S)));
  w.i64(iterations_);
  w.i64(skipped_);
  w.u32(static_cast<std::uint32_t>(handles_.size()));
  for (std::size_t g = 0; g < handles_.size(); ++g) {
    w.i64(static_cast<std::int64_t>(group_sizes_[g]));
    std::ostringstream nested;
    handles_[g]->save(nested);
    w.bytes(nested.str());
  }
  w.i64(shaped_ ? 1 : 0);
  for (std::size_t k = 0; k < tensors_.size(); ++k) {
    const TensorShape& s = shapes_[k];
    w.i64(s.rows);
    w.i64(s.cols);
    w.i64((s.matrix ? 1 : 0) | (s.row_major ? 2 : 0));
    std::ostringstream nested;
    tensors_[k]->save(nested);
    w.bytes(nested.str());
  }
  w.finish(out, who("save"));
}

template <typename S>
void ParamGroups<S>::load(std::istream& in) {
  detail::Reader r(in, who("load"), detail::ObjectKind::ParamGroups, name(), int(sizeof(S)));
  const std::int64_t iterations = r.i64("iterations");
  const std::int64_t skipped = r.i64("skipped steps");
  if (iterations < 0 || iterations == std::numeric_limits<std::int64_t>::max()) {
    r.fail("iterations " + std::to_string(iterations) + " is not in [0, 2^63 − 1)");
  }
  if (skipped < 0) r.fail("skipped steps " + std::to_string(skipped) + " is negative");
  const std::uint32_t groups = r.u32("group count");
  if (groups != handles_.size()) {
    r.fail("the checkpoint has " + std::to_string(groups) + " groups, these groups " +
           std::to_string(handles_.size()));
  }
  // Everything is loaded into fresh optimizers first, and replaces the
  // current ones only once all of it has been read.
  const auto nested_load = [&](Opt& target, const char* what) {
    const std::string bytes = r.bytes(what);
    if (!detail::one_record(bytes)) r.fail(std::string(what) + " is not one whole record");
    std::istringstream nested(bytes);
    try {
      target.load(nested);
    } catch (const CheckpointError& e) {
      r.fail(std::string(what) + ": " + e.what());
    }
  };
  std::vector<std::unique_ptr<Opt>> handles(groups);
  for (std::size_t g = 0; g < groups; ++g) {
    const std::int64_t size = r.i64("tensors in a group");
    if (size != static_cast<std::int64_t>(group_sizes_[g])) {
      r.fail("group " + std::to_string(g) + " has " + std::to_string(size) +
             " tensors in the checkpoint, " + std::to_string(group_sizes_[g]) + " here");
    }
    handles[g] = makes_[g]();
    nested_load(*handles[g], "a group's checkpoint");
  }
  const std::int64_t shaped = r.i64("shapes known");
  if (shaped != 0 && shaped != 1) r.fail("shapes known is " + std::to_string(shaped));
  std::vector<std::unique_ptr<Opt>> tensors(tensors_.size());
  std::vector<TensorShape> shapes(tensors_.size());
  for (std::size_t k = 0; k < tensors_.size(); ++k) {
    TensorShape& s = shapes[k];
    s.rows = r.i64("rows");
    s.cols = r.i64("cols");
    const std::int64_t flags = r.i64("shape flags");
    if (flags < 0 || flags > 3 || (flags == 2)) r.fail("shape flags " + std::to_string(flags));
    s.matrix = (flags & 1) != 0;
    s.row_major = (flags & 2) != 0;
    const bool plausible =
        shaped == 0 ? s == TensorShape{} : s.rows >= 0 && s.cols >= 0 && (s.matrix || s.cols == 1);
    if (!plausible) r.fail("tensor " + std::to_string(k) + " has the shape " + describe(s) + "?");
    if (shaped_ && shaped == 1 && s != shapes_[k]) {
      r.fail("tensor " + std::to_string(k) + " is " + describe(s) + " in the checkpoint but " +
             describe(shapes_[k]) + " here (reset() first to load other shapes)");
    }
    tensors[k] = makes_[group_of_[k]]();
    tensors[k]->threads_ = 1;
    nested_load(*tensors[k], "a tensor's checkpoint");
    const Opt& t = *tensors[k];
    if (t.name() != handles[group_of_[k]]->name()) {
      r.fail("tensor " + std::to_string(k) + " is stepped by " + std::string(t.name()) +
             " but its group by " + std::string(handles[group_of_[k]]->name()));
    }
    if (t.iterations_ != (t.state_size_ >= 0 ? iterations : 0) ||
        (shaped == 0 && t.state_size_ >= 0) ||
        (shaped == 1 && t.state_size_ >= 0 &&
         !(s.cols > 0 && t.state_size_ % s.cols == 0 && t.state_size_ / s.cols == s.rows))) {
      r.fail("tensor " + std::to_string(k) +
             "'s state does not fit the groups' step count and shape");
    }
  }
  r.finish();
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    if (tensors[k]->state_size_ >= 0) tensors[k]->shape_ = shapes[k];
  }
  plan_threads_ = 0;
  handles_ = std::move(handles);
  tensors_ = std::move(tensors);
  shapes_ = std::move(shapes);
  shaped_ = shaped == 1;
  iterations_ = iterations;
  skipped_ = skipped;
  forget_followed();
}

}  // namespace descent
