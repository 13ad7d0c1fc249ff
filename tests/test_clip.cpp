// clip_grad_norm and clip_grad_value: hand-computed values, every kind of
// Eigen object and several at once, the argument checks, and PyTorch's
// results (tools/make_torch_clip.py writes tests/data/torch_clip.hpp).

#include "data/torch_clip.hpp"
#include "support.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <catch2/catch.hpp>
#include <descent/clip.hpp>

using Catch::Matchers::Contains;

using support::require_message;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

template <typename S>
using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
template <typename S>
using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

// Whether clip_grad_norm / clip_grad_value accept these argument types.
template <typename... A>
auto norm_accepts(int) -> decltype(descent::clip_grad_norm(std::declval<A>()...), std::true_type{});
template <typename...>
std::false_type norm_accepts(...);
template <typename... A>
auto value_accepts(int)
    -> decltype(descent::clip_grad_value(std::declval<A>()...), std::true_type{});
template <typename...>
std::false_type value_accepts(...);

template <typename... A>
constexpr bool norm_accepts_v = decltype(norm_accepts<A...>(0))::value;
template <typename... A>
constexpr bool value_accepts_v = decltype(value_accepts<A...>(0))::value;

using VecXd = Eigen::VectorXd;
// A number never binds as a gradient, so a misplaced norm_type cannot
// compile as one.
static_assert(!norm_accepts_v<double, double>);
static_assert(!norm_accepts_v<double, double, double>);
static_assert(!norm_accepts_v<double, int, double>);
static_assert(!norm_accepts_v<double>);
static_assert(!norm_accepts_v<double, std::vector<double>&>);
static_assert(!value_accepts_v<double, double>);
static_assert(!value_accepts_v<double>);
static_assert(norm_accepts_v<double, VecXd&>);
static_assert(norm_accepts_v<double, double, VecXd&>);
static_assert(norm_accepts_v<double, int, VecXd&, Eigen::ArrayXf&>);
static_assert(norm_accepts_v<double, descent::ClipGradNormOptions, VecXd&>);
static_assert(norm_accepts_v<double, std::vector<Eigen::VectorXf>&>);
static_assert(norm_accepts_v<double, std::array<Eigen::Map<VecXd>, 2>&, VecXd&>);
static_assert(value_accepts_v<double, VecXd&, std::vector<Eigen::MatrixXf>&>);

}  // namespace

TEMPLATE_TEST_CASE("clip_grad_norm: hand-computed 2-norm", "[clip]", float, double) {
  using S = TestType;
  Vec<S> g(2);
  g << S(3), S(-4);
  const double total = descent::clip_grad_norm(1.0, g);
  CHECK(total == 5.0);
  const auto coef = static_cast<S>(1.0 / (5.0 + 1e-6));
  CHECK(g(0) == S(3) * coef);
  CHECK(g(1) == S(-4) * coef);
  CHECK_THAT(double(g.norm()), Catch::WithinRel(1.0 / (1 + 2e-7), 1e-6));

  // max_norm 0 zeroes the gradient.
  g << S(3), S(-4);
  CHECK(descent::clip_grad_norm(0.0, g) == 5.0);
  CHECK(g.isZero(0));
}

TEMPLATE_TEST_CASE("clip_grad_norm: p = 1, 3 and inf", "[clip]", float, double) {
  using S = TestType;
  Vec<S> g(3);
  const auto reset = [&g] { g << S(3), S(-4), S(0); };

  reset();
  CHECK(descent::clip_grad_norm(1.0, 1.0, g) == 7.0);
  CHECK(g(0) == S(3) * static_cast<S>(1.0 / (7.0 + 1e-6)));

  reset();
  const double l3 = std::pow(91.0, 1.0 / 3.0);  // (27 + 64)^(1/3)
  CHECK_THAT(descent::clip_grad_norm(2.0, 3.0, g), Catch::WithinRel(l3, 1e-15));
  CHECK_THAT(double(g(1)), Catch::WithinRel(-4 * 2.0 / (l3 + 1e-6), 1e-6));

  reset();
  CHECK(descent::clip_grad_norm(2.0, kInf, g) == 4.0);
  CHECK(g(1) == S(-4) * static_cast<S>(2.0 / (4.0 + 1e-6)));

  // The options struct says the same.
  reset();
  descent::ClipGradNormOptions options;
  options.norm_type = kInf;
  CHECK(descent::clip_grad_norm(2.0, options, g) == 4.0);

  // Any p > 0, e.g. 0.5: (√3 + √4)².
  reset();
  const double half = std::pow(std::sqrt(3.0) + 2.0, 2.0);
  CHECK_THAT(descent::clip_grad_norm(100.0, 0.5, g), Catch::WithinRel(half, 1e-15));
}

