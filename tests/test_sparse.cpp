// Sparse gradients: descent::SparseAdam and AdaGrad's sparse steps against
// torch.optim.SparseAdam and torch.optim.Adagrad 1.13 with sparse gradients
// (tools/make_sparse_reference.py writes tests/data/sparse_reference.hpp),
// hand-computed first steps, identities with the dense steps, and the
// contract: errors, non-finite values, checkpoints, threads.

#include "data/sparse_reference.hpp"
#include "instantiations.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <catch2/catch.hpp>
#include <descent/adagrad.hpp>
#include <descent/adam.hpp>
#include <descent/row_sparse.hpp>
#include <descent/sparse_adam.hpp>

namespace {

namespace sr = sparse_reference;
using descent::AdaGrad;
using descent::RowSparse;
using descent::SparseAdam;
using Eigen::Index;

template <typename S>
using Table = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename S>
using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;

// Tolerances against torch, as |descent − torch| <= rel·max(|torch|, floor).
// double: observed within a few ulps (the moments are torch's arithmetic in
// torch's order; AdaGrad's update is grouped as descent's dense kernel).
// float: torch forms 1 − β and the bias corrections from the decimal β in
// double, descent from the float β (see test_torch_reference.cpp), which
// moves the float runs by up to ~1e-6 relative.
template <typename S>
struct Tolerance {
  static constexpr double rel = std::is_same<S, double>::value ? 1e-12 : 1e-5;
  static constexpr double floor = std::is_same<S, double>::value ? 1e-3 : 0.1;
  static constexpr const char* dtype = std::is_same<S, double>::value ? "float64" : "float32";
};

// The optimizer a case describes, with its sparse steps.
template <typename Opt>
Opt make(const sr::Hyper& h) {
  using S = typename Opt::Scalar;
  typename Opt::Options o;
  o.lr = S(h.lr);
  o.eps = S(h.eps);
  o.maximize = h.maximize;
  if constexpr (std::is_same<Opt, SparseAdam<S>>::value) {
    o.beta1 = S(h.beta1);
    o.beta2 = S(h.beta2);
  } else {
    o.lr_decay = S(h.lr_decay);
    o.initial_accumulator = S(h.initial_accumulator);
  }
  return Opt(o);
}

// Step k's gradient of the table, or of the vector (a column of one).
template <typename S>
RowSparse<S> table_grad(int k) {
  RowSparse<S> g;
  g.indices.resize(sr::kTableCount[k]);
  g.rows.resize(sr::kTableCount[k], sr::kCols);
  for (int e = 0; e < sr::kTableCount[k]; ++e) {
    g.indices(e) = sr::kTableIndex[sr::kTableFirst[k] + e];
    for (int j = 0; j < sr::kCols; ++j)
      g.rows(e, j) = S(sr::kTableValue[sr::kTableFirst[k] + e][j]);
  }
  return g;
}
template <typename S>
RowSparse<S> vector_grad(int k) {
  RowSparse<S> g;
  g.indices.resize(sr::kVectorCount[k]);
  g.rows.resize(sr::kVectorCount[k], 1);
  for (int e = 0; e < sr::kVectorCount[k]; ++e) {
    g.indices(e) = sr::kVectorIndex[sr::kVectorFirst[k] + e];
    g.rows(e, 0) = S(sr::kVectorValue[sr::kVectorFirst[k] + e]);
  }
  return g;
}
// The same gradient as an Eigen::SparseVector, repeated indices summed by
// coeffRef in the order given, as torch's coalesce() sums them.
template <typename S>
Eigen::SparseVector<S> sparse_vector(const RowSparse<S>& g, Index size) {
  Eigen::SparseVector<S> v(size);
  for (Index e = 0; e < g.indices.size(); ++e) v.coeffRef(g.indices(e)) += g.rows(e, 0);
  return v;
}

struct Observed {
  double abs = 0, rel = 0;
};

template <typename S, typename X>
void compare(const X& x, const double* want, int step, const sr::Case& c, const char* what,
             Observed& seen) {
  using T = Tolerance<S>;
  for (Index i = 0; i < x.size(); ++i) {
    const double got = double(x.data()[i]);
    const double diff = std::abs(got - want[i]);
    seen.abs = std::max(seen.abs, diff);
    seen.rel = std::max(seen.rel, diff / std::max(std::abs(want[i]), T::floor));
    if (!(diff <= T::rel * std::max(std::abs(want[i]), T::floor))) {
      std::ostringstream os;
      os.precision(17);
      os << c.torch_call << " (" << c.dtype << ", " << what << "): after step " << step + 1
         << ", element " << i << " is " << got << ", torch " << want[i];
      FAIL_CHECK(os.str());
    }
  }
}

template <typename Opt>
void check_case(const sr::Case& c) {
  using S = typename Opt::Scalar;
  Table<S> table(sr::kRows, sr::kCols);
  for (int r = 0; r < sr::kRows; ++r) {
    for (int j = 0; j < sr::kCols; ++j) table(r, j) = S(sr::kTableX0[r][j]);
  }
  Vec<S> vec(sr::kLength), via_sparse_vector(sr::kLength);
  for (int i = 0; i < sr::kLength; ++i) vec(i) = via_sparse_vector(i) = S(sr::kVectorX0[i]);
  Opt for_table = make<Opt>(c.hyper), for_vec = for_table, for_sparse_vector = for_table;
  Observed table_seen, vec_seen;
  for (int k = 0; k < sr::kSteps; ++k) {
    for_table.step(table, table_grad<S>(k));
    compare<S>(table, c.table[k], k, c, "table", table_seen);
    const RowSparse<S> g = vector_grad<S>(k);
    for_vec.step(vec, g);
    compare<S>(vec, c.vector[k], k, c, "vector", vec_seen);
    for_sparse_vector.step(via_sparse_vector, sparse_vector(g, sr::kLength));
    REQUIRE(via_sparse_vector == vec);  // the same sums, the same kernel
  }
  CHECK(for_table.iterations() == sr::kSteps);
  CHECK(for_vec.iterations() == sr::kSteps);  // the empty step counts
  for (int j = 0; j < sr::kCols; ++j)
    CHECK(table(sr::kRows - 1, j) == S(sr::kTableX0[sr::kRows - 1][j]));
  CHECK(vec(sr::kLength - 1) == S(sr::kVectorX0[sr::kLength - 1]));
  std::ostringstream os;
  os.precision(2);
  os << std::scientific << c.torch_call << " (" << c.dtype << "): table max |diff| "
     << table_seen.abs << ", rel " << table_seen.rel << "; vector max |diff| " << vec_seen.abs
     << ", rel " << vec_seen.rel;
  INFO(os.str());  // run with -s to see it
  CHECK(std::max(table_seen.rel, vec_seen.rel) <= Tolerance<S>::rel);
}

}  // namespace

