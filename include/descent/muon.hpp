#pragma once
/// \file
/// Muon: momentum orthogonalized by a Newton–Schulz iteration, for weight
/// matrices, as torch.optim.Muon; vectors step with AdamW.

#include "detail/check.hpp"
#include "detail/enum_text.hpp"
#include "detail/kernel.hpp"
#include "detail/optimizer_base.hpp"
#include "nonfinite.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include <Eigen/Core>

namespace descent {

/// How Muon scales lr by the shape of an R×C matrix (torch's adjust_lr_fn).
enum class MuonLrAdjust {
  /// lr·√max(1, R/C): Keller Jordan's, torch's default (adjust_lr_fn None or
  /// "original").
  Original,
  /// lr·0.2·√max(R, C): Moonshot's, to match AdamW's update RMS
  /// ("match_rms_adamw").
  MatchRmsAdamW,
};

namespace detail {
template <>
constexpr int enum_count<MuonLrAdjust>() {
  return 2;
}
template <>
constexpr auto enum_names<MuonLrAdjust>() {
  return std::array<EnumName<MuonLrAdjust>, 2>{{
      {MuonLrAdjust::Original, "original", "Original"},
      {MuonLrAdjust::MatchRmsAdamW, "match_rms_adamw", "MatchRmsAdamW"},
  }};
}
template <>
constexpr std::string_view enum_type_name<MuonLrAdjust>() {
  return "MuonLrAdjust";
}
}  // namespace detail

/// \brief Muon (Jordan et al. 2024, "Muon: An optimizer for hidden layers in
/// neural networks"; Liu et al., "Muon is Scalable for LLM Training",
/// arXiv:2502.16982), as torch.optim.Muon: the momentum of a weight matrix
/// is replaced by a nearly orthogonal matrix of the same singular vectors
/// before it is applied.
///
/// Inputs: lr (γ), momentum (μ), nesterov, ns_a, ns_b, ns_c (a, b, c),
/// eps (ε), ns_steps (k), adjust_lr, weight_decay (λ), maximize. State:
/// B₀ = 0. Per step, for params θ of R rows and C columns:
///
///     d ← g  (−g with maximize)
///     B ← B + (1 − μ)·(d − B)                 (torch's lerp)
///     U ← d + μ·(B − d)  (nesterov)  or  B
///     X ← U, or Uᵀ if R > C                   (X has no more rows than columns)
///     X ← X / max(‖X‖_F, ε)
///     k times:  G ← X·Xᵀ;  P ← b·G + c·G·G;  X ← a·X + P·X
///     O ← X, or Xᵀ if R > C
///     θ ← (1 − γ·λ)·θ                         (decoupled weight decay)
///     θ ← θ − γ'·O,  γ' = γ·√max(1, R/C)      (Original)
///                    γ' = γ·0.2·√max(R, C)    (MatchRmsAdamW)
///
/// This is torch.optim.Muon's update (torch/optim/_muon.py, pytorch/pytorch
/// commit b5ee4d7a797023e11507aea90811559872ce8ff6) with its defaults: lr
/// 1e-3, weight_decay 0.1, momentum 0.95, nesterov, the quintic (3.4445,
/// −4.7750, 2.0315), eps 1e-7, 5 steps. Each lerp takes torch's branch
/// (s + w·(e − s) for |w| < 0.5, else e − (e − s)·(1 − w)); the norm is
/// clamped below by ε, not added to it. torch casts the Newton–Schulz
/// iteration to bfloat16; descent runs it in Scalar (float or double), so
/// double reproduces torch's arithmetic carried out in float64 (to 4e-16
/// relative over ten steps in the tests), while torch's own float results
/// carry bfloat16's ~3 significant digits in O.
///
/// θ is read as a matrix through the step's shape: a matrix type (MatrixX,
/// a Map of a matrix type, row- or column-major, any run-time shape) is
/// orthogonalized in its own rows and columns; a step on another shape
/// throws until reset(). The products are Eigen's, into work matrices sized
/// on the first step (2·R·C + 2·min(R, C)² scalars, half of them the
/// exp_avg_sq array a matrix leaves at zero), computed on the calling
/// thread, so that a step is bitwise the same for any set_threads() and
/// either storage order; set_threads() splits the element-wise passes. The
/// transposition when R > C makes the Gram matrix min(R, C)².
///
/// \note Eigen's products pack their operands into buffers that Eigen
/// allocates for each product once they outgrow its stack limit (128 KiB);
/// descent's own arrays are allocated by the first step only. Built with
/// OpenMP, Eigen runs each product on Eigen::nbThreads() threads, whose count
/// can change its blocking and so the last bits of a step.
///
/// A vector (an Eigen vector type; torch refuses 1-D params and advises
/// AdamW for biases and gains) steps with AdamW instead: adamw_lr,
/// adamw_beta1, adamw_beta2, adamw_eps and adamw_weight_decay, with
/// torch.optim.AdamW's defaults, and maximize; the step is descent::AdamW's
/// with those options, bit for bit (t counts Muon's steps). Its step size
/// is adamw_lr whatever lr() is: schedulers drive the matrices' lr.
/// weight_decay and decoupled_weight_decay, which every optimizer's Options
/// carry, are the matrices' (decoupled_weight_decay must stay true).
template <typename Scalar_>
class Muon : public detail::OptimizerBase<Muon<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<Muon<Scalar_>, Scalar_>;
  friend Base;

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;

