#pragma once
/// \file
/// Schedule-Free SGD and AdamW (Defazio et al. 2024), with their train/eval
/// switch of the parameters.

#include "checkpoint.hpp"
#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/serialize.hpp"
#include "detail/thread_pool.hpp"
#include "nonfinite.hpp"
#include "optimizer.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <Eigen/Core>

namespace descent {

/// \brief Schedule-Free SGD and AdamW (Defazio et al., "The Road Less
/// Scheduled", 2024), as facebookresearch/schedule_free's SGDScheduleFree
/// and AdamWScheduleFree: no lr schedule, an average instead.
///
/// Inputs: lr (γ), beta1 (β₁, SGD's momentum), beta2 (β₂), eps (ε),
/// weight_decay (λ), warmup_steps (W), r, weight_lr_power (p). State: z (the
/// SGD/AdamW sequence, the parameters at the first step), v (AdamW's second
/// moment, 0), k = 0, lr_max = −1, weight_sum = 0. In train mode the
/// parameters hold y, the point where gradients are taken; per step(y, g):
///
///     γ_k = γ·min(1, (k+1)/W)                   (·√(1 − β₂^(k+1)) for AdamW)
///     lr_max ← max(γ_k, lr_max);  w = (k+1)^r·lr_max^p
///     weight_sum ← weight_sum + w;  c = w / weight_sum (0 if weight_sum = 0)
///     AdamW: v ← β₂·v + (1 − β₂)·g²;  d = g / (√v + ε) + λ·y
///     SGD:   d = g + λ·y
///     y ← lerp(y, z, c);  y ← y + γ_k·(β₁·(1 − c) − 1)·d;  z ← z − γ_k·d
///     k ← k + 1
///
/// which keeps y = (1 − β₁)·z + β₁·x for the averaged point x without
/// storing x. eval(params) turns y into x (lerp(y, z, 1 − 1/β₁)), train(params)
/// turns x back into y (lerp(x, z, 1 − β₁)); a step in eval mode is refused.
/// Evaluate and save in eval mode, as the reference asks. lerp(a, b, w) is
/// PyTorch's: a + w·(b − a) for |w| < 0.5, else b − (b − a)·(1 − w). Each
/// step is one fused pass; the scalars are formed in double and rounded once.
///
/// Not an Optimizer: between steps its parameters are y, not the point to
/// evaluate, and a step must be refused in eval mode, so it is not in
/// make_optimizer's registry, where generic code would evaluate, checkpoint
/// or schedule y unknowingly. It takes what Optimizer::step() takes, and has
/// lr(), threads, the non-finite policy and checkpoints as the optimizers.
template <typename Scalar_>
class ScheduleFree {
  static_assert(std::is_same<Scalar_, float>::value || std::is_same<Scalar_, double>::value,
                "descent::ScheduleFree: Scalar must be float or double");

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;
  /// Storage of the state.
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  /// The base method.
  enum class Method {
    SGD,   ///< SGDScheduleFree: d = g + λ·y.
    AdamW  ///< AdamWScheduleFree: d = g/(√v + ε) + λ·y, lr·√(1 − β₂^(k+1)).
  };

  /// \brief The hyperparameters; the constructor checks them. A
  /// default-constructed Options is AdamWScheduleFree's defaults.
  struct Options {
    /// SGD or AdamW. Default AdamW.
    Method method = Method::AdamW;
    /// γ; finite and >= 0. Default 0.0025 (AdamW; SGD's is 1).
    Scalar lr = Scalar(0.0025);
    /// β₁, the interpolation between z and the average (SGD's momentum); in
    /// (0, 1). Default 0.9.
    Scalar beta1 = Scalar(0.9);
    /// β₂ (AdamW); in [0, 1). Default 0.999.
    Scalar beta2 = Scalar(0.999);
    /// ε (AdamW), added to √v; finite and >= 0. Default 1e-8.
    Scalar eps = Scalar(1e-8);
    /// λ, an L2 term λ·y added to the direction; finite and >= 0. Default 0.
    Scalar weight_decay = Scalar(0);
    /// W, steps of linear warmup of the lr; >= 0. Default 0.
    long warmup_steps = 0;
    /// r, the power of k + 1 in the averaging weights; finite and >= 0.
    /// Default 0.
    double r = 0.0;
    /// p, the power of lr_max in the averaging weights; finite and >= 0.
    /// Default 2.
    double weight_lr_power = 2.0;
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;

