// descent::Muon against torch.optim.Muon's step (tools/make_muon_reference.py
// writes tests/data/muon_reference.hpp), in both storage orders; a
// hand-computed first step; the AdamW fallback of vectors against
// descent::AdamW; the shape contract; threads.

#include "data/muon_reference.hpp"
#include "instantiations.hpp"
#include "support.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

#include <Eigen/Core>
#include <catch2/catch.hpp>
#include <descent/adamw.hpp>
#include <descent/make_optimizer.hpp>
#include <descent/muon.hpp>

namespace {

namespace mr = muon_reference;
using descent::Muon;
using descent::MuonLrAdjust;
using Eigen::Index;

template <typename S>
using ColMajor = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
template <typename S>
using RowMajor = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename S>
using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;

// A reference matrix (listed row by row) as M.
template <typename M>
M from_rows(const double* data, int rows, int cols) {
  M m(rows, cols);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) m(i, j) = typename M::Scalar(data[i * cols + j]);
  }
  return m;
}

template <typename S>
typename Muon<S>::Options options_of(const mr::Case& c) {
  typename Muon<S>::Options o;
  o.lr = S(c.lr);
  o.weight_decay = S(c.weight_decay);
  o.momentum = S(c.momentum);
  o.nesterov = c.nesterov;
  o.ns_steps = c.ns_steps;
  o.eps = S(c.eps);
  o.adjust_lr = c.match_rms_adamw ? MuonLrAdjust::MatchRmsAdamW : MuonLrAdjust::Original;
  return o;
}

// Runs case c in storage M; returns the worst error of any step against the
// reference, |descent − torch| / max|torch| over each step's matrix, and
// leaves the final params in `last`.
template <typename M>
double run_case(const mr::Case& c, M& last) {
  using S = typename M::Scalar;
  Muon<S> muon(options_of<S>(c));
  M x = from_rows<M>(c.x0, c.rows, c.cols);
  const M target = from_rows<M>(c.target, c.rows, c.cols);
  const M scale = from_rows<M>(c.scale, c.rows, c.cols);
  double worst = 0;
  for (int t = 0; t < mr::kSteps; ++t) {
    const M g = scale.cwiseProduct(x - target);
    muon.step(x, g);
    const ColMajor<double> expected =
        from_rows<ColMajor<double>>(c.after + t * c.rows * c.cols, c.rows, c.cols);
    const double err = (x.template cast<double>() - expected).cwiseAbs().maxCoeff() /
                       expected.cwiseAbs().maxCoeff();
    if (!(err <= worst)) worst = err;
  }
  last = x;
  return worst;
}

}  // namespace

TEST_CASE("Muon: double reproduces torch.optim.Muon's step in both storage orders", "[muon]") {
  double worst = 0;
  for (const mr::Case& c : mr::kCases) {
    INFO(c.name);
    ColMajor<double> col;
    RowMajor<double> row;
    const double col_err = run_case(c, col);
    const double row_err = run_case(c, row);
    CHECK(col_err <= 1e-13);
    // The storage order changes only the copies into the work matrices.
    CHECK(support::bitwise_equal(col.reshaped(), ColMajor<double>(row).reshaped()));
    worst = std::max({worst, col_err, row_err});
  }
  WARN("Muon<double> vs torch's step in float64, worst relative error: " << worst);
}

TEST_CASE("Muon: float follows the double reference to float's rounding", "[muon]") {
  double worst = 0;
  for (const mr::Case& c : mr::kCases) {
    INFO(c.name);
    ColMajor<float> col;
    const double err = run_case(c, col);
    CHECK(err <= 5e-6);
    worst = std::max(worst, err);
  }
  WARN("Muon<float> vs the float64 reference, worst relative error: " << worst);
}

TEST_CASE("Muon: the first step of a 1×1 matrix, by hand", "[muon]") {
  // B = (1 − μ)·g, U = B − (B − g)·(1 − μ) (μ >= 0.5), X = U/|U| = sign(g),
  // then five times x ← a·x + (b·x² + c·x⁴)·x; θ ← (1 − γλ)·θ − γ·x.
  const double a = 3.4445, b = -4.7750, c = 2.0315;
  double x = -1;  // sign(g) for g = −2
  for (int k = 0; k < 5; ++k) {
    const double gram = x * x;
    x = a * x + (b * gram + c * gram * gram) * x;
  }
  Muon<double>::Options o;
  o.lr = 0.1;
  Muon<double> muon(o);
  ColMajor<double> theta = ColMajor<double>::Constant(1, 1, 0.5);
  muon.step(theta, ColMajor<double>::Constant(1, 1, -2.0));
  CHECK_THAT(theta(0, 0), Catch::Matchers::WithinRel((1 - 0.1 * 0.1) * 0.5 - 0.1 * x, 1e-15));
}

TEST_CASE("Muon: the shape's lr adjustment is torch's _adjust_lr", "[muon]") {
  CHECK(Muon<double>::lr_ratio(MuonLrAdjust::Original, 6, 4) == std::sqrt(1.5));
  CHECK(Muon<double>::lr_ratio(MuonLrAdjust::Original, 4, 6) == 1.0);
  CHECK(Muon<double>::lr_ratio(MuonLrAdjust::MatchRmsAdamW, 4, 6) == 0.2 * std::sqrt(6.0));
  CHECK(Muon<double>::lr_ratio(MuonLrAdjust::MatchRmsAdamW, 6, 4) == 0.2 * std::sqrt(6.0));
}

