#pragma once
/// \file
/// Adam (lecture section 8), with AMSGrad, weight decay (L2 or decoupled)
/// and Keras's ε̂ form as options; AdamW is in adamw.hpp.

#include "detail/bf16_state.hpp"
#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/optimizer_base.hpp"
#include "nonfinite.hpp"
#include "state_storage.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <string_view>

#include <Eigen/Core>

namespace descent {
namespace detail {

/// Adam and AdamW: one algorithm, whose defaults differ (kAdamW).
template <typename Scalar_, bool kAdamW>
class AdamFamily : public OptimizerBase<AdamFamily<Scalar_, kAdamW>, Scalar_> {
  using Base = OptimizerBase<AdamFamily<Scalar_, kAdamW>, Scalar_>;
  friend Base;
  static constexpr std::string_view kClass = kAdamW ? "AdamW" : "Adam";

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
    /// Where ε enters the denominator. Default InsideSqrt for Adam (the
    /// lecture's), OutsideSqrt for AdamW (PyTorch's).
    EpsPlacement eps_placement = kAdamW ? EpsPlacement::OutsideSqrt : EpsPlacement::InsideSqrt;
    /// Divide by the largest second moment so far (Reddi et al. 2018).
    /// Default false.
    bool amsgrad = false;
    /// Weight decay λ; finite and >= 0. Default 0 for Adam, 0.01 for AdamW.
    Scalar weight_decay = kAdamW ? Scalar(0.01) : Scalar(0);
    /// Decay θ by lr·λ·θ before the update (Loshchilov & Hutter, AdamW)
    /// instead of adding λ·θ to the gradient (L2). Default false for Adam,
    /// true for AdamW.
    bool decoupled_weight_decay = kAdamW;
    /// Ascend instead of descend (d = −g). Default false.
    bool maximize = false;
    /// The type of m, v and v̄: Same (Scalar) or BFloat16 (float only).
    /// Default Same.
    StateStorage state_storage = StateStorage::Same;
    /// Round the bfloat16 state stochastically instead of to nearest even;
    /// needs BFloat16. Default false.
    bool stochastic_rounding = false;
    /// Seed of the stochastic rounding's bits, any 32-bit value. Default 0.
    std::uint32_t rounding_seed = 0;
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;

    /// The defaults: the lecture's for Adam; PyTorch's for AdamW, which the
    /// lecture does not cover.
    static Options lecture() { return {}; }
    /// torch.optim.Adam() / AdamW(): lr 0.001, eps 1e-8 outside the root
    /// (AdamW: weight_decay 0.01, decoupled).
    static Options pytorch() {
      Options o;
      o.eps_placement = EpsPlacement::OutsideSqrt;
      return o;
    }
    /// keras.optimizers.Adam() / AdamW(): lr 0.001, ε̂ = 1e-7 (EpsHat),
    /// weight decay decoupled (AdamW: weight_decay 0.004).
    static Options keras() {
      Options o;
      o.eps = Scalar(1e-7);
      o.eps_placement = EpsPlacement::EpsHat;
      o.decoupled_weight_decay = true;
      if (kAdamW) o.weight_decay = Scalar(0.004);
      return o;
    }
  };

  static constexpr std::string_view kName = kClass;
  std::string_view name() const noexcept override { return kName; }

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("beta1", o.beta1);
    f("beta2", o.beta2);
    f("eps", o.eps);
    f("eps_placement", o.eps_placement);
    f("amsgrad", o.amsgrad);
    for_each_common_option(o, f);
  }

 protected:
  explicit AdamFamily(const Options& options) : Base(checked(options).lr), options_(options) {}

 private:
  static const Options& checked(const Options& o) {
    check_nonnegative(kClass, "lr", o.lr);
    check_unit_interval(kClass, "beta1", o.beta1);
    check_unit_interval(kClass, "beta2", o.beta2);
    check_nonnegative(kClass, "eps", o.eps);
    check_enum(kClass, "eps_placement", o.eps_placement);
    check_storage_options<Scalar>(kClass, o);
    check_common_options(kClass, o);
    return o;
  }