    /// SGDScheduleFree's defaults: lr 1, momentum 0.9.
    static Options sgd() {
      Options o;
      o.method = Method::SGD;
      o.lr = Scalar(1);
      return o;
    }
    /// AdamWScheduleFree's defaults.
    static Options adamw() { return {}; }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit ScheduleFree(Options options = {}) : options_(checked(options)) {}

  /// The class name, as checkpoints record it.
  static constexpr std::string_view kName = "ScheduleFree";
  /// The class name, kName.
  std::string_view name() const noexcept { return kName; }

  /// The options, with lr as currently set.
  const Options& options() const noexcept { return options_; }

  /// γ, the lr before warmup and bias correction.
  Scalar lr() const noexcept { return options_.lr; }
  /// \throws std::invalid_argument unless lr is finite and >= 0.
  void set_lr(Scalar lr) {
    detail::check_nonnegative(kName, "lr", lr);
    options_.lr = lr;
  }

  /// \brief One step on y, the parameters in train mode.
  ///
  /// \throws std::logic_error in eval mode; std::invalid_argument as
  ///   Optimizer::step(); std::domain_error for a non-finite grad under
  ///   NonFinite::Throw. Then nothing has changed.
  template <typename Params, typename Grad>
  void step(Params&& params, const Eigen::DenseBase<Grad>& grad) {
    Scalar* y = checked_params(params, "step");
    const Index n = params.size();
    const Grad& g = grad.derived();
    if (g.size() != n) {
      throw std::invalid_argument(who("step") + ": params has " + std::to_string(n) +
                                  " elements but grad has " + std::to_string(g.size()));
    }
    if (!train_mode_) {
      throw std::logic_error(who("step") + ": in eval mode; call train(params) first");
    }
    if (n == 0) return;
    if constexpr (detail::has_direct_access<Grad>()) {
      if (detail::is_contiguous(g) && (g.data() + n <= y || y + n <= g.data())) {
        take(y, g.data(), n);
        return;
      }
    }
    const typename Grad::PlainObject plain = g;
    take(y, plain.data(), n);
  }

  /// \brief Eval mode: params (y) become x, the averaged point to evaluate
  /// and save. Does nothing in eval mode; before the first step only
  /// switches the mode.
  template <typename Params>
  void eval(Params&& params) {
    Scalar* p = checked_params(params, "eval");
    if (!train_mode_) return;
    if (z_.size() > 0) lerp_to_z(p, 1.0 - 1.0 / double(options_.beta1));
    train_mode_ = false;
  }

  /// \brief Train mode: params (x) become y again. Does nothing in train
  /// mode.
  template <typename Params>
  void train(Params&& params) {
    Scalar* p = checked_params(params, "train");
    if (train_mode_) return;
    if (z_.size() > 0) lerp_to_z(p, 1.0 - double(options_.beta1));
    train_mode_ = true;
  }

  /// Whether the parameters hold y (train) rather than x (eval).
  bool train_mode() const noexcept { return train_mode_; }

  /// Steps taken (the reference's k).
  std::int64_t iterations() const noexcept { return k_; }
  /// Steps skipped for a non-finite gradient (NonFinite::Skip).
  std::int64_t skipped_steps() const noexcept { return skipped_; }
  /// Number of parameters, or −1 before the first step.
  Index state_size() const noexcept { return z_.size() > 0 ? z_.size() : -1; }
  /// z, the base sequence; empty before the first step.
  const Vector& z() const noexcept { return z_; }

  /// Forgets the state and the counts (the mode is kept).
  void reset() noexcept {
    z_.resize(0);
    v_.resize(0);
    k_ = 0;
    skipped_ = 0;
    lr_max_ = -1.0;
    weight_sum_ = 0.0;
  }

  /// Lets a step use n threads above 65 536 elements, with the same bits.
  /// \throws std::invalid_argument if n < 1.
  void set_threads(int n) {
    detail::check_at_least(kName, "threads", n, 1);
    threads_ = n;
  }
  /// The thread count set by set_threads().
  int threads() const noexcept { return threads_; }