TEMPLATE_TEST_CASE("sparse: SparseAdam and AdaGrad reproduce torch 1.13's sparse steps",
                   "[sparse][torch]", float, double) {
  using S = TestType;
  int cases = 0;
  for (const sr::Case& c : sr::kCases) {
    if (std::string(c.dtype) != Tolerance<S>::dtype) continue;
    ++cases;
    if (std::string(c.optimizer) == "sparse_adam") {
      check_case<SparseAdam<S>>(c);
    } else {
      check_case<AdaGrad<S>>(c);
    }
  }
  CHECK(cases == 5);
}

TEST_CASE("sparse: first steps, hand-computed", "[sparse][first-step]") {
  // Rows 2 and 0 present (row 2 twice: summed to (4, −1)), row 1 absent.
  RowSparse<double> g;
  g.indices.resize(3);
  g.indices << 2, 0, 2;
  g.rows.resize(3, 2);
  g.rows << 1, -2, 0.5, 0, 3, 1;
  const double s = std::sqrt(0.001);  // √(1 − β₂)
  {
    // t = 1: m = 0.1·d, v = 0.001·d², α₁ = lr·√0.001/0.1, so
    // θ ← θ − lr·√0.001·d/(√0.001·|d| + ε).
    SparseAdam<double>::Options o;
    o.lr = 0.1;
    SparseAdam<double> adam(o);
    Table<double> x = Table<double>::Ones(3, 2);
    adam.step(x, g);
    const auto want = [&](double d) { return 1 - 0.1 * s * d / (s * std::abs(d) + 1e-8); };
    CHECK(x(2, 0) == Approx(want(4)).epsilon(1e-15));    // 0.90000000079…
    CHECK(x(2, 1) == Approx(want(-1)).epsilon(1e-15));   // 1.09999996837…
    CHECK(x(0, 0) == Approx(want(0.5)).epsilon(1e-15));  // 0.95000006324…
    CHECK(x(0, 1) == 1);                                 // present with 0: m = v = 0, no move
    CHECK(x(1, 0) == 1);
    CHECK(x(1, 1) == 1);
  }
  {
    // t = 1: h = h₀ + d², θ ← θ − lr·d/(√h + ε); t = 2: lr/(1 + κ).
    AdaGrad<double>::Options o;
    o.lr = 0.5;
    o.lr_decay = 0.25;
    o.initial_accumulator = 1;
    AdaGrad<double> adagrad(o);
    Table<double> x = Table<double>::Ones(3, 2);
    adagrad.step(x, g);
    CHECK(x(2, 0) == Approx(1 - 0.5 * 4 / (std::sqrt(17.0) + 1e-10)).epsilon(1e-15));
    CHECK(x(2, 1) == Approx(1 + 0.5 / (std::sqrt(2.0) + 1e-10)).epsilon(1e-15));
    CHECK(x(0, 1) == 1);
    CHECK(x(1, 0) == 1);
    RowSparse<double> once;
    once.indices.resize(1);
    once.indices << 2;
    once.rows.resize(1, 2);
    once.rows << 2, 0;
    const double before = x(2, 0);
    adagrad.step(x, once);  // h = 17 + 4
    CHECK(x(2, 0) == Approx(before - 0.5 / 1.25 * 2 / (std::sqrt(21.0) + 1e-10)).epsilon(1e-15));
  }
}

