// Adafactor: PyTorch 2.5's trajectories (tools/make_adafactor_reference.py),
// hand-computed first steps, the shape its state is built for, checkpoints
// of its factors, and sums that do not depend on the thread count.

#include "data/adafactor_reference.hpp"
#include "support.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

#include <descent/adafactor.hpp>

using Catch::Matchers::Contains;
using support::bytes_of;
using support::Vec;

namespace {

namespace ar = adafactor_reference;

template <typename S>
using ColMajor = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
template <typename S>
using RowMajor = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <typename S>
typename descent::Adafactor<S>::Options options_of(const ar::Case& c) {
  typename descent::Adafactor<S>::Options o;
  o.lr = S(c.lr);
  o.beta2_decay = S(c.beta2_decay);
  if (c.eps1 >= 0) o.eps1 = S(c.eps1);
  o.eps2 = S(c.eps2);
  o.d = S(c.d);
  o.weight_decay = S(c.weight_decay);
  o.maximize = c.maximize;
  return o;
}

/// Runs a reference case on params of type P (a vector, or a matrix in
/// either storage order) and returns the largest relative error over every
/// step's params, read in the reference's row-major order.
template <typename S, typename P>
double reference_error(const ar::Case& c, const S* expected) {
  const Eigen::Index rows = c.rows, cols = c.cols == 0 ? 1 : c.cols;
  const Eigen::Index n = rows * cols;
  P x(rows, cols);
  P a(rows, cols), target(rows, cols);
  for (Eigen::Index i = 0; i < rows; ++i) {
    for (Eigen::Index j = 0; j < cols; ++j) {
      const Eigen::Index k = i * cols + j;
      x(i, j) = S(c.x0[k]);
      a(i, j) = S(c.a[k]);
      target(i, j) = S(c.c[k]);
    }
  }
  descent::Adafactor<S> opt(options_of<S>(c));
  double worst = 0;
  for (int t = 0; t < ar::kSteps; ++t) {
    const P g = a.cwiseProduct(x - target);  // a * (x - c), as the script
    opt.step(x, g);
    for (Eigen::Index i = 0; i < rows; ++i) {
      for (Eigen::Index j = 0; j < cols; ++j) {
        const double want = double(expected[std::size_t(t * n + i * cols + j)]);
        const double err = std::abs(double(x(i, j)) - want) / std::max(std::abs(want), 1e-300);
        if (!(err <= worst)) worst = err;
      }
    }
  }
  return worst;
}

template <typename S>
using Column = Eigen::Matrix<S, Eigen::Dynamic, 1>;

}  // namespace

TEST_CASE("adafactor: PyTorch 2.5's trajectories, float64 within 1e-10", "[adafactor][torch]") {
  double worst = 0;
  for (const ar::Case& c : ar::kCases) {
    INFO(c.name);
    if (c.cols == 0) {
      const double err = reference_error<double, Column<double>>(c, c.x);
      CHECK(err <= 1e-10);
      worst = std::max(worst, err);
    } else {
      const double by_columns = reference_error<double, ColMajor<double>>(c, c.x);
      const double by_rows = reference_error<double, RowMajor<double>>(c, c.x);
      CHECK(by_columns <= 1e-10);
      CHECK(by_rows <= 1e-10);
      worst = std::max({worst, by_columns, by_rows});
    }
  }
  INFO("largest relative error over every case and step: " << worst);
  CHECK(worst <= 1e-10);
}

TEST_CASE("adafactor: PyTorch 2.5's trajectories, float32 within 1e-5", "[adafactor][torch]") {
  for (const ar::Case& c : ar::kCases) {
    INFO(c.name);
    if (c.cols == 0) {
      CHECK(reference_error<float, Column<float>>(c, c.x_float) <= 1e-5);
    } else {
      CHECK(reference_error<float, ColMajor<float>>(c, c.x_float) <= 1e-5);
      CHECK(reference_error<float, RowMajor<float>>(c, c.x_float) <= 1e-5);
    }
  }
}

