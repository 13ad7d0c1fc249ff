#pragma once
/// \file
/// Gradient clipping with torch.nn.utils' semantics: clip_grad_norm rescales
/// a set of gradients so that their joint p-norm is at most max_norm;
/// clip_grad_value clamps every element to [−c, c].

#include "detail/check.hpp"

#include <cfloat>
#include <cmath>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

namespace descent {

/// Options of clip_grad_norm beyond max_norm.
struct ClipGradNormOptions {
  /// p of the p-norm; > 0, or infinity for the largest |g|. Default 2.
  double norm_type = 2.0;
  /// Throw std::invalid_argument, leaving the gradients untouched, if the
  /// total norm is NaN or ±inf (PyTorch's error_if_nonfinite). Default
  /// false: a NaN norm turns every gradient into NaN and an infinite one
  /// zeroes the finite elements, as in PyTorch.
  bool error_if_nonfinite = false;
};

namespace detail {

template <typename T>
using remove_cvref_t = std::remove_cv_t<std::remove_reference_t<T>>;

template <typename Derived>
std::true_type is_dense_test(const Eigen::DenseBase<Derived>*);
std::false_type is_dense_test(...);

/// True for Eigen dense objects and expressions, whatever the reference.
template <typename T>
constexpr bool is_eigen_dense = decltype(is_dense_test(std::declval<remove_cvref_t<T>*>()))::value;

template <typename T, typename = void>
struct range_element {
  using type = void;
};
template <typename T>
struct range_element<T, std::void_t<decltype(*std::begin(std::declval<T&>())),
                                    decltype(std::end(std::declval<T&>()))>> {
  using type = decltype(*std::begin(std::declval<T&>()));
};

/// True for a range (std::vector, std::array, …) of Eigen dense objects.
/// (Eigen's own vectors are ranges of scalars, its matrices not ranges.)
template <typename T, bool kDense = is_eigen_dense<T>>
struct is_gradient_range : std::false_type {};
template <typename T>
struct is_gradient_range<T, false>
    : std::bool_constant<is_eigen_dense<typename range_element<T>::type>> {};

/// What the clip functions take as a gradient: an Eigen dense object, or a
/// range of them. Anything else (a double, say) makes the overload drop out.
template <typename T>
constexpr bool is_gradient_arg = is_eigen_dense<T> || is_gradient_range<T>::value;

template <typename... Ts>
constexpr bool are_gradient_args = (is_gradient_arg<Ts> && ...);

template <typename... Ts>
using enable_if_gradients = std::enable_if_t<are_gradient_args<Ts...>, int>;

/// Calls f(g) on g, or on every element of the range g.
template <typename F, typename G>
void for_each_gradient(F& f, G&& g) {
  if constexpr (is_eigen_dense<G>) {
    using D = remove_cvref_t<G>;
    static_assert(std::is_same<typename D::Scalar, float>::value ||
                      std::is_same<typename D::Scalar, double>::value,
                  "descent::clip_grad_norm / clip_grad_value: gradients must hold float or double");
    static_assert(!std::is_const<std::remove_reference_t<G>>::value &&
                      (int(D::Flags) & Eigen::LvalueBit) != 0,
                  "descent::clip_grad_norm / clip_grad_value: gradients must be writable");
    f(g);
  } else {
    for (auto&& element : g) for_each_gradient(f, element);
  }
}

/// Σ (|g_i| / scale)^p, in double.
template <typename G>
double sum_of_powers(const G& g, double p, double scale) {
  const auto a = g.array().template cast<double>().abs() / scale;
  if (p == 2.0) return a.abs2().sum();
  if (p == 1.0) return a.sum();
  return a.pow(p).sum();
}

/// The p-th root of s.
inline double root(double s, double p) {
  if (p == 2.0) return std::sqrt(s);
  if (p == 1.0) return s;
  return std::pow(s, 1.0 / p);
}

/// The p-norm of all elements of all gradients, as one vector; NaN if any
/// element is NaN.
template <typename... Grads>
double total_norm(double p, Grads&&... grads) {
  const auto visit = [&](auto&& f) { (for_each_gradient(f, grads), ...); };
  const auto largest = [&] {
    double m = 0;  // sticks at NaN once it is NaN
    visit([&m](const auto& g) {
      if (g.size() == 0) return;
      const double gm = double(g.array().abs().template maxCoeff<Eigen::PropagateNaN>());
      if (gm > m || std::isnan(gm)) m = gm;
    });
    return m;
  };
  if (std::isinf(p)) return largest();

  // One pass in the common case. A sum that overflowed, or that is so small
  // that its terms may have underflowed, is redone scaled by the largest
  // |g|, which cannot overflow and loses only negligible terms.
  double sum = 0;
  visit([&](const auto& g) { sum += sum_of_powers(g, p, 1.0); });
  if (std::isfinite(sum) && sum >= DBL_MIN / DBL_EPSILON) return root(sum, p);
  const double m = largest();
  if (std::isnan(m) || std::isinf(m) || m == 0) return m;
  double scaled = 0;
  visit([&](const auto& g) { scaled += sum_of_powers(g, p, m); });
  return m * root(scaled, p);
}

template <typename... Grads>
double clip_grad_norm_impl(double max_norm, const ClipGradNormOptions& options, Grads&&... grads) {
  constexpr std::string_view kWho = "clip_grad_norm";
  check_nonnegative(kWho, "max_norm", max_norm);
  const double p = options.norm_type;
  if (!(p > 0)) throw_invalid(kWho, "norm_type", "> 0 (or infinity for the max norm)", p);

  const double total = total_norm(p, grads...);
  if (options.error_if_nonfinite && !std::isfinite(total)) {
    std::string message = "descent::clip_grad_norm: the total ";
    message += std::isinf(p) ? std::string("inf") : to_text(p);
    message += "-norm of the gradients is " + to_text(total) +
               ", so it cannot be clipped (error_if_nonfinite); the gradients are unchanged";
    throw std::invalid_argument(message);
  }
  const double coef = max_norm / (total + 1e-6);
  // PyTorch multiplies by min(coef, 1) always; by 1 that changes no bit.
  if (!(coef >= 1.0)) {
    const auto scale = [coef](auto& g) {
      using S = typename remove_cvref_t<decltype(g)>::Scalar;
      g *= static_cast<S>(coef);
    };
    (for_each_gradient(scale, grads), ...);
  }
  return total;
}

}  // namespace detail

/// \brief Rescales gradients so that their joint p-norm is at most max_norm,
/// as torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type,
/// error_if_nonfinite) does.
///
/// The gradients are taken together as one vector g (PyTorch's total norm,
/// the p-norm of the per-tensor p-norms, equals its p-norm):
///
///     N    = ‖g‖_p = (Σ |g_i|^p)^(1/p)     (p = ∞: max |g_i|)
///     coef = min(max_norm / (N + 1e-6), 1)
///     g   ← coef·g
///
/// so the clipped norm is just below max_norm, and gradients already within
/// it are left alone. Call it between computing the gradient and
/// optimizer.step().
///
/// \param max_norm the largest norm let through; finite and >= 0.
/// \param options norm_type (p, default 2) and error_if_nonfinite.
/// \param grad,grads one or more gradients, each a writable Eigen dense object of
///   float or double (VectorX, ArrayX, MatrixX, Map, Ref, a segment or block,
///   whatever its strides), or a range of them (std::vector<VectorXf>, …);
///   they may mix float and double. Empty gradients count for nothing.
/// \returns N, the total norm before clipping; NaN if an element is NaN,
///   inf if one is ±inf.
/// \throws std::invalid_argument, with the gradients untouched, if max_norm
///   is negative or not finite, if norm_type is not > 0, or, with
///   error_if_nonfinite, if N is not finite.
///
/// N is accumulated in double for float gradients as well, so float results
/// are more exact than PyTorch's float32 arithmetic: they agree with it to a
/// few float ulps, not bitwise. coef is formed in double and rounded once to
/// each gradient's scalar type. A sum of powers that overflows or may have
/// underflowed (p-norms of elements near the ends of the range) is recomputed
/// scaled by max |g_i|, so N is finite whenever it is representable (where
/// PyTorch would return inf or 0). The multiplication is skipped when coef
/// is 1, which PyTorch performs to no effect. Costs one pass over the
/// gradients for the norm and one for the scaling (p = ∞: one pass each).
///
/// \sa clip_grad_value
template <typename Grad, typename... Grads, detail::enable_if_gradients<Grad, Grads...> = 0>
double clip_grad_norm(double max_norm, const ClipGradNormOptions& options, Grad&& grad,
                      Grads&&... grads) {
  return detail::clip_grad_norm_impl(max_norm, options, grad, grads...);
}

/// clip_grad_norm with norm_type as given (> 0, or
/// std::numeric_limits<double>::infinity() for the max norm) and no
/// error_if_nonfinite.
template <typename Grad, typename... Grads, detail::enable_if_gradients<Grad, Grads...> = 0>
double clip_grad_norm(double max_norm, double norm_type, Grad&& grad, Grads&&... grads) {
  ClipGradNormOptions options;
  options.norm_type = norm_type;
  return detail::clip_grad_norm_impl(max_norm, options, grad, grads...);
}

/// clip_grad_norm with the 2-norm and no error_if_nonfinite.
template <typename Grad, typename... Grads, detail::enable_if_gradients<Grad, Grads...> = 0>
double clip_grad_norm(double max_norm, Grad&& grad, Grads&&... grads) {
  return detail::clip_grad_norm_impl(max_norm, ClipGradNormOptions{}, grad, grads...);
}

/// \brief Clamps every element of the gradients to [−clip_value,
/// clip_value], as torch.nn.utils.clip_grad_value_(parameters, clip_value).
///
/// \param clip_value finite and >= 0; rounded to each gradient's scalar type.
/// \param grad,grads as for clip_grad_norm: writable Eigen dense objects or ranges
///   of them. NaN elements stay NaN, as in PyTorch.
/// \throws std::invalid_argument, with the gradients untouched, if
///   clip_value is negative or not finite.
/// \sa clip_grad_norm
template <typename Grad, typename... Grads, detail::enable_if_gradients<Grad, Grads...> = 0>
void clip_grad_value(double clip_value, Grad&& grad, Grads&&... grads) {
  detail::check_nonnegative("clip_grad_value", "clip_value", clip_value);
  const auto clamp = [clip_value](auto& g) {
    using S = typename detail::remove_cvref_t<decltype(g)>::Scalar;
    const auto c = static_cast<S>(clip_value);
    // Written out rather than with max/min, whose NaN handling Eigen leaves
    // unspecified.
    g = g.unaryExpr([c](S x) { return x < -c ? -c : (c < x ? c : x); });
  };
  detail::for_each_gradient(clamp, grad);
  (detail::for_each_gradient(clamp, grads), ...);
}

}  // namespace descent

namespace descent::mpi {

/// \brief Clipping of the mean gradient by its global norm, for the step
/// overload of descent::mpi::DataParallel and descent::mpi::Sharded that
/// takes it (mpi.hpp): what descent::clip_grad_norm(max_norm, options,
/// mean) would do to the mean over the ranks before the update.
struct ClipGradNorm {
  /// The largest norm let through; finite and >= 0.
  double max_norm = 1.0;
  /// norm_type (p, default 2; infinity for max |g|) and error_if_nonfinite.
  ClipGradNormOptions options = {};
};

}  // namespace descent::mpi