TEMPLATE_TEST_CASE("sparse: a step holding every entry is the dense step, bit for bit",
                   "[sparse][identity]", float, double) {
  using S = TestType;
  const Index rows = 37, cols = 5;  // rows of a vector tail, an odd width
  Table<S> dense_x = Table<S>::Random(rows, cols), rows_x = dense_x, vec_x = dense_x;
  Eigen::Map<Vec<S>> flat(vec_x.data(), vec_x.size());
  SparseAdam<S> a_dense, a_rows, a_vec;
  AdaGrad<S> g_dense, g_rows, g_vec;
  for (int t = 0; t < 4; ++t) {
    const Table<S> grad = Table<S>::Random(rows, cols);
    RowSparse<S> all;  // every row once, in reverse order
    all.indices = Eigen::Matrix<Index, Eigen::Dynamic, 1>::LinSpaced(rows, rows - 1, 0);
    all.rows = grad.colwise().reverse();
    const Vec<S> flat_grad = Eigen::Map<const Vec<S>>(grad.data(), grad.size());
    const Eigen::SparseVector<S> sparse = flat_grad.sparseView(S(0), S(0));
    REQUIRE(sparse.nonZeros() == flat_grad.size());
    a_dense.step(dense_x, grad);
    a_rows.step(rows_x, all);
    a_vec.step(flat, sparse);
    CHECK(rows_x == dense_x);
    CHECK(vec_x == dense_x);
    g_dense.step(dense_x, grad);
    g_rows.step(rows_x, all);
    g_vec.step(flat, sparse);
    CHECK(rows_x == dense_x);
    CHECK(vec_x == dense_x);
  }
}

TEST_CASE("sparse: SparseAdam with every entry is Adam with eps outside the uncorrected root",
          "[sparse][identity]") {
  // torch.optim.SparseAdam adds ε to √v, torch.optim.Adam to √v̂: with
  // every entry present SparseAdam is descent::Adam with EpsHat (Keras's
  // form) to rounding, and not Adam with OutsideSqrt (PyTorch's). On torch
  // itself, the two torch classes fed the same gradients of size 1e-3
  // differ by 2e-4 relative after one step.
  const Index n = 64;
  Vec<double> x0 = Vec<double>::Random(n);
  Vec<double> sparse_x = x0, hat_x = x0, outside_x = x0;
  SparseAdam<double>::Options so;
  so.lr = 0.01;
  SparseAdam<double> sparse(so);
  descent::Adam<double>::Options ao = descent::Adam<double>::Options::pytorch();
  ao.lr = 0.01;
  descent::Adam<double> outside(ao);
  ao.eps_placement = descent::EpsPlacement::EpsHat;
  descent::Adam<double> hat(ao);
  double worst_hat = 0, least_outside = 1;
  for (int t = 0; t < 20; ++t) {
    const Vec<double> g = 1e-3 * Vec<double>::Random(n);
    sparse.step(sparse_x, Eigen::SparseVector<double>(g.sparseView(0.0, 0.0)));
    hat.step(hat_x, g);
    outside.step(outside_x, g);
    const Vec<double> moved = sparse_x - x0;
    worst_hat = std::max(
        worst_hat, ((hat_x - x0) - moved).cwiseAbs().maxCoeff() / moved.cwiseAbs().maxCoeff());
    least_outside = std::min(least_outside, ((outside_x - x0) - moved).cwiseAbs().maxCoeff() /
                                                moved.cwiseAbs().maxCoeff());
  }
  CHECK(worst_hat < 1e-13);
  CHECK(least_outside > 1e-6);
}

