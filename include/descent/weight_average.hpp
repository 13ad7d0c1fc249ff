#pragma once
/// \file
/// descent::WeightAverage: an exponential moving average (EMA) or the equal
/// running mean of stochastic weight averaging (SWA) of the parameters, kept
/// beside any optimizer and updated in one fused pass.

#include "checkpoint.hpp"
#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/serialize.hpp"
#include "detail/thread_pool.hpp"
#include "optimizer.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <Eigen/Core>

namespace descent {

/// \brief An average of the parameters over the steps of a run: Polyak's
/// exponential moving average or Izmailov et al.'s SWA running mean.
///
/// Inputs: kind, decay (β), overwrite_frequency (f). State: the average
/// θ̄ and the number n of updates it has taken in. Per update(θ), usually
/// right after an optimizer step:
///
///     n = 0:     θ̄ ← θ                          (both kinds: a copy)
///     Ema:       θ̄ ← β·θ̄ + (1 − β)·θ
///     Swa:       θ̄ ← θ̄ + (θ − θ̄) / (n + 1)
///     n ← n + 1
///     f > 0 and n a multiple of f:  θ ← θ̄
///
/// Ema equals torch.optim.swa_utils.AveragedModel with avg_fn
/// `lambda avg, p, n: decay * avg + (1 - decay) * p` (1 − β formed in double,
/// then rounded to Scalar, as PyTorch rounds a Python scalar) and, updated
/// after every step, Keras's `use_ema=True, ema_momentum=β,
/// ema_overwrite_frequency=f` (in double; a float32 Keras rounds β first and
/// forms 1 − β in float32). Swa equals AveragedModel's default avg_fn.
///
/// To evaluate with the average, exchange it with the parameters
/// (swap(), or the scoped guard swapped_in()) and exchange them back: the
/// raw weights are never overwritten, they wait in this object meanwhile.
/// While they do, update(), save(), load() and reset() refuse. Averaging does not
/// look at gradients, so the optimizers' non-finite policy does not apply:
/// a NaN parameter makes its average NaN.
///
/// \tparam Scalar_ float or double.
template <typename Scalar_>
class WeightAverage {
  static_assert(std::is_same<Scalar_, float>::value || std::is_same<Scalar_, double>::value,
                "descent::WeightAverage: Scalar must be float or double");

 public:
  /// The element type of the parameters: float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;
  /// The average's storage.
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  /// Which average.
  enum class Kind {
    Ema,  ///< Exponential moving average with decay β.
    Swa   ///< Equal weights: the mean of every update so far.
  };

  /// \brief The kind of average and its parameters; the constructor checks
  /// them. The defaults are Keras's use_ema.
  struct Options {
    /// Ema or Swa. Default Ema.
    Kind kind = Kind::Ema;
    /// β, the weight of the old average in an Ema update (Keras's
    /// ema_momentum); in [0, 1]. Ignored by Swa. Default 0.99.
    double decay = 0.99;
    /// Every this many updates, update() also copies the average into the
    /// parameters (Keras's ema_overwrite_frequency); 0: never. >= 0.
    /// Default 0.
    long overwrite_frequency = 0;

    /// An exponential moving average with decay β.
    static Options ema(double decay = 0.99) {
      Options o;
      o.decay = decay;
      return o;
    }
    /// The SWA running mean.
    static Options swa() {
      Options o;
      o.kind = Kind::Swa;
      return o;
    }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit WeightAverage(Options options = {}) : options_(checked(options)) {}

  /// Copies the average, count and thread count; the copy starts its own
  /// worker threads. A copy of one whose average is swapped out holds the
  /// raw weights as well.
  WeightAverage(const WeightAverage&) = default;
  /// As the copy constructor.
  WeightAverage& operator=(const WeightAverage&) = default;
  /// Moves the average, count and worker threads.
  WeightAverage(WeightAverage&&) noexcept = default;
  /// As the move constructor.
  WeightAverage& operator=(WeightAverage&&) noexcept = default;
  ~WeightAverage() = default;

  /// The class name, as checkpoints record it.
  static constexpr std::string_view kName = "WeightAverage";
  /// The class name, kName.
  std::string_view name() const noexcept { return kName; }