  /// \brief Writes an optimizer record of kind "ScheduleFree"
  /// (checkpoint.hpp): iterations, skipped steps, lr, state size, the
  /// options, the arrays z and v, then the state values lr_max,
  /// weight_sum and train_mode.
  /// \throws CheckpointError if writing fails.
  void save(std::ostream& out) const {
    detail::Writer w(detail::ObjectKind::Optimizer, kName, int(sizeof(Scalar)));
    w.i64(k_);
    w.i64(skipped_);
    w.f64(double(options_.lr));
    w.i64(state_size());
    const auto fields = option_fields(options_);
    w.u32(static_cast<std::uint32_t>(fields.size()));
    for (const auto& [field, value] : fields) {
      w.name(field);
      w.f64(value);
    }
    w.u32(2);
    w.array(z_.data(), z_.size());
    w.array(v_.data(), v_.size());
    w.u32(3);
    w.name("lr_max");
    w.f64(lr_max_);
    w.name("weight_sum");
    w.f64(weight_sum_);
    w.name("train_mode");
    w.f64(train_mode_ ? 1.0 : 0.0);
    w.finish(out, who("save"));
  }

  /// \brief Reads back what save() wrote, so that the next step continues
  /// the saved run bit for bit.
  /// \throws CheckpointError if the checkpoint is of another kind or scalar
  ///   type, corrupt or invalid, or for another state size than this one's
  ///   (reset() first); the object is then unchanged.
  void load(std::istream& in) {
    detail::Reader r(in, who("load"), detail::ObjectKind::Optimizer, kName, int(sizeof(Scalar)));
    const std::int64_t k = r.i64("iterations");
    const std::int64_t skipped = r.i64("skipped steps");
    const double lr = r.f64("lr");
    const std::int64_t size = r.i64("state size");
    constexpr std::int64_t kMax = std::numeric_limits<std::ptrdiff_t>::max() / sizeof(Scalar);
    if (k < 0 || k == kMaxCount)
      r.fail("iterations " + std::to_string(k) + " is not in [0, 2^63 − 1)");
    if (skipped < 0) r.fail("skipped steps " + std::to_string(skipped) + " is negative");
    if (size == 0 || size < -1 || size > kMax) {
      r.fail("state size " + std::to_string(size) + " is not −1 (none) or in [1, " +
             std::to_string(kMax) + "]");
    }
    if ((k > 0) != (size > 0)) r.fail("iterations and state size disagree");
    if (z_.size() > 0 && size > 0 && size != z_.size()) {
      r.fail("the checkpoint's state is for " + std::to_string(size) +
             " parameters, this one's for " + std::to_string(z_.size()) +
             " (reset() it first to load another size)");
    }
    std::map<std::string, double> stored;
    const std::uint32_t count = r.count("option count", 10);
    for (std::uint32_t i = 0; i < count; ++i) {
      std::string field = r.name("option name");
      if (!stored.emplace(field, r.f64("option value")).second) {
        r.fail("option '" + field + "' appears twice");
      }
    }
    Options o;
    o.lr = static_cast<Scalar>(lr);
    for (const auto& [field, unused] : option_fields(o)) {
      static_cast<void>(unused);
      const auto it = stored.find(field);
      if (it == stored.end()) r.fail("option '" + field + "' is missing");
      if (!set_field(o, field, it->second)) {
        r.fail("option '" + field + "' has the invalid value " + detail::to_text(it->second));
      }
      stored.erase(it);
    }
    if (!stored.empty()) r.fail("unknown option '" + stored.begin()->first + "'");
    r.validate([&] { checked(o); }, "invalid options: ");
    if (r.u32("state array count") != 2) r.fail("ScheduleFree keeps 2 state arrays");
    const std::int64_t length = size < 0 ? 0 : size;
    Vector z = r.template array<Scalar, Vector>(length, "state array z");
    const bool adamw = o.method == Method::AdamW;
    Vector v = r.template array<Scalar, Vector>(adamw ? length : 0, "state array v");
    for (Index i = 0; i < v.size(); ++i) {
      if (!(v[i] >= Scalar(0))) r.fail("state array v holds a negative or NaN value");
    }
    if (r.u32("state value count") != 3) r.fail("ScheduleFree keeps 3 state values");
    double values[3];
    const char* names[3] = {"lr_max", "weight_sum", "train_mode"};
    for (int i = 0; i < 3; ++i) {
      if (r.name("state value name") != names[i]) {
        r.fail(std::string("expected the state value ") + names[i]);
      }
      values[i] = r.f64(names[i]);
    }
    if (!(values[0] == -1.0 || (values[0] >= 0 && std::isfinite(values[0])))) {
      r.fail("lr_max " + detail::to_text(values[0]) + " is not −1 or finite and >= 0");
    }
    if (!(values[1] >= 0) || !std::isfinite(values[1])) {
      r.fail("weight_sum " + detail::to_text(values[1]) + " is not finite and >= 0");
    }
    if (values[2] != 0.0 && values[2] != 1.0) r.fail("train_mode is not 0 or 1");
    r.finish();
    options_ = o;
    k_ = k;
    skipped_ = skipped;
    z_.swap(z);
    v_.swap(v);
    lr_max_ = values[0];
    weight_sum_ = values[1];
    train_mode_ = values[2] == 1.0;
  }

