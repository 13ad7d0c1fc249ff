#pragma once
/// \file
/// descent::Optimizer, the base every optimizer derives from: one
/// step(params, grad) contract over any contiguous Eigen storage.

#include "checkpoint.hpp"
#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/serialize.hpp"
#include "eps_placement.hpp"
#include "nonfinite.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

namespace descent {

/// \brief The layout of a step's parameters, which the matrix-aware
/// optimizers (Adafactor, Muon) read: rows and columns of a matrix in its
/// storage order, or a vector's length as rows with one column.
struct TensorShape {
  /// Rows of a matrix, or a vector's number of elements.
  Eigen::Index rows = 0;
  /// Columns of a matrix; 1 for a vector.
  Eigen::Index cols = 1;
  /// Whether the parameters are of a matrix type (Eigen's compile-time
  /// vectors and arrays of one column or row are not), as a 2-D tensor is
  /// for PyTorch's optimizers, whatever its run-time shape.
  bool matrix = false;
  /// Whether a matrix is stored row by row.
  bool row_major = false;

  /// The shape of an Eigen dense object of type T.
  template <typename T>
  static TensorShape of(const T& x) {
    if constexpr (T::IsVectorAtCompileTime) {
      return {x.size(), 1, false, false};
    } else {
      return {x.rows(), x.cols(), true, bool(T::IsRowMajor)};
    }
  }
  friend bool operator==(const TensorShape& a, const TensorShape& b) noexcept {
    return a.rows == b.rows && a.cols == b.cols && a.matrix == b.matrix &&
           a.row_major == b.row_major;
  }
  friend bool operator!=(const TensorShape& a, const TensorShape& b) noexcept { return !(a == b); }
};

template <typename S>
class ParamGroups;

namespace detail {

/// The feed that drives the element loop of the next update made on this
/// thread (see ElementFeed), or null; the update takes it and leaves null.
/// Set by MPI's Sharded steps and by ParamGroups, which splits a tensor's
/// update between threads; whoever sets it clears it if no update ran.
inline thread_local ElementFeed* next_feed = nullptr;

/// True when the elements of x lie in one gap-free block of memory, so that
/// x can be treated as a flat vector in its storage order.
template <typename Derived>
bool is_contiguous(const Derived& x) {
  return x.size() <= 1 ||
         (x.innerStride() == 1 && (x.outerSize() <= 1 || x.outerStride() == x.innerSize()));
}

template <typename Derived>
std::true_type derives_from_dense(const Eigen::DenseBase<Derived>*);
std::false_type derives_from_dense(...);

/// True for Eigen dense objects and expressions (Matrix, Array, Map, Block, …).
template <typename T>
constexpr bool is_dense = decltype(derives_from_dense(std::declval<T*>()))::value;

template <typename Derived>
constexpr bool has_direct_access() {
  return (int(Derived::Flags) & Eigen::DirectAccessBit) != 0;
}

template <typename Params, typename Scalar>
struct CheckedParams {
  using P = std::remove_reference_t<Params>;
  using type = std::remove_cv_t<P>;
  static_assert(is_dense<type>, "descent::Optimizer::step: params must be an Eigen dense object");
  static_assert(std::is_same<typename type::Scalar, Scalar>::value,
                "descent::Optimizer::step: params must hold the optimizer's Scalar");
  static_assert(has_direct_access<type>(),
                "descent::Optimizer::step: params must expose its storage (a Matrix, Array, "
                "Map or contiguous Block), not an expression");
  static_assert(!std::is_const<P>::value && (int(type::Flags) & Eigen::LvalueBit) != 0,
                "descent::Optimizer::step: params must be writable");
};

/// The plain type of a step's params, once it is known to be writable
/// contiguous storage of Scalar.
template <typename Params, typename Scalar>
using checked_params = typename CheckedParams<Params, Scalar>::type;

}  // namespace detail

/// \brief Common base of the optimizers: an in-place update of a flat
/// parameter vector from its gradient.
///
/// \tparam Scalar_ float or double.
///
/// State (moment estimates, accumulators) is allocated by the first step, sized
/// to its parameters, and reused: later steps allocate nothing. The number of
/// parameters is then fixed until reset().
///
/// Each optimizer class X adds a nested aggregate `X::Options` (its
/// hyperparameters, each field with its default and valid range), a
/// constructor `explicit X(Options = {})` that checks them, and
/// `options()`, which returns them with lr as currently set. Use an
/// `Optimizer<Scalar>&` (or make_optimizer()) to choose the algorithm at run
/// time.
template <typename Scalar_>
class Optimizer {
  static_assert(std::is_same<Scalar_, float>::value || std::is_same<Scalar_, double>::value,
                "descent::Optimizer: Scalar must be float or double");