TEMPLATE_TEST_CASE("clip_grad_norm: below max_norm nothing changes", "[clip]", float, double) {
  using S = TestType;
  Vec<S> g = Vec<S>::LinSpaced(9, S(-1), S(1));
  const Vec<S> before = g;
  const double total = descent::clip_grad_norm(10.0, g);
  CHECK_THAT(total, Catch::WithinRel(double(before.template cast<double>().norm()), 1e-15));
  CHECK(support::bitwise_equal(g, before));
  // Exactly at max_norm the 1e-6 still scales by a hair, as in PyTorch.
  Vec<S> h(1);
  h << S(1);
  descent::clip_grad_norm(1.0, h);
  CHECK(h(0) == static_cast<S>(1.0 / (1.0 + 1e-6)));
}

TEMPLATE_TEST_CASE("clip_grad_norm: several gradients of every Eigen kind are one vector", "[clip]",
                   float, double) {
  using S = TestType;
  Vec<S> a(2);
  a << S(1), S(2);
  Eigen::Array<S, Eigen::Dynamic, 1> b(1);
  b << S(-2);
  Mat<S> c = Mat<S>::Constant(2, 3, S(1));  // c.row(0) is strided
  std::vector<S> raw = {S(2), S(0), S(0)};
  Eigen::Map<Vec<S>> d(raw.data(), 3);
  Mat<S> e = Mat<S>::Constant(4, 4, S(9));  // only a segment of it is a gradient

  // 1 + 4 + 4 + 3 (c.row(0)) + 4 + 0 = 16.
  const double total = descent::clip_grad_norm(2.0, a, b, c.row(0), d, e.col(1).segment(1, 0),
                                               Eigen::Ref<Vec<S>>(a.head(0)));
  CHECK(total == 4.0);
  const auto coef = static_cast<S>(2.0 / (4.0 + 1e-6));
  CHECK(a(1) == S(2) * coef);
  CHECK(b(0) == S(-2) * coef);
  CHECK(c(0, 2) == coef);
  CHECK(c(1, 2) == S(1));  // not in c.row(0)
  CHECK(raw[0] == S(2) * coef);
  CHECK(e(1, 1) == S(9));

  // A range of gradients (std::vector of vectors, of Maps), alone or mixed.
  std::vector<Vec<S>> range = {Vec<S>::Constant(4, S(1)), Vec<S>(), Vec<S>::Constant(5, S(-1))};
  CHECK(descent::clip_grad_norm(1.0, range) == 3.0);
  CHECK(range[2](4) == S(-1) * static_cast<S>(1.0 / (3.0 + 1e-6)));
  std::vector<Vec<S>> empty;
  CHECK(descent::clip_grad_norm(1.0, empty) == 0.0);

  std::vector<S> storage(7, S(-2));
  std::vector<Eigen::Map<Vec<S>>> maps = {Eigen::Map<Vec<S>>(storage.data(), 3),
                                          Eigen::Map<Vec<S>>(storage.data() + 3, 4)};
  Vec<S> extra(1);
  extra << S(6);
  // 7 · 4 + 36 = 64.
  CHECK(descent::clip_grad_norm(4.0, maps, extra) == 8.0);
  CHECK(storage[6] == S(-2) * static_cast<S>(4.0 / (8.0 + 1e-6)));
  CHECK(extra(0) == S(6) * static_cast<S>(4.0 / (8.0 + 1e-6)));
}