TEMPLATE_TEST_CASE("Muon: a vector steps as descent::AdamW, bit for bit", "[muon]", float, double) {
  using S = TestType;
  typename Muon<S>::Options mo;
  mo.adamw_lr = S(0.05);
  mo.adamw_beta1 = S(0.8);
  mo.adamw_beta2 = S(0.99);
  mo.adamw_eps = S(1e-6);
  mo.adamw_weight_decay = S(0.3);
  typename descent::AdamW<S>::Options ao;
  ao.lr = mo.adamw_lr;
  ao.beta1 = mo.adamw_beta1;
  ao.beta2 = mo.adamw_beta2;
  ao.eps = mo.adamw_eps;
  ao.weight_decay = mo.adamw_weight_decay;
  for (const bool maximize : {false, true}) {
    mo.maximize = ao.maximize = maximize;
    for (const Index n : {Index(1), Index(17), Index(1023)}) {
      Muon<S> muon(mo);
      descent::AdamW<S> adamw(ao);
      Vec<S> x = Vec<S>::LinSpaced(n, S(-1), S(2));
      Vec<S> y = x;
      for (int t = 0; t < 6; ++t) {
        const Vec<S> g = (x.array() * x.array() - S(0.5)).matrix();
        muon.step(x, g);
        adamw.step(y, g);
      }
      CHECK(support::bitwise_equal(x, y));
    }
  }
}

TEST_CASE("Muon: a step of another shape is refused and changes nothing", "[muon]") {
  Muon<double> muon;
  ColMajor<double> x = ColMajor<double>::Ones(6, 4);
  muon.step(x, ColMajor<double>::Constant(6, 4, 0.5));
  const std::string before = support::bytes_of(muon);
  ColMajor<double> wide = ColMajor<double>::Ones(4, 6);
  support::require_message(
      [&] { muon.step(wide, ColMajor<double>::Ones(4, 6)); },
      "descent::Muon::step: params is a column-major 4×6 matrix but the state was built for a "
      "column-major 6×4 matrix (call reset() to change the shape)");
  RowMajor<double> row = RowMajor<double>::Ones(6, 4);
  CHECK_THROWS_AS(muon.step(row, RowMajor<double>::Ones(6, 4)), std::invalid_argument);
  Vec<double> flat = Vec<double>::Ones(24);
  CHECK_THROWS_AS(muon.step(flat, Vec<double>::Ones(24)), std::invalid_argument);
  CHECK(support::bytes_of(muon) == before);
  CHECK(wide == ColMajor<double>::Ones(4, 6));
  muon.reset();
  muon.step(wide, ColMajor<double>::Ones(4, 6));
  CHECK(muon.iterations() == 1);
}

TEST_CASE("Muon: a checkpoint keeps the shape and continues the run bit for bit", "[muon]") {
  const mr::Case& c = mr::kCases[0];
  Muon<double> a(options_of<double>(c));
  ColMajor<double> x = from_rows<ColMajor<double>>(c.x0, c.rows, c.cols);
  const ColMajor<double> g = ColMajor<double>::Constant(c.rows, c.cols, 0.25);
  a.step(x, g);
  std::stringstream saved;
  a.save(saved);
  Muon<double> b;
  b.load(saved);
  ColMajor<double> y = x;
  a.step(x, g);
  b.step(y, g);
  CHECK(support::bitwise_equal(x.reshaped(), y.reshaped()));
  ColMajor<double> wide = y.transpose();
  CHECK_THROWS_AS(b.step(wide, ColMajor<double>(g.transpose())), std::invalid_argument);
}

TEST_CASE("Muon: a step is bitwise the same on 1 and 3 threads", "[muon][threads]") {
  // 260 × 256 = 66 560 elements: over the threshold from which the element
  // passes split across threads. One Newton–Schulz iteration keeps it cheap.
  const Index rows = 260, cols = 256;
  ColMajor<float> x0 = ColMajor<float>::Random(rows, cols);
  const ColMajor<float> g = ColMajor<float>::Random(rows, cols);
  Muon<float>::Options o;
  o.ns_steps = 1;
  Muon<float> one(o), three(o);
  three.set_threads(3);
  ColMajor<float> x = x0, y = x0;
  for (int t = 0; t < 2; ++t) {
    one.step(x, g);
    three.step(y, g);
  }
  CHECK(support::bitwise_equal(x.reshaped(), y.reshaped()));
  CHECK(!support::bitwise_equal(x.reshaped(), x0.reshaped()));
}

TEST_CASE("Muon: options are checked, and make_optimizer reads them", "[muon]") {
  auto refused = [](auto set, const std::string& message) {
    Muon<double>::Options o;
    set(o);
    support::require_message([&] { Muon<double>{o}; }, message);
  };
  refused([](auto& o) { o.ns_steps = 100; }, "descent::Muon: ns_steps must be in [0, 99], got 100");
  refused([](auto& o) { o.eps = 0; }, "descent::Muon: eps must be finite and > 0, got 0");
  refused([](auto& o) { o.momentum = 1.5; }, "descent::Muon: momentum must be in [0, 1], got 1.5");
  refused([](auto& o) { o.decoupled_weight_decay = false; },
          "descent::Muon: decoupled_weight_decay must be true (Muon's decay is decoupled), got "
          "false");
  const auto opt = descent::make_optimizer<double>(
      "muon", {{"ns_steps", "3"}, {"adjust_lr", "match_rms_adamw"}, {"momentum", "0.9"}});
  const auto& muon = dynamic_cast<const Muon<double>&>(*opt);
  CHECK(muon.options().ns_steps == 3);
  CHECK(muon.options().adjust_lr == MuonLrAdjust::MatchRmsAdamW);
  CHECK(muon.options().momentum == 0.9);
  CHECK_THROWS_AS(descent::make_optimizer<double>("muon", {{"ns_steps", "2.5"}}),
                  std::invalid_argument);
}
