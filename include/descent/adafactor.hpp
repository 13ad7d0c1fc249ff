#pragma once
/// \file
/// Adafactor: a second moment factored into row and column averages for a
/// matrix, a relative step size, and the update clipped by its RMS.

#include "detail/check.hpp"
#include "detail/optimizer_base.hpp"
#include "detail/simd.hpp"
#include "nonfinite.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include <Eigen/Core>

namespace descent {

/// \brief Adafactor (Shazeer & Stern, "Adafactor: Adaptive Learning Rates
/// with Sublinear Memory Cost", arXiv:1804.04235), as torch.optim.Adafactor
/// (PyTorch 2.5) computes it: for a matrix of r rows and c columns it keeps
/// r + c second-moment numbers instead of r·c.
///
/// Inputs: lr (γ), beta2_decay (τ), eps1 (ε₁), eps2 (ε₂), d (clipping
/// threshold), weight_decay (λ), maximize. State: R₀ = 0 (r row factors) and
/// C₀ = 0 (c column factors) for a matrix, V₀ = 0 (one per element) for a
/// vector. Per step t = 1, 2, …, with RMS(a) = ‖a‖₂/√(numel a):
///
///     G ← g  (−g with maximize)
///     w ← t^τ                              the weight of the new average
///     ρ ← min(γ, 1/√t)
///     α ← max(ε₂, RMS(θ))·ρ                θ before the decay
///     θ ← (1 − γ·λ)·θ                      (decoupled_weight_decay, the default)
///       or G ← G + λ·θ                     (otherwise)
///     matrix:  Rᵢ ← lerp(Rᵢ, (‖G_i·‖₂)²/c, w)     row i's mean of G²
///              Cⱼ ← lerp(Cⱼ, (‖G_·j‖₂)²/r, w)     column j's mean of G²
///              V̂ᵢⱼ ← Rᵢ·Cⱼ / max(mean(R), ε₁)
///     vector:  V̂ ← V ← lerp(V, G², w)
///     U ← G / √max(V̂, ε₁²)
///     θ ← θ − α/max(1, RMS(U)/d) · U
///
/// lerp(a, b, w) = a + w·(b − a), evaluated as b − (b − a)·(1 − w) for
/// w >= 0.5, as torch.lerp does; w = 1 at t = 1, so the first step takes the
/// new averages whole. Every max and min is Python's, which keeps its first
/// argument when the second is NaN: a NaN gradient makes the norms NaN, and
/// then α = ε₂·ρ and the clipping divides by 1, as in PyTorch.
///
/// Which parameters are a matrix is their type's (TensorShape): an Eigen
/// matrix type (MatrixX, a Map of one, even with one row or column) is
/// factored, as a 2-D tensor is for torch; a vector type (VectorX, ArrayX, a
/// segment) keeps a full V. The factors follow the logical rows and columns,
/// so row-major and column-major storage of one matrix keep the same
/// factors (their steps differ at most in the rounding of RMS(U));
/// a later step must bring the same rows and columns (and the same kind),
/// or reset() first. Checkpoints record the shape and refuse to load into
/// an optimizer whose state has another.
///
/// The relative step is PyTorch's reading of the paper: lr caps ρ (the
/// paper's constant 0.01, lr's default) and scales the decoupled weight
/// decay; ε₁ = eps1 floors the factored estimate's denominator and V̂ (as
/// ε₁²) rather than being added to G² (the paper's and Keras's form). eps1's
/// default, the Scalar's machine epsilon, is what torch's eps = (None, …)
/// means for a tensor of that type. PyTorch has no L2 form of weight decay:
/// decoupled_weight_decay = false adds λ·θ to the gradient first, as
/// descent's other optimizers do. No first moment (the paper's β₁ > 0) is
/// kept, as PyTorch keeps none.
///
/// The norms and means are sums over whole rows, columns and tensors, taken
/// in double, in one fixed order, on the calling thread; only a vector's
/// elementwise update is split across set_threads() threads, so a step's bits
/// do not depend on the thread count. A step reads the gradient three times
/// (the norms, the update's norm, the update) and computes U twice rather
/// than keep an array the size of θ.
///
/// \note descent::mpi's steps that hand an optimizer its gradient in pieces
/// as they arrive (the sharded and shared-memory pipelines) suit only an
/// update of each element on its own; Adafactor's norms need the whole
/// gradient first, and a shard is a vector of its own.
template <typename Scalar_>
class Adafactor : public detail::OptimizerBase<Adafactor<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<Adafactor<Scalar_>, Scalar_>;
  friend Base;

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;

