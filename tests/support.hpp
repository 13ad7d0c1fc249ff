#pragma once
// Shared test support: the lecture's formulas written the plain way, one
// coordinate at a time, as the reference the library's fused kernels are
// checked against; small test problems; comparison helpers.

#include "instantiations.hpp"

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <catch2/catch.hpp>
#include <descent/checkpoint.hpp>
#include <descent/detail/serialize.hpp>
#include <descent/eps_placement.hpp>

namespace support {

/// Whether this build runs under AddressSanitizer or ThreadSanitizer, which
/// make every memory access 2-15 times slower: the tests that sweep sizes
/// then keep the sizes that reach each code path and drop the larger
/// repeats of them (the plain build runs them all).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

template <typename S>
using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;

/// The Options of optimizer type Opt: its defaults, then `set(options)`,
/// which assigns by name the fields a test changes:
/// `options<Adam<S>>([](auto& o) { o.lr = S(0.1); })`.
template <typename Opt, typename Set>
typename Opt::Options options(Set&& set) {
  typename Opt::Options o;
  set(o);
  return o;
}

/// An Opt constructed from options<Opt>(set).
template <typename Opt, typename Set>
Opt with_options(Set&& set) {
  return Opt(options<Opt>(std::forward<Set>(set)));
}

/// Tolerances of a trajectory against a reference framework's, as
/// |descent − reference| <= abs + rel·|reference|: double agrees to rounding,
/// float within what float's rounding of the options and the order of
/// operations move (see each reference test for what it observes).
template <typename S>
struct ReferenceTolerance;
template <>
struct ReferenceTolerance<double> {
  static constexpr double rel = 1e-10;
  static constexpr double abs = 1e-14;
  static constexpr const char* dtype = "float64";
};
template <>
struct ReferenceTolerance<float> {
  static constexpr double rel = 1e-5;
  static constexpr double abs = 1e-6;
  static constexpr const char* dtype = "float32";
};

/// Relative tolerance for "equal up to rounding" over a long trajectory.
template <typename S>
constexpr S trajectory_tol() {
  return std::is_same<S, float>::value ? S(2e-5) : S(1e-12);
}

/// max_i |a_i − b_i| / max(|b_i|, floor).
template <typename A, typename B>
double max_rel_error(const A& a, const B& b, double floor = 1e-300) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    const double ai = static_cast<double>(a(i));
    const double bi = static_cast<double>(b(i));
    const double err = std::abs(ai - bi) / std::max(std::abs(bi), floor);
    if (!(err <= worst)) worst = err;  // NaN propagates as "worst"
  }
  return worst;
}

/// True when a and b hold the same bits, element by element.
template <typename A, typename B>
bool bitwise_equal(const A& a, const B& b) {
  if (a.size() != b.size()) return false;
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    if (!(a(i) == b(i))) return false;
  }
  return true;
}

/// What object.save() writes: equal bytes, equal state.
template <typename T>
std::string bytes_of(const T& object) {
  std::ostringstream out;
  object.save(out);
  return out.str();
}

// ---------------------------------------------------------------------------
// The lecture's update rules, per coordinate, written as printed. Each keeps
// its own state and counts its steps.

template <typename S>
struct RefGradientDescent {  // section 2
  S lr;
  void step(Vec<S>& x, const Vec<S>& g) {
    for (Eigen::Index i = 0; i < x.size(); ++i) x(i) = x(i) + (-lr * g(i));
  }
};

template <typename S>
struct RefKerasSGD {  // section 5's Keras signature
  S lr, momentum;
  bool nesterov;
  S decay;
  Vec<S> v;
  std::int64_t iterations = 0;
  void step(Vec<S>& x, const Vec<S>& g) {
    if (v.size() == 0) v = Vec<S>::Zero(x.size());
    const S lr_t = S(double(lr) * (1.0 / (1.0 + double(decay) * double(iterations))));
    ++iterations;
    for (Eigen::Index i = 0; i < x.size(); ++i) {
      v(i) = momentum * v(i) - lr_t * g(i);
      x(i) = nesterov ? x(i) + momentum * v(i) - lr_t * g(i) : x(i) + v(i);
    }
  }
};

template <typename S>
struct RefMomentum {  // section 4
  S lr, beta;
  Vec<S> delta;
  void step(Vec<S>& x, const Vec<S>& g) {
    if (delta.size() == 0) delta = Vec<S>::Zero(x.size());
    for (Eigen::Index i = 0; i < x.size(); ++i) {
      delta(i) = beta * delta(i) - (1 - beta) * lr * g(i);
      x(i) = x(i) + delta(i);
    }
  }
};

/// Section 5 run literally: holds the true iterate θ and asks for the
/// gradient at the look-ahead point θ + βΔ.
template <typename S>
struct RefNesterov {
  S lr, beta;
  Vec<S> theta, delta;
  Vec<S> lookahead() const { return theta + beta * delta; }
  void step(const Vec<S>& grad_at_lookahead) {
    if (delta.size() == 0) delta = Vec<S>::Zero(theta.size());
    for (Eigen::Index i = 0; i < theta.size(); ++i) {
      delta(i) = beta * delta(i) - (1 - beta) * lr * grad_at_lookahead(i);
      theta(i) = theta(i) + delta(i);
    }
  }
};