  // First moment m, second moment v, running maximum of v (amsgrad).
  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.m_, &s.v_, &s.v_max_};
  }
  static constexpr std::array<StateArray, 3> kStateArrays{
      {{"m", false}, {"v", true}, {"v_max", true}}};
  static bool uses_array(const Options& o, std::size_t k) { return k < 2 || o.amsgrad; }
  template <typename Self>
  static auto bf16_state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.m16_, &s.v16_, &s.v_max16_};
  }

  void allocate_state(Index n) override {
    if (stores_bf16(options_)) {
      m16_.setZero(n);
      v16_.setZero(n);
      if (options_.amsgrad) v_max16_.setZero(n);
      return;
    }
    m_.setZero(n);
    v_.setZero(n);
    if (options_.amsgrad) v_max_.setZero(n);
  }
  void release_state() noexcept override {
    m_.resize(0);
    v_.resize(0);
    v_max_.resize(0);
    m16_.resize(0);
    v16_.resize(0);
    v_max16_.resize(0);
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept override {
    const Options& o = options_;
    const double lr = double(this->lr());
    const double bias1 = 1.0 - power(double(o.beta1), double(t));
    const double bias2 = 1.0 - power(double(o.beta2), double(t));
    const Scalar beta1 = o.beta1, one_minus_beta1 = Scalar(1) - o.beta1;
    const Scalar beta2 = o.beta2, one_minus_beta2 = Scalar(1) - o.beta2;
    const Scalar eps = o.eps;
    // x ← keep·x − step_size·m / denominator, where v_scale scales v inside
    // the root (InsideSqrt: 1/(1 − β₂ᵗ)) or √v outside it (OutsideSqrt:
    // 1/√(1 − β₂ᵗ); EpsHat: 1, its correction being in step_size).
    const bool hat = o.eps_placement == EpsPlacement::EpsHat;
    const auto step_size = static_cast<Scalar>(hat ? lr * std::sqrt(bias2) / bias1 : lr / bias1);
    const auto v_scale = static_cast<Scalar>(o.eps_placement == EpsPlacement::InsideSqrt
                                                 ? 1.0 / bias2
                                                 : (hat ? 1.0 : 1.0 / std::sqrt(bias2)));
    const auto adjust = GradientAdjust<Scalar>::from(o, this->lr());
    with_storage<Scalar>(o, t, this->element_offset(), [&](auto storage) {
      const auto m = storage(0, m_, m16_);
      const auto v = storage(1, v_, v16_);
      const auto v_max = storage(2, v_max_, v_max16_);
      with_placement(o.eps_placement, [&](auto placement) {
        with_flag(adjust.active(), [&](auto active) {
          with_flag(o.amsgrad, [&](auto amsgrad) {
            constexpr bool inside = decltype(placement)::value == EpsPlacement::InsideSqrt;
            this->for_each_element(n, [=](auto lanes, Index i) {
              using V = decltype(lanes);
              V xi = V::load(x + i);
              const V di = adjust.template operator()<active()>(V::load(g + i), xi);
              const V mi = V(beta1) * V::load(m + i) + V(one_minus_beta1) * di;
              const V vi = V(beta2) * V::load(v + i) + V(one_minus_beta2) * di * di;
              mi.store(m + i);
              vi.store(v + i);
              V wi = vi;
              if constexpr (amsgrad()) {
                wi = max(V::load(v_max + i), vi);
                wi.store(v_max + i);
              }
              const V denom =
                  inside ? sqrt(wi * V(v_scale) + V(eps)) : sqrt(wi) * V(v_scale) + V(eps);
              (xi - V(step_size) * mi / denom).store(x + i);
            });
          });
        });
      });
    });
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> m_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> v_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> v_max_;
  Bf16Vector m16_, v16_, v_max16_;  // the same, with state_storage BFloat16
};

}  // namespace detail