TEMPLATE_TEST_CASE("sparse: absent rows keep params and state; present ones follow lazily",
                   "[sparse]", float, double) {
  using S = TestType;
  // Row 0 present at steps 1 and 3 only: its update at step 3 is the dense
  // update of a run that skipped step 2 for it, with t = 3.
  RowSparse<S> g0, g1;
  g0.indices.resize(1);
  g0.indices << 0;
  g0.rows = Table<S>::Constant(1, 3, S(0.5));
  g1.indices.resize(1);
  g1.indices << 1;
  g1.rows = Table<S>::Constant(1, 3, S(-2));
  SparseAdam<S> lazy;
  Table<S> x = Table<S>::Ones(2, 3);
  lazy.step(x, g0);
  const Table<S> after_first = x;
  lazy.step(x, g1);
  CHECK(x.row(0) == after_first.row(0));
  lazy.step(x, g0);
  // By hand, for row 0: m₃ = m₁ + 0.1·(0.5 − m₁), v likewise, α₃ from t = 3.
  const double m1 = 0.05, v1 = 0.00025;
  const double m3 = m1 + 0.1 * (0.5 - m1), v3 = v1 + 0.001 * (0.25 - v1);
  const double alpha3 = 0.001 * std::sqrt(1 - std::pow(0.999, 3)) / (1 - std::pow(0.9, 3));
  const double want = double(after_first(0, 0)) - alpha3 * m3 / (std::sqrt(v3) + 1e-8);
  CHECK(double(x(0, 0)) == Approx(want).epsilon(std::is_same<S, float>::value ? 1e-6 : 1e-14));
  CHECK(lazy.iterations() == 3);
}

TEMPLATE_TEST_CASE("sparse: bad gradients are refused, nothing changed", "[sparse][errors]",
                   SparseAdam<double>, AdaGrad<double>) {
  TestType opt;
  Table<double> x = Table<double>::Ones(4, 3);
  RowSparse<double> g;
  g.indices.resize(2);
  g.indices << 1, 3;
  g.rows = Table<double>::Constant(2, 3, 0.5);
  opt.step(x, g);
  std::stringstream before;
  opt.save(before);
  const Table<double> x_before = x;
  const auto refused = [&](auto&& params, const auto& grad, const std::string& part) {
    CHECK_THROWS_WITH(opt.step(params, grad), Catch::Contains(part));
    std::stringstream after;
    opt.save(after);
    CHECK(after.str() == before.str());
    CHECK(x == x_before);
  };
  RowSparse<double> bad = g;
  bad.indices << 1, 4;
  refused(x, bad, "grad.indices[1] is 4, not in [0, 4)");
  bad.indices << -1, 3;
  refused(x, bad, "grad.indices[0] is -1, not in [0, 4)");
  bad = g;
  bad.rows.resize(2, 2);
  refused(x, bad, "a column per column of params");
  bad = g;
  bad.indices.resize(3);
  bad.indices << 1, 3, 0;
  refused(x, bad, "a row per index");
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic> column_major = x;
  refused(column_major, g, "a matrix row by row (RowMajor)");
  Table<double> other = Table<double>::Ones(5, 3);
  refused(other, g, "the state was built for 12");
  Eigen::Map<Vec<double>> flat(x.data(), x.size());
  Eigen::SparseVector<double> short_grad(11);
  short_grad.insert(2) = 1;
  refused(flat, short_grad, "params has 12 elements but grad has 11");
}