 public:
  /// The element type of parameters, gradients and state: float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;

  virtual ~Optimizer() = default;

  /// \brief One update of params from grad, in place.
  ///
  /// \param params any writable Eigen dense object whose elements are stored
  ///   contiguously (VectorX, ArrayX, MatrixX, Map over user memory, a
  ///   segment or a block of whole columns); treated as a flat vector in its
  ///   storage order. Temporaries such as x.segment(i, n) are accepted.
  /// \param grad the gradient at params, of the same number of elements. A
  ///   contiguous object is read in place; any other expression (a product,
  ///   a strided view) is evaluated into a temporary first, which allocates.
  ///   grad may share memory with params.
  /// \throws std::invalid_argument if the sizes differ, if params is not
  ///   contiguous, or if the size differs from the one the state was built
  ///   for.
  /// \throws std::domain_error if grad holds NaN or ±inf and the optimizer's
  ///   `nonfinite` option is NonFinite::Throw.
  /// \throws std::system_error if worker threads (set_threads) cannot be
  ///   started.
  /// \throws std::overflow_error if iterations() is already 2^63 − 1.
  ///
  /// Whatever it throws, params and state are untouched. The step uses the
  /// lr() in force when it is called. A step on empty vectors does nothing.
  template <typename Params, typename Grad>
  void step(Params&& params, const Eigen::DenseBase<Grad>& grad);

  /// The learning rate the next step will use.
  Scalar lr() const noexcept { return lr_; }

  /// \throws std::invalid_argument unless lr is finite and >= 0.
  void set_lr(Scalar lr) {
    detail::check_nonnegative(name(), "lr", lr);
    lr_ = lr;
  }

  /// \brief The name of the option that momentum() reads and set_momentum()
  /// sets: "momentum" (SGD, RMSprop), "beta" (Momentum, Nesterov) or "beta1"
  /// (Adam and the Adam-like: AdamW, Adamax, NAdam, RAdam, Lion, AdaBelief);
  /// empty for an optimizer without one (GradientDescent, AdaGrad, Adadelta,
  /// Rprop, ASGD). PyTorch's schedulers that cycle momentum drive the same
  /// option: `momentum` where the optimizer has it, else `betas[0]`.
  std::string_view momentum_option() const noexcept {
    Scalar unused{};
    for (const std::string_view option : {"momentum", "beta1", "beta"}) {
      if (read_option(option, unused)) return option;
    }
    return {};
  }

  /// Whether momentum() and set_momentum() apply: momentum_option() is not
  /// empty.
  bool has_momentum() const noexcept { return !momentum_option().empty(); }

  /// The momentum or β₁ the next step will use (see momentum_option()).
  /// \throws std::invalid_argument if the optimizer has none.
  Scalar momentum() const { return option_value(required_momentum("momentum")); }

  /// \brief Sets the momentum or β₁ of the next steps, checked as the
  /// constructor checks that option (`descent::Adam: beta1 must be in [0,
  /// 1), got 1.5`). Checkpoints record it with the other options.
  /// \param value the new momentum or β₁.
  /// \throws std::invalid_argument if the optimizer has none, if value is
  ///   out of range, or if after the first step it would change which state
  ///   the optimizer keeps (SGD's and RMSprop's momentum 0, which keeps no
  ///   velocity, from or to a positive one: set it before the first step,
  ///   or reset() first). The optimizer is then unchanged.
  void set_momentum(Scalar value) { write_option(required_momentum("set_momentum"), value); }

  /// The weight decay λ of the next steps.
  /// \throws std::invalid_argument if the optimizer has none.
  Scalar weight_decay() const { return option_value(required_option("weight_decay")); }