  /// save() to a file through a temporary file and a rename.
  void save_file(const std::string& path) const {
    detail::save_file(path, who("save_file"), [this](std::ostream& out) { save(out); });
  }
  /// load() from a file. \throws CheckpointError as load().
  void load_file(const std::string& path) {
    detail::load_file(path, who("load_file"), [this](std::istream& in) { load(in); });
  }

 private:
  static constexpr std::int64_t kMaxCount = std::numeric_limits<std::int64_t>::max();

  static const Options& checked(const Options& o) {
    detail::check_enum(kName, "method", o.method, {"SGD", "AdamW"});
    detail::check_nonnegative(kName, "lr", o.lr);
    if (!(o.beta1 > Scalar(0) && o.beta1 < Scalar(1))) {
      detail::throw_invalid(kName, "beta1", "in (0, 1)", o.beta1);
    }
    detail::check_unit_interval(kName, "beta2", o.beta2);
    detail::check_nonnegative(kName, "eps", o.eps);
    detail::check_nonnegative(kName, "weight_decay", o.weight_decay);
    detail::check_at_least(kName, "warmup_steps", o.warmup_steps, 0);
    detail::check_nonnegative(kName, "r", o.r);
    detail::check_nonnegative(kName, "weight_lr_power", o.weight_lr_power);
    detail::check_enum(kName, "nonfinite", o.nonfinite);
    return o;
  }

  static std::array<std::pair<std::string, double>, 9> option_fields(const Options& o) {
    return {{{"method", double(static_cast<int>(o.method))},
             {"beta1", double(o.beta1)},
             {"beta2", double(o.beta2)},
             {"eps", double(o.eps)},
             {"weight_decay", double(o.weight_decay)},
             {"warmup_steps", double(o.warmup_steps)},
             {"r", o.r},
             {"weight_lr_power", o.weight_lr_power},
             {"nonfinite", double(static_cast<int>(o.nonfinite))}}};
  }

  static bool set_field(Options& o, const std::string& field, double d) {
    const auto integral = [d](double lo, double hi) {
      return d >= lo && d <= hi && d == std::floor(d);
    };
    if (field == "method" || field == "nonfinite") {
      if (!integral(0, field == "method" ? 1 : 2)) return false;
      if (field == "method") {
        o.method = static_cast<Method>(int(d));
      } else {
        o.nonfinite = static_cast<NonFinite>(int(d));
      }
      return true;
    }
    if (field == "warmup_steps") {
      if (!integral(0, 9.2e18)) return false;
      o.warmup_steps = static_cast<long>(d);
      return true;
    }
    if (!std::isfinite(d)) return false;
    if (field == "r") {
      o.r = d;
    } else if (field == "weight_lr_power") {
      o.weight_lr_power = d;
    } else {
      const Scalar s = static_cast<Scalar>(d);
      if (!std::isfinite(s)) return false;
      if (field == "beta1") o.beta1 = s;
      if (field == "beta2") o.beta2 = s;
      if (field == "eps") o.eps = s;
      if (field == "weight_decay") o.weight_decay = s;
    }
    return true;
  }

  std::string who(const char* method) const {
    return "descent::ScheduleFree::" + std::string(method);
  }

  template <typename Params>
  Scalar* checked_params(Params& params, const char* method) const {
    using P = std::remove_cv_t<std::remove_reference_t<Params>>;
    static_assert(detail::is_dense<P>,
                  "descent::ScheduleFree: params must be an Eigen dense object");
    static_assert(std::is_same<typename P::Scalar, Scalar>::value,
                  "descent::ScheduleFree: params must hold the optimizer's Scalar");
    static_assert(detail::has_direct_access<P>(),
                  "descent::ScheduleFree: params must expose its storage");
    if (!detail::is_contiguous(params)) {
      throw std::invalid_argument(who(method) + ": params must be stored contiguously");
    }
    if (z_.size() > 0 && params.size() != z_.size()) {
      throw std::invalid_argument(who(method) + ": params has " + std::to_string(params.size()) +
                                  " elements but the state was built for " +
                                  std::to_string(z_.size()) + " (call reset() to change the size)");
    }
    return params.data();
  }