TEST_CASE("sparse: weight decay is refused with sparse gradients", "[sparse][errors]") {
  AdaGrad<double>::Options o;
  o.weight_decay = 0.1;
  AdaGrad<double> adagrad(o);
  Vec<double> x = Vec<double>::Ones(3);
  Eigen::SparseVector<double> g(3);
  g.insert(1) = 1;
  CHECK_THROWS_WITH(adagrad.step(x, g), Catch::Contains("weight_decay is 0.1"));
  CHECK(adagrad.iterations() == 0);
  CHECK(x == Vec<double>::Ones(3));
  adagrad.step(x, Vec<double>::Ones(3));  // dense: decayed as torch does
  CHECK(adagrad.iterations() == 1);
  SparseAdam<double>::Options so;
  so.weight_decay = 0.1;
  CHECK_THROWS_WITH(SparseAdam<double>(so),
                    "descent::SparseAdam: weight_decay must be 0 (a decay "
                    "would reach the rows a sparse gradient leaves out), "
                    "got 0.1");
  so.weight_decay = 0;
  so.decoupled_weight_decay = true;
  CHECK_THROWS_AS(SparseAdam<double>(so), std::invalid_argument);
}

TEMPLATE_TEST_CASE("sparse: non-finite policies decide on the summed values present",
                   "[sparse][nonfinite]", SparseAdam<double>, AdaGrad<double>) {
  typename TestType::Options o;
  // Row 2 twice: 1e308 + 1e308 overflows to inf only once summed.
  RowSparse<double> g;
  g.indices.resize(3);
  g.indices << 2, 0, 2;
  g.rows = Table<double>::Constant(3, 2, 1e308);
  g.rows(1, 0) = g.rows(1, 1) = 1;
  Table<double> x = Table<double>::Ones(3, 2);
  x(1, 0) = std::numeric_limits<double>::quiet_NaN();  // absent: not looked at
  o.nonfinite = descent::NonFinite::Throw;
  TestType throwing(o);
  CHECK_THROWS_WITH(throwing.step(x, g), Catch::Contains("grad of row 2, column 0 is inf"));
  CHECK(throwing.iterations() == 0);
  CHECK(x(2, 0) == 1);
  o.nonfinite = descent::NonFinite::Skip;
  TestType skipping(o);
  skipping.step(x, g);
  CHECK(skipping.skipped_steps() == 1);
  CHECK(skipping.iterations() == 0);
  CHECK(x(0, 0) == 1);
  g.rows(2, 0) = g.rows(2, 1) = -1e308;  // now finite: stepped despite x(1, 0)
  skipping.step(x, g);
  CHECK(skipping.iterations() == 1);
  CHECK(x(0, 0) != 1);
}

TEMPLATE_TEST_CASE("sparse: a checkpoint between sparse steps continues bit for bit",
                   "[sparse][checkpoint]", SparseAdam<double>, AdaGrad<float>) {
  using S = typename TestType::Scalar;
  typename TestType::Options o;
  o.lr = S(0.05);
  TestType whole(o), first(o), second;
  Table<S> x = Table<S>::Random(9, 4), y = x;
  for (int t = 0; t < 6; ++t) {
    RowSparse<S> g;
    g.indices.resize(3);
    g.indices << (t * 5) % 9, (t * 2) % 9, (t * 5) % 9;
    g.rows = Table<S>::Random(3, 4);
    whole.step(x, g);
    if (t < 3) {
      first.step(y, g);
      if (t == 2) {
        std::stringstream saved;
        first.save(saved);
        second.load(saved);
      }
    } else {
      second.step(y, g);
    }
  }
  CHECK(y == x);
  CHECK(second.iterations() == 6);
}

TEMPLATE_TEST_CASE("sparse: threads change nothing", "[sparse][threads]", SparseAdam<float>,
                   AdaGrad<float>) {
  const Index rows = 20000, cols = 8;  // 160 000 elements: dense steps split
  Table<float> one = Table<float>::Random(rows, cols), two = one;
  TestType single, threaded;
  threaded.set_threads(2);
  for (int t = 0; t < 3; ++t) {
    RowSparse<float> g;
    g.indices = Eigen::Matrix<Index, Eigen::Dynamic, 1>::LinSpaced(500, rows - 1, 0);
    g.rows = Table<float>::Random(500, cols);
    single.step(one, g);
    threaded.step(two, g);
    const Table<float> dense = Table<float>::Random(rows, cols);
    single.step(one, dense);
    threaded.step(two, dense);
    CHECK(two == one);
  }
}