  /// The options.
  const Options& options() const noexcept { return options_; }

  /// \brief Takes params into the average, in one pass over params and the
  /// average (and, on an overwrite update, writes params too).
  ///
  /// \param params the parameters, any writable contiguous Eigen object as
  ///   Optimizer::step() takes; its size is fixed by the first update until
  ///   reset().
  /// \throws std::invalid_argument if params is not contiguous or its size
  ///   differs from the average's; std::logic_error while the average is
  ///   swapped out; std::overflow_error if count() is 2^63 − 1. Then nothing
  ///   has changed.
  template <typename Params>
  void update(Params&& params) {
    using P = std::remove_reference_t<Params>;
    static_assert(
        !std::is_const<P>::value && (int(std::remove_cv_t<P>::Flags) & Eigen::LvalueBit) != 0,
        "descent::WeightAverage::update: params must be writable (an overwrite "
        "update writes the average into it)");
    const Index n = checked_params(params, "update");
    if (swapped_) {
      throw std::logic_error(who("update") +
                             ": the average is swapped into the parameters; swap it back first");
    }
    if (count_ == kMaxCount) {
      throw std::overflow_error(who("update") + ": count() is 2^63 − 1, the most it can count");
    }
    if (n == 0) return;
    Scalar* x = params.data();
    if (count_ == 0) {
      average_ = Eigen::Map<const Vector>(x, n);
    } else if (options_.kind == Kind::Ema) {
      const Scalar keep = static_cast<Scalar>(options_.decay);
      const Scalar take = static_cast<Scalar>(1.0 - options_.decay);
      run(n, [a = average_.data(), x, keep, take](auto lanes, Index i) {
        using V = decltype(lanes);
        (V(keep) * V::load(a + i) + V(take) * V::load(x + i)).store(a + i);
      });
    } else {
      // PyTorch divides by n + 1 converted to the parameters' type.
      const Scalar k = static_cast<Scalar>(count_ + 1);
      run(n, [a = average_.data(), x, k](auto lanes, Index i) {
        using V = decltype(lanes);
        const V ai = V::load(a + i);
        (ai + (V::load(x + i) - ai) / V(k)).store(a + i);
      });
    }
    ++count_;
    if (options_.overwrite_frequency > 0 && count_ % options_.overwrite_frequency == 0) {
      Eigen::Map<Vector>(x, n) = average_;
    }
  }

  /// Updates taken in (PyTorch's n_averaged).
  std::int64_t count() const noexcept { return count_; }

  /// Number of parameters, or −1 before the first update.
  Index size() const noexcept { return count_ == 0 ? -1 : average_.size(); }

  /// The average; empty before the first update. While swapped() it holds
  /// the raw weights instead.
  const Vector& average() const noexcept { return average_; }

  /// Whether the average is in the parameters and the raw weights here.
  bool swapped() const noexcept { return swapped_; }

  /// \brief Exchanges the average and params, element by element in one
  /// pass: call it once to evaluate with the average, and again to return
  /// to the raw weights. Nothing is copied over, so nothing is lost.
  /// \throws std::invalid_argument if params is not contiguous or not of
  ///   the average's size; std::logic_error before the first update.
  template <typename Params>
  void swap(Params&& params) {
    checked_params(params, "swap");
    if (count_ == 0) {
      throw std::logic_error(who("swap") + ": there is no average before the first update()");
    }
    exchange(params.data());
  }

  /// \brief Holds the average in the parameters for its lifetime: made by
  /// swapped_in(), it swaps back when destroyed, or at restore().
  ///
  /// The parameters' storage must stay where it is (not be resized or
  /// freed) while the guard lives.
  class Guard {
   public:
    /// Swaps back, unless restore() did already.
    ~Guard() { restore(); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    /// Takes over other's duty to swap back.
    Guard(Guard&& other) noexcept : owner_(other.owner_), params_(other.params_) {
      other.owner_ = nullptr;
    }
    Guard& operator=(Guard&&) = delete;

    /// Swaps the raw weights back into the parameters now.
    void restore() noexcept {
      if (owner_ != nullptr) owner_->exchange(params_);
      owner_ = nullptr;
    }

   private:
    friend class WeightAverage;
    Guard(WeightAverage* owner, Scalar* params) : owner_(owner), params_(params) {}
    WeightAverage* owner_;
    Scalar* params_;
  };

