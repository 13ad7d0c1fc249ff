#pragma once
/// \file
/// SparseAdam: torch.optim.SparseAdam, the lazy Adam of embedding tables,
/// whose step updates only the rows a sparse gradient holds.

#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/optimizer_base.hpp"
#include "detail/sparse_base.hpp"
#include "nonfinite.hpp"
#include "row_sparse.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <string_view>

#include <Eigen/Core>

namespace descent {

/// \brief Lazy Adam, as torch.optim.SparseAdam 1.13: Adam whose moments
/// move only where the gradient is present, for the embedding tables whose
/// gradients touch a few rows per step.
///
/// Inputs: lr (α), beta1 (β₁), beta2 (β₂), eps (ε), maximize. State:
/// m₀ = v₀ = 0. Per step t = 1, 2, … (t counts every step), for each entry
/// present in the gradient, after repeated indices are summed in the order
/// given:
///
///     d ← g  (−g with maximize)
///     m ← m + (1 − β₁)·(d − m)
///     v ← v + (1 − β₂)·(d² − v)
///     θ ← θ − α_t·m / (√v + ε),   α_t = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)
///
/// Absent entries keep θ, m and v: their moments do not decay, so an entry
/// seen after k steps away moves as a dense Adam would had its gradients
/// been absent rather than zero. The update's arithmetic is torch's, in its
/// order (the moments as increments, ε added to the uncorrected √v, α_t in
/// double), so double runs reproduce torch to the last bits or nearly.
///
/// The step takes a RowSparse gradient (row indices and their rows, for a
/// row-major table), an `Eigen::SparseVector`, or a dense gradient, of which
/// every entry is present: torch refuses dense gradients, but a dense step
/// is then the sparse step that holds every entry, bit for bit, which lets
/// SparseAdam be an Optimizer like the others (make_optimizer, checkpoints,
/// schedulers). With every entry present on every step it is Adam with
/// ε outside the root of the *uncorrected* v (EpsHat, Keras's form), to
/// rounding; not torch.optim.Adam, which adds ε to √v̂ (OutsideSqrt), a
/// difference of ε·(1/√(1 − β₂ᵗ) − 1) in the denominator.
///
/// weight_decay and decoupled_weight_decay, which every optimizer's Options
/// carry, must stay 0 and false: a decay would reach the rows a sparse
/// gradient leaves out (torch.optim.SparseAdam has none).
template <typename Scalar_>
class SparseAdam : public detail::SparseOptimizerBase<SparseAdam<Scalar_>, Scalar_> {
  using Base = detail::SparseOptimizerBase<SparseAdam<Scalar_>, Scalar_>;
  friend Base;
  friend detail::OptimizerBase<SparseAdam<Scalar_>, Scalar_>;

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;

  /// \brief The hyperparameters, each field with its default and valid
  /// range; the constructor checks them. The defaults are
  /// torch.optim.SparseAdam's (pytorch()).
  struct Options {
    /// Step size α; finite and >= 0. Default 0.001.
    Scalar lr = Scalar(0.001);
    /// Decay β₁ of the first-moment average; in [0, 1). Default 0.9.
    Scalar beta1 = Scalar(0.9);
    /// Decay β₂ of the second-moment average; in [0, 1). Default 0.999.
    Scalar beta2 = Scalar(0.999);
    /// ε added to √v; finite and >= 0. Default 1e-8.
    Scalar eps = Scalar(1e-8);
    /// Must be 0 (no weight decay; see the class comment).
    Scalar weight_decay = Scalar(0);
    /// Must be false.
    bool decoupled_weight_decay = false;
    /// Ascend instead of descend (d = −g). Default false.
    bool maximize = false;
    /// What a step does with NaN or ±inf among the values present. Default
    /// Propagate.
    NonFinite nonfinite = NonFinite::Propagate;

    /// torch.optim.SparseAdam(): the defaults.
    static Options pytorch() { return {}; }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit SparseAdam(Options options = {}) : Base(checked(options).lr), options_(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "SparseAdam";
  /// The class name, kName.
  std::string_view name() const noexcept override { return kName; }

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("beta1", o.beta1);
    f("beta2", o.beta2);
    f("eps", o.eps);
    detail::for_each_common_option(o, f);
  }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_unit_interval(kName, "beta1", o.beta1);
    detail::check_unit_interval(kName, "beta2", o.beta2);
    detail::check_nonnegative(kName, "eps", o.eps);
    detail::check_common_options(kName, o);
    if (o.weight_decay != Scalar(0)) {
      detail::throw_invalid(kName, "weight_decay",
                            "0 (a decay would reach the rows a sparse gradient leaves out)",
                            o.weight_decay);
    }
    if (o.decoupled_weight_decay) {
      detail::throw_invalid_combination(
          kName, "decoupled_weight_decay must be false (SparseAdam has no weight decay), got true");
    }
    return o;
  }

  // First moment m, second moment v.
  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.m_, &s.v_};
  }
  static constexpr std::array<detail::StateArray, 2> kStateArrays{{{"m", false}, {"v", true}}};

  void allocate_state(Index n) override {
    m_.setZero(n);
    v_.setZero(n);
  }
  void release_state() noexcept override {
    m_.resize(0);
    v_.resize(0);
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept override {
    with_kernel(t, [&](const auto& make) { this->for_each_element(n, make(x, g, Index(0))); });
  }

  template <typename Run>
  void with_kernel(std::int64_t t, const Run& run) {
    const Options& o = options_;
    const double beta1 = double(o.beta1), beta2 = double(o.beta2);
    const double bias1 = 1.0 - detail::power(beta1, double(t));
    const double bias2 = 1.0 - detail::power(beta2, double(t));
    // torch: -(lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)) in double, then one multiply of m/(√v + ε).
    const auto minus_step = static_cast<Scalar>(-(double(this->lr()) * std::sqrt(bias2) / bias1));
    const auto c1 = static_cast<Scalar>(1.0 - beta1);
    const auto c2 = static_cast<Scalar>(1.0 - beta2);
    const Scalar sign = o.maximize ? Scalar(-1) : Scalar(1);
    const Scalar eps = o.eps;
    Scalar* m0 = m_.data();
    Scalar* v0 = v_.data();
    detail::with_flag(o.maximize, [&](auto maximize) {
      run([=](Scalar* x, const Scalar* g, Index offset) {
        Scalar* m = m0 + offset;
        Scalar* v = v0 + offset;
        return [=](auto lanes, Index i) {
          using V = decltype(lanes);
          V di = V::load(g + i);
          if constexpr (maximize()) di = V(sign) * di;
          const V mi = V::load(m + i);
          const V vi = V::load(v + i);
          const V m_new = mi + V(c1) * (di - mi);
          const V v_new = vi + V(c2) * (di * di - vi);
          m_new.store(m + i);
          v_new.store(v + i);
          (V::load(x + i) + V(minus_step) * (m_new / (sqrt(v_new) + V(eps)))).store(x + i);
        };
      });
    });
  }

  void check_sparse_step() const noexcept {}

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> m_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> v_;
};

}  // namespace descent