TEST_CASE("adafactor: the first step moves every coordinate by alpha against the sign",
          "[adafactor]") {
  // t = 1: the averages take G² whole, so a vector's U = G/|G| = sign(G),
  // RMS(U) = 1 and nothing is clipped; α = max(ε₂, RMS(θ))·min(lr, 1).
  Vec<double> x(4);
  x << 3.0, -4.0, 0.0, 0.0;  // RMS 2.5
  Vec<double> g(4);
  g << 0.5, 2.0, -0.25, 8.0;  // powers of 2: |U| = 1 exactly
  descent::Adafactor<double> opt;
  opt.step(x, g);
  const double alpha = 2.5 * 0.01;
  CHECK(x(0) == 3.0 - alpha);
  CHECK(x(1) == -4.0 - alpha);
  CHECK(x(2) == alpha);
  CHECK(x(3) == -alpha);
  CHECK(opt.variance() == g.cwiseProduct(g));
  CHECK(opt.row_var().size() == 0);

  // A matrix whose |G| has rank one: R_i·C_j / mean(R) = G_ij², so U =
  // sign(G) again; θ = 0 takes α = ε₂·lr.
  ColMajor<double> m = ColMajor<double>::Zero(2, 3);
  ColMajor<double> gm(2, 3);
  gm << 1.0, -2.0, 4.0,  //
      -0.5, 1.0, -2.0;
  descent::Adafactor<double> factored;
  factored.step(m, gm);
  REQUIRE(factored.row_var().size() == 2);
  REQUIRE(factored.col_var().size() == 3);
  using Catch::Matchers::WithinRel;
  CHECK_THAT(factored.row_var()(0), WithinRel(7.0, 1e-15));   // (1 + 4 + 16) / 3
  CHECK_THAT(factored.col_var()(2), WithinRel(10.0, 1e-15));  // (16 + 4) / 2
  CHECK(factored.variance().size() == 0);
  const double step = 1e-3 * 0.01;
  for (Eigen::Index i = 0; i < 2; ++i) {
    for (Eigen::Index j = 0; j < 3; ++j) {
      CHECK_THAT(m(i, j), Catch::Matchers::WithinRel(gm(i, j) > 0 ? -step : step, 1e-14));
    }
  }
}

TEST_CASE("adafactor: relative step, clipping and decoupled decay at step 2", "[adafactor]") {
  // A constant gradient: V̂ stays G², U = sign(G) with RMS 1; step 2 uses
  // ρ = min(lr, 1/√2) with lr = 0.9 → 1/√2, and decays θ by 1 − lr·λ.
  descent::Adafactor<double>::Options o;
  o.lr = 0.9;
  o.weight_decay = 0.5;
  descent::Adafactor<double> opt(o);
  Vec<double> x = Vec<double>::Constant(3, 2.0);
  const Vec<double> g = Vec<double>::Constant(3, 1.0);
  opt.step(x, g);  // α = 2·0.9, θ = 2·(1 − 0.45) − 1.8
  const double x1 = 2.0 * (1.0 - 0.9 * 0.5) - 2.0 * 0.9;
  CHECK_THAT(x(0), Catch::Matchers::WithinRel(x1, 1e-15));
  opt.step(x, g);
  const double alpha = std::abs(x1) * (1.0 / std::pow(2.0, 0.5));
  CHECK_THAT(x(1), Catch::Matchers::WithinRel(x1 * (1.0 - 0.45) - alpha, 1e-15));

  // Clipping: a vector whose V holds an old, small average sees U > 1.
  descent::Adafactor<double> clipped;
  Vec<double> y = Vec<double>::Zero(2);
  clipped.step(y, Vec<double>::Constant(2, 1e-3));
  const Vec<double> before = y;
  clipped.step(y, Vec<double>::Constant(2, 1.0));
  // w = 2^−0.8; V = lerp(1e-6, 1, w); U = 1/√V per coordinate, RMS(U) =
  // 1/√V > 1, so the step is α·U/RMS(U) = α exactly.
  const double rms_x = std::abs(before(0));
  const double alpha2 = std::max(1e-3, rms_x) * 0.01;
  CHECK_THAT(y(0) - before(0), Catch::Matchers::WithinRel(-alpha2, 1e-12));
}