TEST_CASE("clip_grad_norm: float and double gradients in one call", "[clip]") {
  Eigen::VectorXf f(1);
  f << 3.0f;
  Eigen::VectorXd d(1);
  d << 4.0;
  CHECK(descent::clip_grad_norm(1.0, f, d) == 5.0);
  CHECK(f(0) == 3.0f * static_cast<float>(1.0 / (5.0 + 1e-6)));
  CHECK(d(0) == 4.0 * (1.0 / (5.0 + 1e-6)));
}

TEST_CASE("clip_grad_norm: the norm is exact where the sum of powers is not representable",
          "[clip]") {
  // float gradients accumulate in double: squares of 1e20f overflow float.
  Eigen::VectorXf f = Eigen::VectorXf::Constant(2, 1e20f);
  CHECK_THAT(descent::clip_grad_norm(1.0, f),
             Catch::WithinRel(std::sqrt(2.0) * double(1e20f), 1e-15));
  CHECK_THAT(double(f.norm()), Catch::WithinRel(1.0, 1e-6));

  // double gradients whose squares overflow or underflow double.
  for (const double scale : {1e200, 1e-200, 1e300, 1e-300}) {
    for (const double p : {1.0, 2.0, 3.0, 7.5}) {
      Eigen::VectorXd g(3);
      g << 3 * scale, -4 * scale, 0;
      const double expected = scale * std::pow(std::pow(3.0, p) + std::pow(4.0, p), 1 / p);
      INFO("scale " << scale << ", p " << p);
      CHECK_THAT(descent::clip_grad_norm(1e300, p, g), Catch::WithinRel(expected, 1e-14));
    }
  }
  Eigen::VectorXd zero = Eigen::VectorXd::Zero(4);
  CHECK(descent::clip_grad_norm(1.0, 3.0, zero) == 0.0);
  CHECK(zero.isZero(0));
}

TEST_CASE("clip_grad_norm: non-finite gradients, with and without error_if_nonfinite", "[clip]") {
  for (const double p : {1.0, 2.0, 3.0, kInf}) {
    INFO("p " << p);
    // NaN: the norm is NaN and every gradient becomes NaN (PyTorch's).
    Eigen::VectorXd a(3), b(2);
    a << 1, kNaN, kInf;
    b << 2, 3;
    CHECK(std::isnan(descent::clip_grad_norm(1.0, p, a, b)));
    CHECK(b.array().isNaN().all());

    // inf: the norm is inf, the coefficient 0: finite elements become 0,
    // infinite ones NaN (inf · 0).
    a << 1, -kInf, 2;
    b << 2, 3;
    CHECK(descent::clip_grad_norm(1.0, p, a, b) == kInf);
    CHECK(b.isZero(0));
    CHECK(a(0) == 0.0);
    CHECK(std::isnan(a(1)));

    // error_if_nonfinite: refused, nothing changed.
    descent::ClipGradNormOptions options;
    options.norm_type = p;
    options.error_if_nonfinite = true;
    a << 1, -kInf, 2;
    b << 2, 3;
    const Eigen::VectorXd a0 = a, b0 = b;
    const std::string order = p == kInf ? "inf" : descent::detail::to_text(p);
    require_message([&] { descent::clip_grad_norm(1.0, options, a, b); },
                    "descent::clip_grad_norm: the total " + order +
                        "-norm of the gradients is inf, so it cannot be clipped "
                        "(error_if_nonfinite); the gradients are unchanged");
    CHECK(support::bitwise_equal(a, a0));
    CHECK(support::bitwise_equal(b, b0));
    a(1) = kNaN;
    CHECK_THROWS_WITH(descent::clip_grad_norm(1.0, options, a, b), Contains("is nan"));
    CHECK(b == b0);
    // A finite norm passes.
    a << 3, 4, 0;
    b << 0, 0;
    CHECK(descent::clip_grad_norm(100.0, options, a, b) > 0);
  }
}