  /// \brief The hyperparameters, in the order declared; the constructor
  /// checks them.
  struct Options {
    /// γ: the cap of the relative step size ρ = min(γ, 1/√t), and the
    /// coefficient of the decoupled weight decay; finite and >= 0. Default
    /// 0.01 (the paper's cap).
    Scalar lr = Scalar(1e-2);
    /// τ: the weight of the new squared gradient at step t is t^τ; finite and
    /// <= 0. Default −0.8.
    Scalar beta2_decay = Scalar(-0.8);
    /// ε₁: floor of the mean row factor and (squared) of the variance
    /// estimate; finite and >= 0. Default the Scalar's machine epsilon,
    /// torch's eps[0] = None.
    Scalar eps1 = std::numeric_limits<Scalar>::epsilon();
    /// ε₂: floor of RMS(θ) in the step size, so that parameters at 0 move;
    /// finite and >= 0. Default 1e-3.
    Scalar eps2 = Scalar(1e-3);
    /// Clipping threshold: the update is scaled down to an RMS of at most d;
    /// finite and >= 1. Default 1.
    Scalar d = Scalar(1);
    /// Weight decay λ; finite and >= 0. Default 0.
    Scalar weight_decay = Scalar(0);
    /// Decay θ by (1 − lr·λ) before the update (PyTorch's form) rather than
    /// adding λ·θ to the gradient. Default true.
    bool decoupled_weight_decay = true;
    /// Ascend instead of descend (G = −g). Default false.
    bool maximize = false;
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;

    /// torch.optim.Adafactor(): the defaults.
    static Options pytorch() { return {}; }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit Adafactor(Options options = {}) : Base(checked(options).lr), options_(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "Adafactor";
  /// The class name, kName.
  std::string_view name() const noexcept override { return kName; }

  /// The update of an element depends on the whole tensor (RMS(θ), RMS(U),
  /// a matrix's row and column means), so the tensor cannot be stepped in
  /// pieces.
  static constexpr bool kWholeTensor = true;

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("beta2_decay", o.beta2_decay);
    f("eps1", o.eps1);
    f("eps2", o.eps2);
    f("d", o.d);
    detail::for_each_common_option(o, f);
  }

  /// The row factors R (one per row of the matrix the state is built for);
  /// empty for a vector or before the first step.
  const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& row_var() const noexcept { return row_var_; }
  /// The column factors C; empty for a vector or before the first step.
  const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& col_var() const noexcept { return col_var_; }
  /// A vector's second moment V; empty for a matrix or before the first step.
  const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& variance() const noexcept { return variance_; }

 private:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    if (!(o.beta2_decay <= Scalar(0)) || !std::isfinite(o.beta2_decay)) {
      detail::throw_invalid(kName, "beta2_decay", "finite and <= 0", o.beta2_decay);
    }
    detail::check_nonnegative(kName, "eps1", o.eps1);
    detail::check_nonnegative(kName, "eps2", o.eps2);
    if (!(o.d >= Scalar(1)) || !std::isfinite(o.d)) {
      detail::throw_invalid(kName, "d", "finite and >= 1", o.d);
    }
    detail::check_common_options(kName, o);
    return o;
  }

  // The factors are not sized to the parameters, so the checkpoint's arrays
  // are written below, after the shape they are for.
  template <typename Self>
  static std::array<Vector*, 0> state_arrays(Self&) {
    return {};
  }
  static constexpr std::array<detail::StateArray, 0> kStateArrays{};

  // Python's max and min, as torch's scalar arithmetic uses them: the first
  // argument unless the second is strictly greater (smaller).
  static double py_max(double a, double b) { return b > a ? b : a; }
  static double py_min(double a, double b) { return b < a ? b : a; }

  // torch.lerp's two forms, chosen by the weight.
  static Scalar lerp(Scalar a, Scalar b, Scalar w) {
    return std::abs(w) < Scalar(0.5) ? a + w * (b - a) : b - (b - a) * (Scalar(1) - w);
  }