  /// \brief The hyperparameters, in the order declared; the constructor
  /// checks them. The defaults are torch.optim.Muon's (and, for the AdamW
  /// fallback, torch.optim.AdamW's).
  struct Options {
    /// Step size γ of the matrices, before the shape's adjustment; finite
    /// and >= 0. Default 0.001.
    Scalar lr = Scalar(0.001);
    /// Momentum μ; in [0, 1]. Default 0.95.
    Scalar momentum = Scalar(0.95);
    /// Orthogonalize d + μ·(B − d) rather than B. Default true.
    bool nesterov = true;
    /// Coefficient a of the Newton–Schulz quintic; finite. Default 3.4445.
    Scalar ns_a = Scalar(3.4445);
    /// Coefficient b; finite. Default −4.7750.
    Scalar ns_b = Scalar(-4.7750);
    /// Coefficient c; finite. Default 2.0315.
    Scalar ns_c = Scalar(2.0315);
    /// Lower bound ε of the norm the iteration starts by dividing by;
    /// finite and > 0. Default 1e-7.
    Scalar eps = Scalar(1e-7);
    /// Newton–Schulz iterations; in [0, 99]. Default 5.
    int ns_steps = 5;
    /// How lr is scaled by the matrix's shape. Default Original.
    MuonLrAdjust adjust_lr = MuonLrAdjust::Original;
    /// The AdamW fallback's (vectors') step size; finite and >= 0. Default
    /// 0.001.
    Scalar adamw_lr = Scalar(0.001);
    /// The fallback's β₁; in [0, 1). Default 0.9.
    Scalar adamw_beta1 = Scalar(0.9);
    /// The fallback's β₂; in [0, 1). Default 0.999.
    Scalar adamw_beta2 = Scalar(0.999);
    /// The fallback's ε, outside the root; finite and >= 0. Default 1e-8.
    Scalar adamw_eps = Scalar(1e-8);
    /// The fallback's decoupled weight decay; finite and >= 0. Default 0.01.
    Scalar adamw_weight_decay = Scalar(0.01);
    /// The matrices' decoupled weight decay λ; finite and >= 0. Default 0.1.
    Scalar weight_decay = Scalar(0.1);
    /// Must be true: torch's Muon decays θ by (1 − γ·λ) before its update.
    bool decoupled_weight_decay = true;
    /// Ascend instead of descend (d = −g), matrices and vectors. Default
    /// false.
    bool maximize = false;
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;