TEST_CASE("clip_grad_norm and clip_grad_value: invalid arguments", "[clip]") {
  Eigen::VectorXd g(2);
  g << 3, 4;
  const Eigen::VectorXd g0 = g;
  require_message([&] { descent::clip_grad_norm(-1.0, g); },
                  "descent::clip_grad_norm: max_norm must be finite and >= 0, got -1");
  require_message([&] { descent::clip_grad_norm(kInf, g); },
                  "descent::clip_grad_norm: max_norm must be finite and >= 0, got inf");
  require_message([&] { descent::clip_grad_norm(kNaN, g); },
                  "descent::clip_grad_norm: max_norm must be finite and >= 0, got nan");
  require_message([&] { descent::clip_grad_norm(1.0, 0.0, g); },
                  "descent::clip_grad_norm: norm_type must be > 0 (or infinity for the max "
                  "norm), got 0");
  require_message([&] { descent::clip_grad_norm(1.0, -2.0, g); },
                  "descent::clip_grad_norm: norm_type must be > 0 (or infinity for the max "
                  "norm), got -2");
  require_message([&] { descent::clip_grad_norm(1.0, kNaN, g); },
                  "descent::clip_grad_norm: norm_type must be > 0 (or infinity for the max "
                  "norm), got nan");
  require_message([&] { descent::clip_grad_norm(1.0, -kInf, g); },
                  "descent::clip_grad_norm: norm_type must be > 0 (or infinity for the max "
                  "norm), got -inf");
  require_message([&] { descent::clip_grad_value(-0.5, g); },
                  "descent::clip_grad_value: clip_value must be finite and >= 0, got -0.5");
  require_message([&] { descent::clip_grad_value(kInf, g); },
                  "descent::clip_grad_value: clip_value must be finite and >= 0, got inf");
  CHECK(support::bitwise_equal(g, g0));
}

TEMPLATE_TEST_CASE("clip_grad_value: clamps every element of every gradient", "[clip]", float,
                   double) {
  using S = TestType;
  Vec<S> a(5);
  a << S(-3), S(-0.5), S(0), S(0.5), S(3);
  Mat<S> m(2, 2);
  m << S(2), S(-2), S(0.25), S(std::numeric_limits<S>::quiet_NaN());
  std::vector<Vec<S>> range = {Vec<S>::Constant(2, S(7))};
  descent::clip_grad_value(1.0, a, m.col(0), range);
  Vec<S> expected(5);
  expected << S(-1), S(-0.5), S(0), S(0.5), S(1);
  CHECK(support::bitwise_equal(a, expected));
  CHECK(m(0, 0) == S(1));
  CHECK(m(1, 0) == S(0.25));
  CHECK(m(0, 1) == S(-2));  // not passed
  CHECK(range[0](1) == S(1));
  descent::clip_grad_value(0.1, m);
  CHECK(m(0, 1) == S(-0.1));
  CHECK(std::isnan(m(1, 1)));  // NaN stays NaN, as in PyTorch
  descent::clip_grad_value(0.0, a);
  CHECK(a.isZero(0));
}