  /// \brief swap(params) now, and again when the returned Guard goes out
  /// of scope: `{ auto g = ema.swapped_in(x); evaluate(x); }`.
  /// \throws as swap(), and std::logic_error if already swapped.
  template <typename Params>
  [[nodiscard]] Guard swapped_in(Params&& params) {
    if (swapped_) throw std::logic_error(who("swapped_in") + ": already swapped");
    swap(params);
    return Guard(this, params.data());
  }

  /// \brief Copies the average into params, overwriting the raw weights
  /// (Keras's finalize_variable_values()).
  /// \throws as swap(), and std::logic_error while swapped.
  template <typename Params>
  void copy_to(Params&& params) const {
    const Index n = checked_params(params, "copy_to");
    if (count_ == 0) {
      throw std::logic_error(who("copy_to") + ": there is no average before the first update()");
    }
    if (swapped_) throw std::logic_error(who("copy_to") + ": the average is swapped out");
    Eigen::Map<Vector>(params.data(), n) = average_;
  }

  /// \brief Forgets the average and the count; the next update may take
  /// another size. \throws std::logic_error while swapped (the raw weights
  /// are here).
  void reset() {
    if (swapped_) throw std::logic_error(who("reset") + ": the raw weights are swapped out");
    average_.resize(0);
    count_ = 0;
  }

  /// Lets update() and swap() use n threads above 65 536 elements, as
  /// Optimizer::set_threads(); the result is bitwise the same.
  /// \throws std::invalid_argument if n < 1.
  void set_threads(int n) {
    detail::check_at_least(kName, "threads", n, 1);
    threads_ = n;
  }

  /// The thread count set by set_threads().
  int threads() const noexcept { return threads_; }

  /// \brief Writes count, options and average in the format of
  /// checkpoint.hpp (object 3, kind "WeightAverage").
  /// \throws CheckpointError if writing fails, or while the average is
  ///   swapped out (it is then in the parameters, not here).
  void save(std::ostream& out) const {
    if (swapped_) {
      throw CheckpointError(who("save") +
                            ": the average is swapped into the parameters; swap it back first");
    }
    detail::Writer w(detail::ObjectKind::Average, kName, int(sizeof(Scalar)));
    w.i64(count_);
    w.i64(count_ == 0 ? -1 : std::int64_t(average_.size()));
    w.u32(static_cast<std::uint32_t>(options_.kind));
    w.f64(options_.decay);
    w.i64(options_.overwrite_frequency);
    w.array(average_.data(), average_.size());
    w.finish(out, who("save"));
  }

  /// \brief Reads back what save() wrote, so that the next update continues
  /// the saved run bit for bit.
  /// \throws CheckpointError if the checkpoint is of another kind or scalar
  ///   type, corrupt or invalid, holds an average of another size than this
  ///   one's (reset() first), or if this average is swapped out (its raw
  ///   weights would be lost); the object is then unchanged.
  void load(std::istream& in) {
    detail::Reader r(in, who("load"), detail::ObjectKind::Average, kName, int(sizeof(Scalar)));
    const std::int64_t count = r.i64("count");
    const std::int64_t size = r.i64("size");
    const std::uint32_t kind = r.u32("kind");
    Options options;
    options.decay = r.f64("decay");
    const std::int64_t frequency = r.i64("overwrite_frequency");
    if (swapped_) r.fail("this average is swapped out; swap it back before loading");
    if (count < 0 || count == kMaxCount) {
      r.fail("count " + std::to_string(count) + " is not in [0, 2^63 − 1)");
    }
    if (count == 0 ? size != -1 : (size < 1 || size > kMaxSize)) {
      r.fail("size " + std::to_string(size) + " with count " + std::to_string(count) +
             ": the size is −1 (none) before the first update, then in [1, " +
             std::to_string(kMaxSize) + "]");
    }
    if (count_ > 0 && count > 0 && size != average_.size()) {
      r.fail("the checkpoint's average is of " + std::to_string(size) +
             " parameters, this one of " + std::to_string(average_.size()) +
             " (reset() it first to load another size)");
    }
    if (kind > 1) r.fail("kind " + std::to_string(kind) + " is not Ema (0) or Swa (1)");
    options.kind = static_cast<Kind>(kind);
    if (frequency < 0 || frequency > std::numeric_limits<long>::max()) {
      r.fail("overwrite_frequency " + std::to_string(frequency) + " is not >= 0");
    }
    options.overwrite_frequency = static_cast<long>(frequency);
    r.validate([&] { checked(options); }, "invalid options: ");
    Vector staged = r.template array<Scalar, Vector>(count == 0 ? 0 : size, "average");
    r.finish();
    options_ = options;
    count_ = count;
    average_.swap(staged);
  }