  // Σ v[i]² in double, in an order fixed by n alone: kParts partial sums,
  // element i into sum i mod kParts, added pairwise at the end. A packet
  // of doubles is a chain of dependent adds: 32 sums make four times the
  // chains 8 made (four on AVX-512, where 8 made one), so the sum keeps up
  // with the loads; with 8, Adafactor's step waited on it for a third of its
  // time in cache.
  static constexpr int kParts = 32;
  static double sum_of_squares(const Scalar* v, Index n) {
    double part[kParts] = {};
    Index i = 0;
    for (; i + kParts <= n; i += kParts) {
      for (int k = 0; k < kParts; ++k) part[k] += double(v[i + k]) * double(v[i + k]);
    }
    for (int k = 0; i < n; ++i, ++k) part[k] += double(v[i]) * double(v[i]);
    return detail::simd::fold_halves<kParts / 2>(part);
  }

  // Elements per block of U whose squares are summed at once: U is formed in
  // packets into a buffer of this many (on the stack), then summed in double;
  // the blocks start at multiples of it, so the order is fixed.
  static constexpr Index kBlock = 512;

  // clamp_min, which keeps a NaN.
  static Scalar floor_at(Scalar v, Scalar lo) { return v < lo ? lo : v; }

  std::string shape_text(bool matrix, Index rows, Index cols) const {
    if (!matrix) return "a vector of " + std::to_string(rows);
    return "a " + std::to_string(rows) + "×" + std::to_string(cols) + " matrix";
  }

  std::string shape_error(const TensorShape& s) const override {
    const bool same = s.matrix == matrix_ && (!matrix_ || (s.rows == rows_ && s.cols == cols_));
    if (same) return {};
    return "params are " + shape_text(s.matrix, s.rows, s.cols) + " but the state was built for " +
           shape_text(matrix_, rows_, cols_) + " (call reset() to change the shape)";
  }

  void allocate_state(Index n) override {
    const TensorShape& s = this->shape();
    matrix_ = s.matrix;
    rows_ = matrix_ ? s.rows : n;
    cols_ = matrix_ ? s.cols : 1;
    if (matrix_) {
      row_var_.setZero(rows_);
      col_var_.setZero(cols_);
      row_sum_.resize(rows_);
      col_sum_.resize(cols_);
    } else {
      variance_.setZero(n);
    }
  }

  void release_state() noexcept override {
    row_var_.resize(0);
    col_var_.resize(0);
    variance_.resize(0);
    row_sum_.resize(0);
    col_sum_.resize(0);
    matrix_ = false;
    rows_ = 0;
    cols_ = 1;
  }

  void write_checkpoint(detail::Writer& w) const override {
    Base::write_checkpoint(w);
    const bool built = this->state_size() >= 0;
    w.u32(built && matrix_ ? 1u : 0u);
    w.i64(built ? rows_ : 0);
    w.i64(built ? cols_ : 0);
    w.array(row_var_.data(), row_var_.size());
    w.array(col_var_.data(), col_var_.size());
    w.array(variance_.data(), variance_.size());
  }