TEST_CASE("adafactor: the state's shape is the first step's; another is refused",
          "[adafactor][errors]") {
  descent::Adafactor<double> opt;
  ColMajor<double> m = ColMajor<double>::Ones(5, 7);
  opt.step(m, m);
  const std::string state = bytes_of(opt);

  ColMajor<double> other = ColMajor<double>::Ones(7, 5);
  support::require_message(
      [&] { opt.step(other, other); },
      "descent::Adafactor::step: params are a 7×5 matrix but the state was built for a 5×7 "
      "matrix (call reset() to change the shape)");
  Vec<double> flat = Vec<double>::Ones(35);
  support::require_message(
      [&] { opt.step(flat, flat); },
      "descent::Adafactor::step: params are a vector of 35 but the state was built for a 5×7 "
      "matrix (call reset() to change the shape)");
  CHECK(bytes_of(opt) == state);
  CHECK(other == ColMajor<double>::Ones(7, 5));

  // The same rows and columns in the other storage order are the same matrix.
  RowMajor<double> rows = m;
  opt.step(rows, rows);
  CHECK(opt.iterations() == 2);
  // reset() forgets the shape.
  opt.reset();
  opt.step(flat, flat);
  CHECK(opt.variance().size() == 35);
  support::require_message(
      [&] { opt.step(m, m); },
      "descent::Adafactor::step: params are a 5×7 matrix but the state was built for a vector of "
      "35 (call reset() to change the shape)");
}

TEST_CASE("adafactor: both storage orders keep the same factors", "[adafactor]") {
  const ar::Case& c = ar::kCases[1];  // options: decay, maximize, custom eps
  ColMajor<double> a(5, 7);
  for (Eigen::Index i = 0; i < 5; ++i) {
    for (Eigen::Index j = 0; j < 7; ++j) a(i, j) = c.a[i * 7 + j];
  }
  descent::Adafactor<double> by_columns(options_of<double>(c)), by_rows(options_of<double>(c));
  ColMajor<double> x = ColMajor<double>::Constant(5, 7, 0.3);
  RowMajor<double> y = x;
  for (int t = 0; t < 5; ++t) {
    const ColMajor<double> gx = a.cwiseProduct(x - ColMajor<double>::Ones(5, 7));
    const RowMajor<double> gy = a.cwiseProduct(y - RowMajor<double>::Ones(5, 7));
    by_columns.step(x, gx);
    by_rows.step(y, gy);
    CHECK(by_columns.row_var() == by_rows.row_var());
    CHECK(by_columns.col_var() == by_rows.col_var());
  }
}

TEST_CASE("adafactor: 1 and 3 threads give the same bits on a large matrix",
          "[adafactor][threads]") {
  // 256 × 300 = 76 800 elements, above the parallel threshold: the norms and
  // means are summed in one order whatever set_threads says.
  const auto run = [](int threads, auto storage) {
    using M = decltype(storage);
    M x(256, 300), g(256, 300);
    for (Eigen::Index i = 0; i < 256; ++i) {
      for (Eigen::Index j = 0; j < 300; ++j) {
        x(i, j) = std::sin(0.01 * double(i * 300 + j));
        g(i, j) = std::cos(0.013 * double(i) + 0.7 * double(j));
      }
    }
    descent::Adafactor<double> opt;
    opt.set_threads(threads);
    for (int t = 0; t < 3; ++t) opt.step(x, (g + x).eval());
    return std::make_pair(M(x), bytes_of(opt));
  };
  const auto one = run(1, ColMajor<double>());
  const auto three = run(3, ColMajor<double>());
  CHECK(support::bitwise_equal(one.first.reshaped(), three.first.reshaped()));
  CHECK(one.second == three.second);
  const auto one_rows = run(1, RowMajor<double>());
  const auto three_rows = run(3, RowMajor<double>());
  CHECK(support::bitwise_equal(one_rows.first.reshaped(), three_rows.first.reshaped()));
  CHECK(one_rows.second == three_rows.second);
}