/// \brief Adam (lecture section 8; Kingma & Ba, arXiv:1412.6980): RMSprop plus
/// a moving average of the gradient itself, both bias-corrected.
///
/// Inputs: lr (α), beta1 (β₁), beta2 (β₂), eps (ε), eps_placement, amsgrad,
/// weight_decay (λ), decoupled_weight_decay, maximize. State: m₀ = v₀ = 0
/// (and v̄₀ = 0 with amsgrad). Per step t = 1, 2, …:
///
///     d ← g  (−g with maximize)
///     d ← d + λ·θ                   (λ > 0, L2: the default)
///     θ ← (1 − lr·λ)·θ              (λ > 0, decoupled_weight_decay: AdamW)
///     m ← β₁·m + (1 − β₁)·d
///     v ← β₂·v + (1 − β₂)·d²
///     v̄ ← max(v̄, v), and v̄ stands for v below   (amsgrad)
///     m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
///     θ ← θ − lr·m̂ / √(v̂ + ε)       (InsideSqrt, the lecture's; default)
///     θ ← θ − lr·m̂ / (√v̂ + ε)       (OutsideSqrt, the paper's and PyTorch's)
///     θ ← θ − α_t·m / (√v + ε)      (EpsHat, Keras's;
///                                     α_t = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ))
///
/// The bias corrections are computed once per step in double, as
/// lr/(1 − β₁ᵗ) and 1/(1 − β₂ᵗ) (or 1/√(1 − β₂ᵗ)), so m̂ and v̂ are never
/// stored. With OutsideSqrt this reproduces torch.optim.Adam(lr, betas, eps,
/// weight_decay, amsgrad, maximize) to rounding, and with
/// decoupled_weight_decay torch.optim.AdamW; with EpsHat, keras.optimizers.Adam.
template <typename Scalar_>
class Adam : public detail::AdamFamily<Scalar_, false> {
  using Base = detail::AdamFamily<Scalar_, false>;

 public:
  /// \brief The hyperparameters, in the order declared; the constructor
  /// checks them.
  ///
  /// | field | default | valid | meaning |
  /// |---|---|---|---|
  /// | `lr` | 0.001 | finite, >= 0 | step size α |
  /// | `beta1` | 0.9 | [0, 1) | decay β₁ of the first-moment average |
  /// | `beta2` | 0.999 | [0, 1) | decay β₂ of the second-moment average |
  /// | `eps` | 1e-8 | finite, >= 0 | ε in the denominator |
  /// | `eps_placement` | InsideSqrt | EpsPlacement | where ε enters the denominator |
  /// | `amsgrad` | false | | divide by the largest v so far (Reddi et al. 2018) |
  /// | `weight_decay` | 0 | finite, >= 0 | weight decay λ |
  /// | `decoupled_weight_decay` | false | | θ ← (1 − lr·λ)·θ instead of d ← d + λ·θ |
  /// | `maximize` | false | | ascend: d = −g |
  /// | `state_storage` | Same | StateStorage | state as Scalar, or as bfloat16 (float only) |
  /// | `stochastic_rounding` | false | needs BFloat16 | round bfloat16 state stochastically |
  /// | `rounding_seed` | 0 | any uint32 | seed of the stochastic rounding |
  /// | `nonfinite` | Propagate | NonFinite | what a step does with NaN or ±inf in grad |
  ///
  /// The defaults are the lecture's (`Options::lecture()`);
  /// `Options::pytorch()` is torch.optim.Adam's (ε outside the root) and
  /// `Options::keras()` keras.optimizers.Adam's (ε̂ = 1e-7 with EpsHat,
  /// decoupled weight decay).
  using Options = typename Base::Options;

  /// \param options the hyperparameters, set field by field:
  ///   `Adam<float>::Options o; o.lr = 3e-4f; Adam<float> adam(o);`
  /// \throws std::invalid_argument if an option is out of range.
  explicit Adam(Options options = {}) : Base(options) {}
};

}  // namespace descent