  /// save() to a file through a temporary file and a rename, as
  /// Optimizer::save_file().
  void save_file(const std::string& path) const {
    detail::save_file(path, who("save_file"), [this](std::ostream& out) { save(out); });
  }

  /// load() from a file, which the checkpoint must fill exactly.
  /// \throws CheckpointError as load(), or if the file cannot be read.
  void load_file(const std::string& path) {
    detail::load_file(path, who("load_file"), [this](std::istream& in) { load(in); });
  }

 private:
  static constexpr std::int64_t kMaxCount = std::numeric_limits<std::int64_t>::max();
  static constexpr std::int64_t kMaxSize =
      std::numeric_limits<std::ptrdiff_t>::max() / std::int64_t(sizeof(Scalar));

  static const Options& checked(const Options& o) {
    detail::check_enum(kName, "kind", o.kind, {"Ema", "Swa"});
    detail::check_closed_unit_interval(kName, "decay", o.decay);
    detail::check_at_least(kName, "overwrite_frequency", o.overwrite_frequency, 0);
    return o;
  }

  std::string who(const char* method) const {
    return "descent::WeightAverage::" + std::string(method);
  }

  /// Checks that params is a contiguous dense object of Scalar, of the
  /// average's size once there is one; returns its size.
  template <typename Params>
  Index checked_params(const Params& params, const char* method) const {
    using P = std::remove_cv_t<std::remove_reference_t<Params>>;
    static_assert(detail::is_dense<P>,
                  "descent::WeightAverage: params must be an Eigen dense object");
    static_assert(std::is_same<typename P::Scalar, Scalar>::value,
                  "descent::WeightAverage: params must hold the average's Scalar");
    static_assert(detail::has_direct_access<P>(),
                  "descent::WeightAverage: params must expose its storage (a Matrix, Array, Map or "
                  "contiguous Block)");
    if (!detail::is_contiguous(params)) {
      throw std::invalid_argument(who(method) + ": params must be stored contiguously");
    }
    if (count_ > 0 && params.size() != average_.size()) {
      throw std::invalid_argument(who(method) + ": params has " + std::to_string(params.size()) +
                                  " elements but the average " + std::to_string(average_.size()) +
                                  " (call reset() to change the size)");
    }
    return params.size();
  }

  template <typename Body>
  void run(Index n, const Body& body) {
    const bool parallel = threads_ > 1 && n >= detail::kParallelThreshold;
    if (parallel) pool_.reserve(threads_ - 1);
    detail::for_each_element<Scalar>(n, parallel ? pool_.get() : nullptr, body);
  }

  /// Exchanges params and the average, in one pass; cannot fail once the
  /// pool exists (it is started by the update that made the average).
  void exchange(Scalar* x) noexcept {
    const Index n = average_.size();
    const bool parallel = threads_ > 1 && n >= detail::kParallelThreshold && pool_.get() &&
                          pool_.get()->workers() == threads_ - 1;
    detail::for_each_element<Scalar>(n, parallel ? pool_.get() : nullptr,
                                     [a = average_.data(), x](auto lanes, Index i) {
                                       using V = decltype(lanes);
                                       const V ai = V::load(a + i);
                                       V::load(x + i).store(a + i);
                                       ai.store(x + i);
                                     });
    swapped_ = !swapped_;
  }

  Options options_;
  Vector average_;
  std::int64_t count_ = 0;
  bool swapped_ = false;
  int threads_ = 1;
  detail::PoolHandle pool_;
};

}  // namespace descent