  /// \brief Sets the weight decay λ of the next steps, checked as the
  /// constructor checks it; checkpoints record it with the other options.
  /// \param value the new λ.
  /// \throws std::invalid_argument if the optimizer has no weight decay or
  ///   value is out of range; the optimizer is then unchanged.
  void set_weight_decay(Scalar value) { write_option(required_option("weight_decay"), value); }

  /// Steps taken since construction or the last reset().
  std::int64_t iterations() const noexcept { return iterations_; }

  /// Steps skipped for a non-finite gradient (option nonfinite = Skip);
  /// saturates at 2^63 − 1.
  std::int64_t skipped_steps() const noexcept { return skipped_; }

  /// \brief Lets a step use n threads: the calling one and n − 1 workers
  /// that this optimizer starts on the first step that needs them.
  ///
  /// A step over at least 65 536 elements is
  /// split into n contiguous chunks; smaller steps stay on the calling
  /// thread. Every element's update is the same as with one thread, so the
  /// result is bitwise the same. Between steps the workers spin
  /// briefly, then sleep. Copies of the optimizer start their own
  /// workers. Default 1.
  /// \throws std::invalid_argument if n < 1.
  void set_threads(int n) {
    detail::check_at_least(name(), "threads", n, 1);
    threads_ = n;
  }

  /// The thread count set by set_threads().
  int threads() const noexcept { return threads_; }

  /// Number of parameters the state is built for, or -1 before the first
  /// step.
  Index state_size() const noexcept { return state_size_; }

  /// Where the parameters this optimizer steps start in a larger vector of
  /// which it steps a piece (0 unless set). Stochastic rounding of bfloat16
  /// state draws the random bits of element i + offset, so that pieces
  /// stepped apart round as the whole would: descent::mpi::Sharded sets it
  /// to its shard's start, ParamGroups to each tensor's start in the
  /// concatenation of its tensors. Not part of a checkpoint.
  void set_element_offset(Index offset) {
    detail::check_at_least(name(), "element offset", offset, Index(0));
    element_offset_ = offset;
  }
  /// The offset set by set_element_offset().
  Index element_offset() const noexcept { return element_offset_; }

  /// Forgets all state and the step count; the next step may use a new
  /// number of parameters. lr() is kept.
  void reset() noexcept {
    release_state();
    state_size_ = -1;
    iterations_ = 0;
    skipped_ = 0;
  }

  /// \brief Writes the complete state: kind, scalar type, options, step
  /// counts, lr and state arrays, in the format of checkpoint.hpp, and
  /// flushes the stream.
  /// \throws CheckpointError if writing or flushing fails (a full device).
  void save(std::ostream& out) const {
    detail::Writer w(detail::ObjectKind::Optimizer, name(), int(sizeof(Scalar)));
    w.i64(iterations_);
    w.i64(skipped_);
    w.f64(double(lr_));
    w.i64(state_size_);
    write_checkpoint(w);
    w.finish(out, who("save"));
  }