    /// torch.optim.Muon(): the defaults.
    static Options pytorch() { return {}; }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit Muon(Options options = {}) : Base(checked(options).lr), options_(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "Muon";
  /// The class name, kName.
  std::string_view name() const noexcept override { return kName; }

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("momentum", o.momentum);
    f("nesterov", o.nesterov);
    f("ns_a", o.ns_a);
    f("ns_b", o.ns_b);
    f("ns_c", o.ns_c);
    f("eps", o.eps);
    f("ns_steps", o.ns_steps);
    f("adjust_lr", o.adjust_lr);
    f("adamw_lr", o.adamw_lr);
    f("adamw_beta1", o.adamw_beta1);
    f("adamw_beta2", o.adamw_beta2);
    f("adamw_eps", o.adamw_eps);
    f("adamw_weight_decay", o.adamw_weight_decay);
    detail::for_each_common_option(o, f);
  }

  /// \brief The factor γ'/γ by which a rows × cols matrix's step scales lr.
  static double lr_ratio(MuonLrAdjust adjust, Index rows, Index cols) {
    if (adjust == MuonLrAdjust::MatchRmsAdamW) {
      return 0.2 * std::sqrt(double(std::max(rows, cols)));
    }
    return std::sqrt(std::max(1.0, double(rows) / double(cols)));
  }

 private:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using RowMajorMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  static void check_finite(std::string_view field, Scalar value) {
    if (!std::isfinite(value)) detail::throw_invalid(kName, field, "finite", value);
  }

  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_closed_unit_interval(kName, "momentum", o.momentum);
    check_finite("ns_a", o.ns_a);
    check_finite("ns_b", o.ns_b);
    check_finite("ns_c", o.ns_c);
    detail::check_positive(kName, "eps", o.eps);
    if (o.ns_steps < 0 || o.ns_steps > 99) {
      detail::throw_invalid(kName, "ns_steps", "in [0, 99]", o.ns_steps);
    }
    detail::check_enum(kName, "adjust_lr", o.adjust_lr);
    detail::check_nonnegative(kName, "adamw_lr", o.adamw_lr);
    detail::check_unit_interval(kName, "adamw_beta1", o.adamw_beta1);
    detail::check_unit_interval(kName, "adamw_beta2", o.adamw_beta2);
    detail::check_nonnegative(kName, "adamw_eps", o.adamw_eps);
    detail::check_nonnegative(kName, "adamw_weight_decay", o.adamw_weight_decay);
    detail::check_common_options(kName, o);
    if (!o.decoupled_weight_decay) {
      detail::throw_invalid_combination(
          kName, "decoupled_weight_decay must be true (Muon's decay is decoupled), got false");
    }
    return o;
  }

