#pragma once
/// \file
/// Adam (lecture section 8).

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "optimizer.hpp"

namespace descent {

/// \brief Adam (lecture section 8; Kingma & Ba, arXiv:1412.6980): RMSprop plus
/// a moving average of the gradient itself, both bias-corrected.
///
/// Inputs: lr (α), beta1 (β₁), beta2 (β₂), eps (ε), eps_placement. State:
/// m₀ = v₀ = 0. Per step t = 1, 2, …:
///
///     m ← β₁·m + (1 − β₁)·g
///     v ← β₂·v + (1 − β₂)·g²
///     m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
///     θ ← θ − lr·m̂ / √(v̂ + ε)      (InsideSqrt, the lecture's; default)
///     θ ← θ − lr·m̂ / (√v̂ + ε)      (OutsideSqrt, the paper's and PyTorch's)
///
/// The bias corrections are computed once per step in double, as
/// lr/(1 − β₁ᵗ) and 1/(1 − β₂ᵗ) (or 1/√(1 − β₂ᵗ)), so m̂ and v̂ are never
/// stored. With OutsideSqrt this reproduces torch.optim.Adam (amsgrad false,
/// weight_decay 0) to rounding.
template <typename Scalar_>
class Adam : public Optimizer<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Index = Eigen::Index;

  struct Options {
    /// Step size α; finite and >= 0. Default 0.001.
    Scalar lr = Scalar(0.001);
    /// Decay β₁ of the first-moment average; in [0, 1). Default 0.9.
    Scalar beta1 = Scalar(0.9);
    /// Decay β₂ of the second-moment average; in [0, 1). Default 0.999.
    Scalar beta2 = Scalar(0.999);
    /// ε in the denominator; finite and >= 0. Default 1e-8.
    Scalar eps = Scalar(1e-8);
    /// Where ε enters the denominator. Default InsideSqrt.
    EpsPlacement eps_placement = EpsPlacement::InsideSqrt;
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit Adam(Options options = {}) : Optimizer<Scalar>(checked(options).lr), options_(options) {}

  static constexpr std::string_view kName = "Adam";
  std::string_view name() const noexcept override { return kName; }

  /// The options, with lr as currently set.
  Options options() const { return this->with_current_lr(options_); }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_unit_interval(kName, "beta1", o.beta1);
    detail::check_unit_interval(kName, "beta2", o.beta2);
    detail::check_nonnegative(kName, "eps", o.eps);
    return o;
  }

  /// Per-step constants: x ← x − step_size·m / denominator(v·v_scale, eps).
  struct Coefficients {
    Scalar beta1, one_minus_beta1, beta2, one_minus_beta2, step_size, v_scale, eps;
  };

  // InsideSqrt: v_scale = 1/(1 − β₂ᵗ) scales v inside the root.
  // OutsideSqrt: v_scale = 1/√(1 − β₂ᵗ) scales √v.
  template <EpsPlacement P>
  static void kernel(Scalar* DESCENT_RESTRICT x, const Scalar* DESCENT_RESTRICT g,
                     Scalar* DESCENT_RESTRICT m, Scalar* DESCENT_RESTRICT v, Index n,
                     const Coefficients c) noexcept {
    for (Index i = 0; i < n; ++i) {
      const Scalar gi = g[i];
      const Scalar mi = c.beta1 * m[i] + c.one_minus_beta1 * gi;
      const Scalar vi = c.beta2 * v[i] + c.one_minus_beta2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      Scalar denom;
      if constexpr (P == EpsPlacement::InsideSqrt) {
        denom = std::sqrt(vi * c.v_scale + c.eps);
      } else {
        denom = std::sqrt(vi) * c.v_scale + c.eps;
      }
      x[i] -= c.step_size * mi / denom;
    }
  }

  void allocate_state(Index n) override {
    m_.setZero(n);
    v_.setZero(n);
  }
  void release_state() noexcept override {
    m_.resize(0);
    v_.resize(0);
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept override {
    const Options& o = options_;
    const double bias1 = 1.0 - std::pow(double(o.beta1), double(t));
    const double bias2 = 1.0 - std::pow(double(o.beta2), double(t));
    const bool inside = o.eps_placement == EpsPlacement::InsideSqrt;
    const Coefficients c{o.beta1,
                         Scalar(1) - o.beta1,
                         o.beta2,
                         Scalar(1) - o.beta2,
                         static_cast<Scalar>(double(this->lr()) / bias1),
                         static_cast<Scalar>(inside ? 1.0 / bias2 : 1.0 / std::sqrt(bias2)),
                         o.eps};
    Scalar* m = m_.data();
    Scalar* v = v_.data();
    detail::for_range(n, [&](Index b, Index e) {
      if (inside) {
        kernel<EpsPlacement::InsideSqrt>(x + b, g + b, m + b, v + b, e - b, c);
      } else {
        kernel<EpsPlacement::OutsideSqrt>(x + b, g + b, m + b, v + b, e - b, c);
      }
    });
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> m_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> v_;
};

}  // namespace descent