TEST_CASE("adafactor: a checkpoint records the shape and the factors", "[adafactor][checkpoint]") {
  const auto gradient = [](const ColMajor<double>& x) {
    return (x.array() * x.array() - 0.5).matrix().eval();
  };
  ColMajor<double> x = ColMajor<double>::Constant(5, 7, 0.8);
  x(1, 2) = -0.3;
  descent::Adafactor<double> whole, first;
  ColMajor<double> y = x;
  for (int t = 0; t < 6; ++t) whole.step(x, gradient(x));
  for (int t = 0; t < 3; ++t) first.step(y, gradient(y));
  const std::string saved = bytes_of(first);

  descent::Adafactor<double> second;
  std::istringstream in(saved);
  second.load(in);
  CHECK(second.row_var() == first.row_var());
  CHECK(second.col_var() == first.col_var());
  for (int t = 0; t < 3; ++t) second.step(y, gradient(y));
  CHECK(support::bitwise_equal(x.reshaped(), y.reshaped()));
  CHECK(bytes_of(second) == bytes_of(whole));

  // A loaded matrix state refuses a vector step, as a stepped one does.
  Vec<double> flat = Vec<double>::Ones(35);
  CHECK_THROWS_AS(second.step(flat, flat), std::invalid_argument);

  SECTION("into an optimizer whose state has another shape of the same size") {
    descent::Adafactor<double> vector_state;
    vector_state.step(flat, flat);
    support::require_refused(vector_state, saved,
                             "the checkpoint's state is for a 5×7 matrix, this optimizer's for a "
                             "vector of 35 (reset() it first to load another shape)");
    descent::Adafactor<double> transposed;
    ColMajor<double> z = ColMajor<double>::Ones(7, 5);
    transposed.step(z, z);
    support::require_refused(transposed, saved, "for a 5×7 matrix, this optimizer's for a 7×5");
    transposed.reset();
    std::istringstream again(saved);
    transposed.load(again);
    CHECK(transposed.row_var().size() == 5);
  }

  // Layout from the end: row_var (count, 5), col_var (count, 7), variance
  // (count, 0), CRC-32; before row_var: kind u32, rows i64, cols i64.
  const std::size_t variance_at = saved.size() - 4 - 8;
  const std::size_t col_at = variance_at - 8 - 7 * 8;
  const std::size_t row_at = col_at - 8 - 5 * 8;
  const std::size_t cols_at = row_at - 8, rows_at = cols_at - 8, kind_at = rows_at - 4;
  const auto with_i64 = [&](std::size_t at, std::int64_t v) {
    std::string b = saved;
    std::memcpy(&b[at], &v, 8);
    support::reseal(b);
    return b;
  };
  const auto with_double = [&](std::size_t at, double v) {
    std::string b = saved;
    std::memcpy(&b[at], &v, 8);
    support::reseal(b);
    return b;
  };

  SECTION("a negative or NaN factor") {
    descent::Adafactor<double> target;
    support::require_refused(target, with_double(row_at + 8 + 3 * 8, -1e-300),
                             "state array row_var[3] is");
    support::require_refused(target, with_double(col_at + 8, std::nan("")),
                             "state array col_var[0] is nan");
  }
  SECTION("rows and columns that do not hold the parameters") {
    descent::Adafactor<double> target;
    support::require_refused(target, with_i64(rows_at, 7), "a 7×7 matrix holds no 35 parameters");
    support::require_refused(target, with_i64(rows_at, 0), "a 0×7 matrix holds no 35");
    support::require_refused(target, with_i64(cols_at, -7), "a 5×-7 matrix holds no 35");
    support::require_refused(target, with_i64(rows_at, std::numeric_limits<std::int64_t>::min()),
                             "holds no 35 parameters");
    std::string kind = saved;
    kind[kind_at] = 2;
    support::reseal(kind);
    support::require_refused(target, kind, "state kind 2");
    kind[kind_at] = 0;  // a vector state of 5×7
    support::reseal(kind);
    support::require_refused(target, kind, "a vector state of 5×7 for 35 parameters");
  }
}

TEST_CASE("adafactor: options are checked", "[adafactor][errors]") {
  using O = descent::Adafactor<double>::Options;
  const auto refused = [](O o, const std::string& message) {
    support::require_message([&] { descent::Adafactor<double>{o}; }, message);
  };
  O o;
  o.beta2_decay = 0.1;
  refused(o, "descent::Adafactor: beta2_decay must be finite and <= 0, got 0.1");
  o = O{};
  o.d = 0.5;
  refused(o, "descent::Adafactor: d must be finite and >= 1, got 0.5");
  o = O{};
  o.eps1 = -1;
  refused(o, "descent::Adafactor: eps1 must be finite and >= 0, got -1");
  o = O{};
  o.eps2 = std::numeric_limits<double>::infinity();
  refused(o, "descent::Adafactor: eps2 must be finite and >= 0, got inf");
  CHECK(O{}.eps1 == std::numeric_limits<double>::epsilon());
  CHECK(descent::Adafactor<float>::Options{}.eps1 == std::numeric_limits<float>::epsilon());
}