  template <typename Body>
  void run(Index n, const Body& body) {
    const bool parallel = threads_ > 1 && n >= detail::kParallelThreshold;
    if (parallel) pool_.reserve(threads_ - 1);
    detail::for_each_element<Scalar>(n, parallel ? pool_.get() : nullptr, body);
  }

  /// PyTorch's lerp(a, b, w), branch chosen by the scalar w.
  template <bool kSmall, typename V>
  static V lerp(V a, V b, V w, V one_minus_w) {
    if constexpr (kSmall) {
      return a + w * (b - a);
    } else {
      return b - (b - a) * one_minus_w;
    }
  }

  /// p ← lerp(p, z, w), one pass.
  void lerp_to_z(Scalar* p, double weight) {
    const Scalar w = static_cast<Scalar>(weight);
    const Scalar w1 = Scalar(1) - w;  // PyTorch: opmath 1 − weight
    detail::with_flag(std::abs(w) < Scalar(0.5), [&](auto small) {
      run(z_.size(), [p, z = z_.data(), w, w1](auto lanes, Index i) {
        using V = decltype(lanes);
        lerp<decltype(small)::value>(V::load(p + i), V::load(z + i), V(w), V(w1)).store(p + i);
      });
    });
  }

  void take(Scalar* y, const Scalar* g, Index n) {
    if (options_.nonfinite != NonFinite::Propagate) {
      const Index bad = detail::first_nonfinite(g, n);
      if (bad >= 0) {
        if (options_.nonfinite == NonFinite::Skip) {
          if (skipped_ < kMaxCount) ++skipped_;
          return;
        }
        throw std::domain_error(who("step") + ": grad[" + std::to_string(bad) + "] is " +
                                detail::to_text(g[bad]) + "; params and state are unchanged");
      }
    }
    if (k_ == kMaxCount) throw std::overflow_error(who("step") + ": iterations() is 2^63 − 1");
    const bool adamw = options_.method == Method::AdamW;
    if (z_.size() == 0) {
      z_ = Eigen::Map<const Vector>(y, n);
      if (adamw) v_ = Vector::Zero(n);
    }
    // The reference's per-step scalars, in its order, in double.
    const double k = double(k_);
    const double sched =
        k < double(options_.warmup_steps) ? (k + 1) / double(options_.warmup_steps) : 1.0;
    double lr = double(options_.lr) * sched;
    if (adamw) lr *= std::sqrt(1 - detail::power(double(options_.beta2), k + 1));
    lr_max_ = std::max(lr, lr_max_);
    const double weight = std::pow(k + 1, options_.r) * std::pow(lr_max_, options_.weight_lr_power);
    weight_sum_ += weight;
    const double ckp1 = weight_sum_ != 0 ? weight / weight_sum_ : 0.0;
    const Scalar c = static_cast<Scalar>(ckp1), c1 = Scalar(1) - c;
    const Scalar a = static_cast<Scalar>(lr * (double(options_.beta1) * (1 - ckp1) - 1));
    const Scalar step = static_cast<Scalar>(lr);
    const Scalar lambda = options_.weight_decay;
    const Scalar b2 = options_.beta2;
    const Scalar one_minus_b2 = static_cast<Scalar>(1 - double(options_.beta2));
    const Scalar eps = options_.eps;
    Scalar* z = z_.data();
    Scalar* v = v_.data();
    detail::with_flag(std::abs(c) < Scalar(0.5), [&](auto small) {
      detail::with_flag(adamw, [&](auto adam) {
        detail::with_flag(lambda != Scalar(0), [&](auto decay) {
          run(n, [=](auto lanes, Index i) {
            using V = decltype(lanes);
            V yi = V::load(y + i);
            const V zi = V::load(z + i);
            V d = V::load(g + i);
            if constexpr (decltype(adam)::value) {
              const V vi = V(b2) * V::load(v + i) + V(one_minus_b2) * d * d;
              vi.store(v + i);
              d = d / (sqrt(vi) + V(eps));
            }
            if constexpr (decltype(decay)::value) d = d + V(lambda) * yi;
            yi = lerp<decltype(small)::value>(yi, zi, V(c), V(c1));
            (yi + V(a) * d).store(y + i);
            (zi - V(step) * d).store(z + i);
          });
        });
      });
    });
    ++k_;
  }

  Options options_;
  Vector z_;
  Vector v_;
  std::int64_t k_ = 0;
  std::int64_t skipped_ = 0;
  double lr_max_ = -1.0;
  double weight_sum_ = 0.0;
  bool train_mode_ = true;
  int threads_ = 1;
  detail::PoolHandle pool_;
};

}  // namespace descent