  /// \brief Reads back what save() wrote, so that the next step continues
  /// the saved run bit for bit.
  ///
  /// Reads exactly the checkpoint's bytes and leaves `in` just past them, so
  /// an optimizer and its scheduler saved one after another into one stream
  /// load back in order. Besides its frame and checksum, the contents are
  /// checked: options in range, step counts the next step can still count,
  /// a state size of 1 to PTRDIFF_MAX / sizeof(Scalar) elements (or none,
  /// before the first step), arrays of that size, and sums of squares
  /// (second moments, accumulators) neither negative nor NaN.
  /// \throws CheckpointError if the checkpoint is of another kind or scalar
  ///   type or format version, truncated, corrupt, invalid, or holds state
  ///   of a size other than the one this optimizer's state is built for
  ///   (reset() first to load another size), or if the stream fails; the
  ///   optimizer is then unchanged.
  void load(std::istream& in) {
    detail::Reader r(in, who("load"), detail::ObjectKind::Optimizer, name(), int(sizeof(Scalar)));
    const std::int64_t iterations = r.i64("iterations");
    const std::int64_t skipped = r.i64("skipped steps");
    const double lr = r.f64("lr");
    const std::int64_t size = r.i64("state size");
    if (iterations < 0 || iterations == kMaxCount) {
      r.fail("iterations " + std::to_string(iterations) + " is not in [0, 2^63 − 1)");
    }
    if (skipped < 0) r.fail("skipped steps " + std::to_string(skipped) + " is negative");
    if (!(lr >= 0) || !std::isfinite(static_cast<Scalar>(lr))) {
      r.fail("lr " + detail::to_text(lr) + " is not finite and >= 0");
    }
    if (size == 0 || size < -1 || size > kMaxStateSize) {
      r.fail("state size " + std::to_string(size) + " is not −1 (none) or in [1, " +
             std::to_string(kMaxStateSize) + "]");
    }
    if (iterations > 0 && size < 0) {
      r.fail("iterations " + std::to_string(iterations) + " with no state: a step builds it");
    }
    if (state_size_ >= 0 && size != state_size_) {
      r.fail("the checkpoint's state is for " + std::to_string(size) +
             " parameters, this optimizer's for " + std::to_string(state_size_) +
             " (reset() it first to load another size)");
    }
    auto commit = stage_checkpoint(r, size);
    r.finish();
    commit();
    iterations_ = iterations;
    skipped_ = skipped;
    lr_ = static_cast<Scalar>(lr);
    state_size_ = size;
  }

  /// \brief save() to a file: written to a temporary file of a unique name
  /// in path's folder, flushed to disk and renamed over path, so a crash or
  /// several processes saving to path at once never leave a torn checkpoint
  /// there. The replaced file's permissions are kept.
  /// \throws CheckpointError if the file cannot be written, or path is not
  ///   a regular file.
  void save_file(const std::string& path) const {
    detail::save_file(path, who("save_file"), [this](std::ostream& out) { save(out); });
  }

  /// load() from a file, which the checkpoint must fill exactly.
  /// \throws CheckpointError if it cannot be opened or read or is not a
  ///   regular file (a directory, a FIFO, a device); the optimizer is then
  ///   unchanged.
  void load_file(const std::string& path) {
    detail::load_file(path, who("load_file"), [this](std::istream& in) { load(in); });
  }

  /// The class name, e.g. "Adam".
  virtual std::string_view name() const noexcept = 0;

 protected:
  /// For derived classes, which check lr first.
  explicit Optimizer(Scalar lr) : lr_(lr) {}
  /// Copies lr, step counts, thread count and state; the copy starts its
  /// own worker threads when it needs them.
  Optimizer(const Optimizer&) = default;
  /// As the copy constructor.
  Optimizer& operator=(const Optimizer&) = default;
  /// Moves lr, step counts, state and the worker threads.
  Optimizer(Optimizer&&) noexcept = default;
  /// As the move constructor.
  Optimizer& operator=(Optimizer&&) noexcept = default;

  /// A derived class's Options with lr replaced by the one in force.
  template <typename Options>
  Options with_current_lr(Options options) const {
    options.lr = lr_;
    return options;
  }

  /// Runs a kernel body (see detail/kernel.hpp) over n elements, in packets,
  /// on threads() threads.
  template <typename Body>
  void for_each_element(Index n, const Body& body) const {
    detail::ThreadPool* pool = parallel(n) ? pool_.get() : nullptr;
    if (detail::next_feed == nullptr) {
      detail::for_each_element<Scalar>(n, pool, body);
      return;
    }
    struct Context {
      detail::ThreadPool* pool;
      const Body* body;
    };
    const Context context{pool, &body};
    std::exchange(detail::next_feed, nullptr)
        ->feed(
            n,
            [](const void* c, Index lo, Index hi) {
              const auto* pair = static_cast<const Context*>(c);
              detail::for_each_element<Scalar>(lo, hi, pair->pool, *pair->body);
            },
            &context);
  }

  /// Reads the floating-point option named `option` into value; false if
  /// there is none. By default there is none.
  virtual bool read_option(std::string_view option, Scalar& value) const noexcept {
    static_cast<void>(option);
    static_cast<void>(value);
    return false;
  }