  std::function<void()> stage_checkpoint(detail::Reader& r, Index size) override {
    auto commit_base = Base::stage_checkpoint(r, size);
    const std::uint32_t kind = r.u32("state kind");
    const std::int64_t rows = r.i64("state rows");
    const std::int64_t cols = r.i64("state columns");
    if (kind > 1) r.fail("state kind " + std::to_string(kind) + " is neither 0 (vector) nor 1");
    const bool matrix = kind == 1;
    if (size < 0) {
      if (matrix || rows != 0 || cols != 0) r.fail("a state shape with no state");
    } else if (matrix) {
      if (rows < 1 || cols < 1 || rows > size || size % rows != 0 || size / rows != cols) {
        r.fail("a " + std::to_string(rows) + "×" + std::to_string(cols) + " matrix holds no " +
               std::to_string(size) + " parameters");
      }
    } else if (rows != size || cols != 1) {
      r.fail("a vector state of " + std::to_string(rows) + "×" + std::to_string(cols) + " for " +
             std::to_string(size) + " parameters");
    }
    if (size >= 0 && this->state_size() >= 0 &&
        (matrix != matrix_ || (matrix && (rows != rows_ || cols != cols_)))) {
      r.fail("the checkpoint's state is for " + shape_text(matrix, rows, cols) +
             ", this optimizer's for " + shape_text(matrix_, rows_, cols_) +
             " (reset() it first to load another shape)");
    }
    const bool built = size >= 0;
    const std::array<std::pair<const char*, Index>, 3> lengths{{
        {"row_var", built && matrix ? rows : 0},
        {"col_var", built && matrix ? cols : 0},
        {"variance", built && !matrix ? size : 0},
    }};
    std::array<Vector, 3> staged;
    for (std::size_t k = 0; k < 3; ++k) {
      const std::string what = std::string("state array ") + lengths[k].first;
      staged[k] = r.template array<Scalar, Vector>(lengths[k].second, what.c_str());
      for (Index i = 0; i < staged[k].size(); ++i) {
        if (!(staged[k][i] >= Scalar(0))) {
          r.fail(what + "[" + std::to_string(i) + "] is " + detail::to_text(staged[k][i]) +
                 ": a mean of squares is never negative nor NaN");
        }
      }
    }
    return [this, commit_base = std::move(commit_base), staged = std::move(staged), matrix, rows,
            cols, built]() mutable noexcept {
      commit_base();
      row_var_.swap(staged[0]);
      col_var_.swap(staged[1]);
      variance_.swap(staged[2]);
      matrix_ = built && matrix;
      rows_ = built ? Index(rows) : 0;
      cols_ = built ? Index(cols) : 1;
      row_sum_.resize(matrix_ ? rows_ : 0);
      col_sum_.resize(matrix_ ? cols_ : 0);
    };
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept override {
    const Options& o = options_;
    const double lr = double(this->lr());
    const double step = double(t);
    const Scalar w = static_cast<Scalar>(std::pow(step, double(o.beta2_decay)));
    const double rho = py_min(lr, 1.0 / std::pow(step, 0.5));
    const double root_n = std::pow(double(n), 0.5);
    const bool decay = o.weight_decay != Scalar(0);
    const Scalar sign = o.maximize ? Scalar(-1) : Scalar(1);
    const Scalar l2 = decay && !o.decoupled_weight_decay ? o.weight_decay : Scalar(0);
    const Scalar keep = decay && o.decoupled_weight_decay
                            ? static_cast<Scalar>(1.0 - lr * double(o.weight_decay))
                            : Scalar(1);
    const Scalar e1_squared = static_cast<Scalar>(double(o.eps1) * double(o.eps1));
    // G = ±g, plus λ·θ in the L2 form only (so that θ = ±inf adds no NaN).
    const auto direction = [sign, l2](auto gi, const Scalar* xi) {
      using V = decltype(gi);
      return l2 == Scalar(0) ? V(sign) * gi : V(sign) * gi + V(l2) * V::load(xi);
    };
    using One = detail::simd::One<Scalar>;

    // α from RMS(θ) before the decay; torch's norm is of the tensor's type.
    const double rms_x = double(static_cast<Scalar>(std::sqrt(sum_of_squares(x, n)))) / root_n;
    const double alpha = py_max(double(o.eps2), rms_x) * rho;
    // U's RMS, from the blocks' sums: the factor of the update.
    const auto factor = [&](double sum_u) {
      const double rms = double(static_cast<Scalar>(std::sqrt(sum_u))) / (root_n * double(o.d));
      return static_cast<Scalar>(-alpha / py_max(1.0, rms));
    };
    Scalar u_block[kBlock];

    if (!matrix_) {
      Scalar* v = variance_.data();
      const bool small = std::abs(w) < Scalar(0.5);
      const Scalar one_minus_w = Scalar(1) - w;
      double sum_u = 0;
      for (Index b = 0; b < n; b += kBlock) {
        const Index e = std::min(n, b + kBlock);
        Scalar* u_out = u_block;
        detail::simd::for_each<Scalar>(b, e, [=](auto lanes, Index i) {
          using V = decltype(lanes);
          const V d = direction(V::load(g + i), x + i);
          const V old = V::load(v + i), target = d * d;
          const V vi =
              small ? old + V(w) * (target - old) : target - (target - old) * V(one_minus_w);
          vi.store(v + i);
          (V(Scalar(1)) / sqrt(max(V(e1_squared), vi)) * d).store(u_out + (i - b));
        });
        sum_u += sum_of_squares(u_block, e - b);
      }
      const Scalar a = factor(sum_u);
      this->for_each_element(n, [=](auto lanes, Index i) {
        using V = decltype(lanes);
        const V xi = V::load(x + i);
        const V d = direction(V::load(g + i), x + i);
        const V u = V(Scalar(1)) / sqrt(max(V(e1_squared), V::load(v + i))) * d;
        (V(keep) * xi + V(a) * u).store(x + i);
      });
      return;
    }

    // Element (i, j) of the matrix is x[p·inner + k] with (p, k) = (i, j)
    // row-major, (j, i) column-major. Each row's and column's sum runs over
    // its elements in order, so both storage orders give the same factors.
    using Sums = Eigen::Matrix<double, Eigen::Dynamic, 1>;
    const Index rows = rows_, cols = cols_;
    const bool by_rows = this->shape().row_major;
    const Index outer = by_rows ? rows : cols, inner = by_rows ? cols : rows;
    double* outer_sum = by_rows ? row_sum_.data() : col_sum_.data();
    double* inner_sum = by_rows ? col_sum_.data() : row_sum_.data();
    for (Index k = 0; k < inner; ++k) inner_sum[k] = 0;
    for (Index p = 0; p < outer; ++p) {
      const Scalar* gp = g + p * inner;
      const Scalar* xp = x + p * inner;
      double line = 0;
      for (Index k = 0; k < inner; ++k) {
        const double d = double(direction(One(gp[k]), xp + k).v);
        line += d * d;
        inner_sum[k] += d * d;
      }
      outer_sum[p] = line;
    }
    // torch: the norm over the row, squared, divided by its length; lerp.
    const auto average = [w](Vector& factor_var, const Sums& sums, Index length) {
      for (Index i = 0; i < factor_var.size(); ++i) {
        const Scalar norm = static_cast<Scalar>(std::sqrt(sums[i]));
        factor_var[i] = lerp(factor_var[i], norm * norm / static_cast<Scalar>(length), w);
      }
    };
    average(row_var_, row_sum_, cols);
    average(col_var_, col_sum_, rows);
    double row_total = 0;
    for (Index i = 0; i < rows; ++i) row_total += double(row_var_[i]);
    const Scalar mean = floor_at(static_cast<Scalar>(row_total / double(rows)), o.eps1);

    // U = 1/√max(R_i·C_j / mean, ε₁²) · G, along each line of the storage:
    // the factor of the line is one number, the other factor an array.
    const Scalar* outer_var = by_rows ? row_var_.data() : col_var_.data();
    const Scalar* inner_var = by_rows ? col_var_.data() : row_var_.data();
    double sum_u = 0;
    for (Index p = 0; p < outer; ++p) {
      const Scalar* gp = g + p * inner;
      const Scalar* xp = x + p * inner;
      const Scalar of = outer_var[p];
      for (Index b = 0; b < inner; b += kBlock) {
        const Index e = std::min(inner, b + kBlock);
        Scalar* u_out = u_block;
        detail::simd::for_each<Scalar>(b, e, [=](auto lanes, Index k) {
          using V = decltype(lanes);
          const V d = direction(V::load(gp + k), xp + k);
          const V estimate = V(of) * V::load(inner_var + k) / V(mean);
          (V(Scalar(1)) / sqrt(max(V(e1_squared), estimate)) * d).store(u_out + (k - b));
        });
        sum_u += sum_of_squares(u_block, e - b);
      }
    }
    const Scalar a = factor(sum_u);
    for (Index p = 0; p < outer; ++p) {
      Scalar* xp = x + p * inner;
      const Scalar* gp = g + p * inner;
      const Scalar of = outer_var[p];
      detail::simd::for_each<Scalar>(0, inner, [=](auto lanes, Index k) {
        using V = decltype(lanes);
        const V xk = V::load(xp + k);
        const V d = direction(V::load(gp + k), xp + k);
        const V estimate = V(of) * V::load(inner_var + k) / V(mean);
        const V u = V(Scalar(1)) / sqrt(max(V(e1_squared), estimate)) * d;
        (V(keep) * xk + V(a) * u).store(xp + k);
      });
    }
  }

  Options options_;
  Vector row_var_, col_var_, variance_;
  // Per-step sums of squares of each row and column, kept to allocate once.
  Eigen::Matrix<double, Eigen::Dynamic, 1> row_sum_, col_sum_;
  bool matrix_ = false;
  Index rows_ = 0, cols_ = 1;
};

}  // namespace descent