template <typename S>
S ref_denominator(S v, S eps, descent::EpsPlacement p) {
  return p == descent::EpsPlacement::InsideSqrt ? std::sqrt(v + eps) : std::sqrt(v) + eps;
}

template <typename S>
struct RefAdaGrad {  // section 6, with eps
  S lr, eps, h0;
  descent::EpsPlacement placement;
  Vec<S> h;
  void step(Vec<S>& x, const Vec<S>& g) {
    if (h.size() == 0) h = Vec<S>::Constant(x.size(), h0);
    for (Eigen::Index i = 0; i < x.size(); ++i) {
      h(i) = h(i) + g(i) * g(i);
      x(i) = x(i) - lr / ref_denominator(h(i), eps, placement) * g(i);
    }
  }
};

template <typename S>
struct RefRMSprop {  // section 7
  S lr, rho, eps;
  descent::EpsPlacement placement;
  Vec<S> v;
  void step(Vec<S>& x, const Vec<S>& g) {
    if (v.size() == 0) v = Vec<S>::Zero(x.size());
    for (Eigen::Index i = 0; i < x.size(); ++i) {
      v(i) = rho * v(i) + (1 - rho) * g(i) * g(i);
      x(i) = x(i) - lr / ref_denominator(v(i), eps, placement) * g(i);
    }
  }
};

template <typename S>
struct RefAdam {  // section 8, m̂ and v̂ formed explicitly
  S lr, beta1, beta2, eps;
  descent::EpsPlacement placement;
  Vec<S> m, v;
  std::int64_t t = 0;
  void step(Vec<S>& x, const Vec<S>& g) {
    if (m.size() == 0) {
      m = Vec<S>::Zero(x.size());
      v = Vec<S>::Zero(x.size());
    }
    ++t;
    const S bias1 = S(1 - std::pow(double(beta1), double(t)));
    const S bias2 = S(1 - std::pow(double(beta2), double(t)));
    for (Eigen::Index i = 0; i < x.size(); ++i) {
      m(i) = beta1 * m(i) + (1 - beta1) * g(i);
      v(i) = beta2 * v(i) + (1 - beta2) * g(i) * g(i);
      const S m_hat = m(i) / bias1;
      const S v_hat = v(i) / bias2;
      x(i) = x(i) - lr * m_hat / ref_denominator(v_hat, eps, placement);
    }
  }
};

// ---------------------------------------------------------------------------
// Test problems.

/// A smooth, separable, non-quadratic bowl in n coordinates with curvatures
/// spread over two decades: f = Σ a_i (x_i − c_i)² / 2 + 0.1 Σ (1 − cos x_i).
template <typename S>
struct Bowl {
  Vec<S> a, c;
  explicit Bowl(Eigen::Index n) : a(n), c(n) {
    for (Eigen::Index i = 0; i < n; ++i) {
      a(i) = S(std::pow(10.0, 2.0 * double(i % 7) / 6.0 - 1.0));  // 0.1 … 10
      c(i) = S(std::sin(1.0 + double(i)));
    }
  }
  Vec<S> grad(const Vec<S>& x) const {
    return (a.array() * (x - c).array() + S(0.1) * x.array().sin()).matrix();
  }
  Vec<S> start() const {
    Vec<S> x(a.size());
    for (Eigen::Index i = 0; i < a.size(); ++i) x(i) = S(2.0 * std::cos(0.7 * double(i)));
    return x;
  }
};

/// Sizes that hit every vector-loop tail for 4, 8 and 16 lanes, and the
/// empty vector.
inline const std::vector<Eigen::Index>& tail_sizes() {
  static const std::vector<Eigen::Index> sizes{0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 1023};
  return sizes;
}

/// Requires that f() throws std::invalid_argument with exactly this message.
inline void require_message(const std::function<void()>& f, const std::string& message) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) == message);
    return;
  }
  FAIL("no std::invalid_argument thrown; expected: " << message);
}

/// Requires that loading `bytes` into `target` throws descent::CheckpointError
/// whose message contains `part`, and that target saves to the same bytes
/// after.
template <typename T>
void require_refused(T& target, const std::string& bytes, const std::string& part) {
  const std::string before = bytes_of(target);
  std::istringstream in(bytes);
  try {
    target.load(in);
    FAIL("no CheckpointError; expected one about " << part);
  } catch (const descent::CheckpointError& e) {
    INFO("message: " << e.what());
    CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains(part));
  }
  CHECK(bytes_of(target) == before);
}

/// Recomputes a checkpoint's trailing CRC-32 after its bytes were edited, so
/// that the edit reaches the payload's checks.
inline void reseal(std::string& bytes) {
  const std::uint32_t crc = descent::detail::crc32(
      reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size() - 4);
  for (int b = 0; b < 4; ++b) {
    bytes[bytes.size() - 4 + std::size_t(b)] = static_cast<char>(crc >> (8 * b));
  }
}

}  // namespace support