  /// Sets the floating-point option named `option`, checked as the
  /// constructor checks it. \throws std::invalid_argument if there is no
  /// such option or value is refused; the optimizer is then unchanged.
  virtual void write_option(std::string_view option, Scalar value) {
    static_cast<void>(value);
    throw std::invalid_argument("descent::" + std::string(name()) + ": has no option " +
                                std::string(option));
  }

  /// The derived class's `nonfinite` option.
  virtual NonFinite nonfinite_policy() const noexcept = 0;

  /// Writes the options and state arrays of a checkpoint.
  virtual void write_checkpoint(detail::Writer& w) const = 0;

  /// Reads and checks the options and state arrays of a checkpoint for
  /// state_size parameters without changing anything; returns what makes
  /// them current, which cannot fail.
  virtual std::function<void()> stage_checkpoint(detail::Reader& r, Index state_size) = 0;

  /// Allocates and initialises the state for n parameters.
  virtual void allocate_state(Index n) = 0;

  /// Frees the state.
  virtual void release_state() noexcept = 0;

  /// The shape of the parameters of the dense step in progress, for
  /// update() and allocate_state().
  const TensorShape& shape() const noexcept { return shape_; }

  /// Why a step on parameters of shape s cannot use the state built so far,
  /// or empty if it can. The step then throws std::invalid_argument with
  /// this text and changes nothing. By default the state depends only on
  /// the number of parameters, so every shape is accepted.
  virtual std::string shape_error(const TensorShape& s) const {
    static_cast<void>(s);
    return {};
  }

  /// \brief Whether update() is one pass of for_each_element() in which an
  /// element's new value and state depend only on its own parameter,
  /// gradient and state and on the step's scalars.
  ///
  /// The update of any range of the elements can then be made apart:
  /// ParamGroups splits a tensor between threads, and MPI's Sharded steps
  /// feed a shard piece by piece. Optimizers that reduce over the tensor
  /// (a norm, a matrix's rows and columns) return false. Default true.
  virtual bool elementwise() const noexcept { return true; }

  /// Applies step number t (1 for the first) to n > 0 parameters, using
  /// lr(). params and grad do not overlap.
  virtual void update(Scalar* params, const Scalar* grad, Index n, std::int64_t t) noexcept = 0;

  /// \brief What every step does around its update, for a step that a
  /// derived class applies itself (a sparse gradient): checks the size
  /// against the state, the non-finite policy and the step count; then
  /// builds the state, applies the step and counts it. Nothing changes if it
  /// throws or skips.
  /// \param n the number of parameters, > 0.
  /// \param values the gradient's values, which the non-finite policy reads.
  /// \param count how many values there are.
  /// \param threaded whether apply runs on threads() threads, whose workers
  ///   are then started first.
  /// \param where where(k) names values[k] in a message ("grad[3]").
  /// \param apply apply(t) updates the parameters and state for step t (1
  ///   for the first); it must not throw.
  template <typename Where, typename Apply>
  void counted_step(Index n, const Scalar* values, Index count, bool threaded, const Where& where,
                    const Apply& apply);

 private:
  void step_raw(Scalar* params, const Scalar* grad, Index n);
  bool parallel(Index n) const noexcept { return threads_ > 1 && n >= detail::kParallelThreshold; }
  std::string who(const char* method) const {
    return "descent::" + std::string(name()) + "::" + method;
  }
  std::string_view required_momentum(const char* method) const {
    const std::string_view option = momentum_option();
    if (option.empty()) {
      throw std::invalid_argument(who(method) + ": " + std::string(name()) +
                                  " has no momentum or beta1 option");
    }
    return option;
  }
  std::string_view required_option(std::string_view option) const {
    Scalar unused{};
    if (!read_option(option, unused)) {
      throw std::invalid_argument("descent::" + std::string(name()) + ": has no option " +
                                  std::string(option));
    }
    return option;
  }
  Scalar option_value(std::string_view option) const {
    Scalar value{};
    read_option(option, value);
    return value;
  }
  [[noreturn]] void throw_step_error(const std::string& what) const {
    throw std::invalid_argument(who("step") + ": " + what);
  }