  // The momentum B of a matrix, or AdamW's first moment of a vector; AdamW's
  // second moment of a vector (zeros for a matrix, whose step uses it as
  // work space and clears it).
  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.buf_, &s.v_};
  }
  static constexpr std::array<detail::StateArray, 2> kStateArrays{
      {{"momentum_buffer", false}, {"exp_avg_sq", true}}};

  // The shape the state is built for: rows, columns and layout (0 a vector,
  // 1 a column-major matrix, 2 a row-major one); all 0 before the first step.
  template <typename Self>
  static auto state_values([[maybe_unused]] Self& s) {
    return std::array{&s.rows_, &s.cols_, &s.layout_};
  }
  static constexpr double kMaxDim = 9007199254740992.0;  // 2^53
  static constexpr std::array<detail::StateValue, 3> kStateValues{
      {{"rows", 0, kMaxDim}, {"cols", 0, kMaxDim}, {"layout", 0, 2}}};

  static double layout_of(const TensorShape& s) {
    return s.matrix ? (s.row_major ? 2.0 : 1.0) : 0.0;
  }

  static std::string describe(double rows, double cols, double layout) {
    if (layout == 0) return "a vector of " + detail::to_text(rows);
    return std::string(layout == 2 ? "a row-major " : "a column-major ") + detail::to_text(rows) +
           "×" + detail::to_text(cols) + " matrix";
  }

  // The work matrices of a matrix's step: the second m×k iterate (the first
  // is v_) and the two m×m products, m = min(rows, cols).
  void size_work(const TensorShape& s) const {
    if (!s.matrix) return;
    const Index m = std::min(s.rows, s.cols), k = std::max(s.rows, s.cols);
    work_.resize(m, k);
    gram_.resize(m, m);
    poly_.resize(m, m);
  }

  // A matrix's step reduces over the whole matrix; a vector's is AdamW's.
  bool elementwise() const noexcept override { return !this->shape().matrix; }

  // Refuses another shape; sizes the work matrices (after a load) while a
  // failed allocation can still throw before anything changes.
  std::string shape_error(const TensorShape& s) const override {
    if (double(s.rows) != rows_ || double(s.cols) != cols_ || layout_of(s) != layout_) {
      return "params is " + describe(double(s.rows), double(s.cols), layout_of(s)) +
             " but the state was built for " + describe(rows_, cols_, layout_) +
             " (call reset() to change the shape)";
    }
    size_work(s);
    return {};
  }

  void allocate_state(Index n) override {
    const TensorShape& s = this->shape();
    size_work(s);
    buf_.setZero(n);
    v_.setZero(n);
    rows_ = double(s.rows);
    cols_ = double(s.cols);
    layout_ = layout_of(s);
  }
  void release_state() noexcept override {
    buf_.resize(0);
    v_.resize(0);
    work_.resize(0, 0);
    gram_.resize(0, 0);
    poly_.resize(0, 0);
    rows_ = cols_ = layout_ = 0;
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept override {
    if (layout_ == 0) {
      adamw_update(x, g, n, t);
    } else {
      muon_update(x, g, n);
    }
  }

  // descent::AdamW's update (adam.hpp) with OutsideSqrt, no amsgrad and the
  // adamw_ options, to the same operations in the same order.
  void adamw_update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept {
    const Options& o = options_;
    const double lr = double(o.adamw_lr);
    const double bias1 = 1.0 - detail::power(double(o.adamw_beta1), double(t));
    const double bias2 = 1.0 - detail::power(double(o.adamw_beta2), double(t));
    const Scalar beta1 = o.adamw_beta1, one_minus_beta1 = Scalar(1) - o.adamw_beta1;
    const Scalar beta2 = o.adamw_beta2, one_minus_beta2 = Scalar(1) - o.adamw_beta2;
    const Scalar eps = o.adamw_eps;
    const auto step_size = static_cast<Scalar>(lr / bias1);
    const auto v_scale = static_cast<Scalar>(1.0 / std::sqrt(bias2));
    struct Decay {
      bool maximize;
      Scalar weight_decay;
      bool decoupled_weight_decay;
    };
    const auto adjust = detail::GradientAdjust<Scalar>::from(
        Decay{o.maximize, o.adamw_weight_decay, true}, o.adamw_lr);
    Scalar* m = buf_.data();
    Scalar* v = v_.data();
    detail::with_flag(adjust.active(), [&](auto active) {
      this->for_each_element(n, [=](auto lanes, Index i) {
        using V = decltype(lanes);
        V xi = V::load(x + i);
        const V di = adjust.template operator()<active()>(V::load(g + i), xi);
        const V mi = V(beta1) * V::load(m + i) + V(one_minus_beta1) * di;
        const V vi = V(beta2) * V::load(v + i) + V(one_minus_beta2) * di * di;
        mi.store(m + i);
        vi.store(v + i);
        const V denom = sqrt(vi) * V(v_scale) + V(eps);
        (xi - V(step_size) * mi / denom).store(x + i);
      });
    });
  }

  // torch's lerp(s, e, w) for a weight w with the given |w| < 0.5 test and
  // 1 − w.
  template <typename V>
  static V lerp(V s, V e, V w, V one_minus_w, bool small) {
    return small ? s + w * (e - s) : e - (e - s) * one_minus_w;
  }

  void muon_update(Scalar* x, const Scalar* g, Index n) noexcept {
    const Options& o = options_;
    const Index rows = Index(rows_), cols = Index(cols_);
    const bool row_major = layout_ == 2;
    const bool transposed = rows > cols;  // X = Uᵀ, so that X is m×k with m <= k
    const Index m = std::min(rows, cols), k = std::max(rows, cols);

    // B ← lerp(B, d, 1 − μ); U ← lerp(d, B, μ) or B, into work_ in θ's order.
    const auto w_buf = static_cast<Scalar>(1.0 - double(o.momentum));
    const Scalar w_nes = o.momentum;
    const bool small_buf = std::abs(w_buf) < Scalar(0.5);
    const bool small_nes = std::abs(w_nes) < Scalar(0.5);
    const Scalar c_buf = Scalar(1) - w_buf, c_nes = Scalar(1) - w_nes;
    const Scalar sign = o.maximize ? Scalar(-1) : Scalar(1);
    const bool nesterov = o.nesterov;
    Scalar* b = buf_.data();
    Scalar* u = work_.data();
    this->for_each_element(n, [=](auto lanes, Index i) {
      using V = decltype(lanes);
      const V di = V(sign) * V::load(g + i);
      const V bi = lerp(V::load(b + i), di, V(w_buf), V(c_buf), small_buf);
      bi.store(b + i);
      (nesterov ? lerp(di, bi, V(w_nes), V(c_nes), small_nes) : bi).store(u + i);
    });

    // X (m×k, column-major whatever θ's order) ← U or Uᵀ, over ‖X‖_F ∨ ε.
    Eigen::Map<Matrix> x0(v_.data(), m, k);
    if (row_major) {
      const Eigen::Map<const RowMajorMatrix> uu(u, rows, cols);
      if (transposed) {
        x0 = uu.transpose();
      } else {
        x0 = uu;
      }
    } else {
      const Eigen::Map<const Matrix> uu(u, rows, cols);
      if (transposed) {
        x0 = uu.transpose();
      } else {
        x0 = uu;
      }
    }
    x0 /= std::max(x0.stableNorm(), o.eps);  // scaled: no overflow of ‖X‖² in float

    // The Newton–Schulz iteration, X and its successor in v_ and work_ by
    // turns.
    const Scalar a = o.ns_a, bb = o.ns_b, c = o.ns_c;
    Scalar* cur = v_.data();
    Scalar* next = work_.data();
    for (int s = 0; s < o.ns_steps; ++s) {
      const Eigen::Map<const Matrix> xs(cur, m, k);
      Eigen::Map<Matrix> xn(next, m, k);
      gram_.noalias() = xs * xs.transpose();
      poly_ = bb * gram_;
      poly_.noalias() += c * gram_ * gram_;
      xn = a * xs;
      xn.noalias() += poly_ * xs;
      std::swap(cur, next);
    }

    // O in θ's order: X itself where X's columns are θ's storage order, else
    // X or Xᵀ copied into the other buffer.
    const Eigen::Map<const Matrix> xr(cur, m, k);
    const Scalar* out = cur;
    if (row_major != transposed) {
      if (row_major) {
        Eigen::Map<RowMajorMatrix>(next, rows, cols) = xr;
      } else {
        Eigen::Map<Matrix>(next, rows, cols) = xr.transpose();
      }
      out = next;
    }

    // θ ← (1 − γ·λ)·θ − γ'·O.
    const double lr = double(this->lr());
    const auto keep = static_cast<Scalar>(1.0 - lr * double(o.weight_decay));
    const auto minus_step = static_cast<Scalar>(-(lr * lr_ratio(o.adjust_lr, rows, cols)));
    this->for_each_element(n, [=](auto lanes, Index i) {
      using V = decltype(lanes);
      (V(keep) * V::load(x + i) + V(minus_step) * V::load(out + i)).store(x + i);
    });
    v_.setZero();
  }

  Options options_;
  Vector buf_;
  Vector v_;
  double rows_ = 0;
  double cols_ = 0;
  double layout_ = 0;
  mutable Matrix work_;
  mutable Matrix gram_;
  mutable Matrix poly_;
};

}  // namespace descent