namespace {

/// The gradients of one case, as separate vectors of its dtype.
template <typename S>
std::vector<Vec<S>> case_gradients(const torch_clip::Case& c, const double* values) {
  std::vector<Vec<S>> grads;
  int offset = 0;
  for (int k = 0; k < c.num_tensors; ++k) {
    Vec<S> g(c.sizes[k]);
    for (int i = 0; i < c.sizes[k]; ++i) g(i) = static_cast<S>(values[offset + i]);
    offset += c.sizes[k];
    grads.push_back(std::move(g));
  }
  return grads;
}

/// Runs descent on one case twice, as a range of vectors and as Maps over
/// one flat buffer passed one by one; returns the worst relative error of
/// the total norm and of the gradients after clipping.
template <typename S>
std::pair<double, double> compare_with_torch(const torch_clip::Case& c) {
  const auto run = [&c](auto&& clip) {
    std::vector<Vec<S>> grads = case_gradients<S>(c, c.before);
    const double total = clip(grads);
    Vec<S> flat(c.total_size);
    Eigen::Index offset = 0;
    for (const Vec<S>& g : grads) {
      flat.segment(offset, g.size()) = g;
      offset += g.size();
    }
    return std::pair(total, flat);
  };
  descent::ClipGradNormOptions options;
  options.norm_type = c.norm_type;
  const auto as_range = run([&](std::vector<Vec<S>>& grads) {
    if (c.value) {
      descent::clip_grad_value(c.limit, grads);
      return 0.0;
    }
    return descent::clip_grad_norm(c.limit, options, grads);
  });
  const auto as_maps = run([&](std::vector<Vec<S>>& grads) {
    Vec<S> flat(c.total_size);
    Eigen::Index offset = 0;
    std::vector<Eigen::Map<Vec<S>>> maps;
    for (const Vec<S>& g : grads) {
      flat.segment(offset, g.size()) = g;
      maps.emplace_back(flat.data() + offset, g.size());
      offset += g.size();
    }
    double total = 0;
    REQUIRE(c.num_tensors <= 3);
    if (c.value) {
      if (c.num_tensors == 3) descent::clip_grad_value(c.limit, maps[0], maps[1], maps[2]);
      if (c.num_tensors == 2) descent::clip_grad_value(c.limit, maps[0], maps[1]);
      if (c.num_tensors == 1) descent::clip_grad_value(c.limit, maps[0]);
    } else if (c.num_tensors == 3) {
      total = descent::clip_grad_norm(c.limit, c.norm_type, maps[0], maps[1], maps[2]);
    } else if (c.num_tensors == 2) {
      total = descent::clip_grad_norm(c.limit, c.norm_type, maps[0], maps[1]);
    } else {
      total = descent::clip_grad_norm(c.limit, c.norm_type, maps[0]);
    }
    for (std::size_t k = 0; k < grads.size(); ++k) grads[k] = maps[k];
    return total;
  });
  CHECK(as_range.first == as_maps.first);
  CHECK(support::bitwise_equal(as_range.second, as_maps.second));

  const Eigen::Map<const Eigen::VectorXd> after(c.after, c.total_size);
  const double norm_error =
      c.value ? 0.0 : std::abs(as_range.first - c.total_norm) / std::abs(c.total_norm);
  const double grad_error = support::max_rel_error(as_range.second, after);
  return {norm_error, grad_error};
}

}  // namespace

TEMPLATE_TEST_CASE("clip_grad_norm and clip_grad_value match PyTorch 1.13", "[clip]", float,
                   double) {
  using S = TestType;
  // double: the same formulas in the same precision; only the order of the
  // additions differs (measured worst: 1.7e-16 norm, 4.4e-16 gradients).
  //
  // float: PyTorch accumulates the norm in float32 and forms
  // max_norm / (N + 1e-6) in float32; descent accumulates in double and
  // rounds coef once. The difference is PyTorch's rounding: its float32
  // sums of up to 700 terms and pow, a few ulps (2^-23 = 1.2e-7) of N, and
  // one or two ulps more in the product. Measured worst: 1.5e-7 in N,
  // 2.0e-7 in the gradients. 1e-6 (8 float ulps) leaves a factor 5; a
  // wrong p or a missed 1e-6 moves them by far more (p = 2 vs 3: > 0.3).
  const double tol = std::is_same<S, float>::value ? 1e-6 : 1e-12;
  const std::string dtype = std::is_same<S, float>::value ? "float32" : "float64";
  double worst_norm = 0, worst_grad = 0;
  int cases = 0;
  for (const torch_clip::Case& c : torch_clip::kCases) {
    if (c.dtype != dtype) continue;
    INFO(c.name << " " << c.dtype);
    const auto [norm_error, grad_error] = compare_with_torch<S>(c);
    CHECK(norm_error <= tol);
    CHECK(grad_error <= tol);
    worst_norm = std::max(worst_norm, norm_error);
    worst_grad = std::max(worst_grad, grad_error);
    ++cases;
  }
  CHECK(cases == 11);
  INFO("worst relative error vs PyTorch (" << dtype << "): norm " << worst_norm << ", gradients "
                                           << worst_grad);
  CHECK(worst_norm <= tol);
  if (std::getenv("DESCENT_PRINT_ERRORS") != nullptr) {
    std::printf("clip vs torch %s: worst norm %.3g, worst gradient %.3g\n", dtype.c_str(),
                worst_norm, worst_grad);
  }
}