  static constexpr std::int64_t kMaxCount = std::numeric_limits<std::int64_t>::max();
  // No array of Scalar can be larger (PTRDIFF_MAX bytes).
  static constexpr std::int64_t kMaxStateSize =
      std::numeric_limits<std::ptrdiff_t>::max() / std::int64_t(sizeof(Scalar));

  Scalar lr_;
  std::int64_t iterations_ = 0;
  std::int64_t skipped_ = 0;
  Index state_size_ = -1;
  Index element_offset_ = 0;
  TensorShape shape_;
  int threads_ = 1;
  detail::PoolHandle pool_;

  template <typename>
  friend class ParamGroups;
};

template <typename Scalar_>
template <typename Params, typename Grad>
void Optimizer<Scalar_>::step(Params&& params, const Eigen::DenseBase<Grad>& grad) {
  using PD = detail::checked_params<Params, Scalar>;
  static_assert(std::is_same<typename Grad::Scalar, Scalar>::value,
                "descent::Optimizer::step: grad must hold the optimizer's Scalar");

  const Grad& g = grad.derived();
  if (params.size() != g.size()) {
    std::ostringstream os;
    os << "params has " << params.size() << " elements but grad has " << g.size();
    throw_step_error(os.str());
  }
  if (!detail::is_contiguous(params)) {
    throw_step_error("params must be stored contiguously (inner stride 1, no gaps)");
  }
  if (params.rows() > 1 && params.cols() > 1 && g.rows() > 1 && g.cols() > 1 &&
      bool(PD::IsRowMajor) != bool(Grad::IsRowMajor)) {
    throw_step_error(
        "params and grad are matrices of different storage orders, so their flat element "
        "orders differ");
  }

  Scalar* x = params.data();
  const Index n = params.size();
  shape_ = TensorShape::of(params);
  if constexpr (detail::has_direct_access<Grad>()) {
    const Scalar* gp = g.data();
    const bool overlaps =
        n > 0 && std::less<const Scalar*>{}(gp, x + n) && std::less<const Scalar*>{}(x, gp + n);
    if (detail::is_contiguous(g) && !overlaps) {
      step_raw(x, gp, n);
      return;
    }
  }
  // Strided views, expressions and grads that overlap params are read from a
  // copy in grad's own storage order.
  const typename Grad::PlainObject plain = g;
  step_raw(x, plain.data(), n);
}

template <typename Scalar_>
void Optimizer<Scalar_>::step_raw(Scalar* params, const Scalar* grad, Index n) {
  if (n == 0) return;
  counted_step(
      n, grad, n, parallel(n), [](Index k) { return "grad[" + std::to_string(k) + "]"; },
      [&](std::int64_t t) { update(params, grad, n, t); });
}

template <typename Scalar_>
template <typename Where, typename Apply>
void Optimizer<Scalar_>::counted_step(Index n, const Scalar* values, Index count, bool threaded,
                                      const Where& where, const Apply& apply) {
  if (state_size_ >= 0 && n != state_size_) {
    std::ostringstream os;
    os << "params has " << n << " elements but the state was built for " << state_size_
       << " (call reset() to change the size)";
    throw_step_error(os.str());
  }
  if (state_size_ >= 0) {
    const std::string error = shape_error(shape_);
    if (!error.empty()) throw_step_error(error);
  }
  const NonFinite policy = nonfinite_policy();
  if (policy != NonFinite::Propagate) {
    const Index bad = detail::first_nonfinite(values, count);
    if (bad >= 0) {
      if (policy == NonFinite::Skip) {
        if (skipped_ < kMaxCount) ++skipped_;  // saturates
        return;
      }
      throw std::domain_error(who("step") + ": " + where(bad) + " is " +
                              detail::to_text(values[bad]) + "; params and state are unchanged");
    }
  }
  if (iterations_ == kMaxCount) {
    throw std::overflow_error(who("step") + ": iterations() is 2^63 − 1, the most it can count " +
                              "(reset() to start again); params and state are unchanged");
  }
  if (threaded) pool_.reserve(threads_ - 1);
  if (state_size_ < 0) {
    allocate_state(n);
    state_size_ = n;
  }
  apply(iterations_ + 1);
  ++iterations_;
}

}  // namespace descent
