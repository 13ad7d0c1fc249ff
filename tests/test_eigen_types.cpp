// step(params, grad) takes every contiguous Eigen object as a flat vector and
// gives the same bits as the VectorX call on the same values.

#include "support.hpp"

#include <array>
#include <memory>
#include <vector>

#include <descent/descent.hpp>

using support::Vec;

namespace {

constexpr int kSteps = 3;

template <typename S>
Vec<S> flat_start(Eigen::Index n) {
  return Vec<S>::LinSpaced(n, S(-1.5), S(2.5));
}

template <typename S>
Vec<S> flat_grad(const Vec<S>& x) {
  return (S(2) * x.array() - S(0.5)).matrix();
}

/// The VectorX run every other form must reproduce: kSteps Adam steps with
/// grad = 2x − 0.5.
template <typename S>
Vec<S> expected_after(Eigen::Index n) {
  auto adam = support::with_options<descent::Adam<S>>([](auto& o) { o.lr = S(0.1); });
  Vec<S> x = flat_start<S>(n);
  for (int t = 0; t < kSteps; ++t) adam.step(x, flat_grad<S>(x));
  return x;
}

template <typename S, typename Flat>
void require_matches(const Flat& flat_values, Eigen::Index n) {
  const Vec<S> got = Eigen::Map<const Vec<S>>(flat_values.data(), n);
  CHECK(support::bitwise_equal(got, expected_after<S>(n)));
}

}  // namespace

TEMPLATE_TEST_CASE("eigen types: ArrayX params and grad", "[eigen]", float, double) {
  using S = TestType;
  auto adam = support::with_options<descent::Adam<S>>([](auto& o) { o.lr = S(0.1); });
  Eigen::Array<S, Eigen::Dynamic, 1> x = flat_start<S>(11).array();
  for (int t = 0; t < kSteps; ++t) {
    const Eigen::Array<S, Eigen::Dynamic, 1> g = S(2) * x - S(0.5);
    adam.step(x, g);
  }
  require_matches<S>(x, 11);
}

TEMPLATE_TEST_CASE("eigen types: MatrixX params, column-major and row-major", "[eigen]", float,
                   double) {
  using S = TestType;
  SECTION("column-major") {
    using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
    auto adam = support::with_options<descent::Adam<S>>([](auto& o) { o.lr = S(0.1); });
    Mat x = Eigen::Map<const Mat>(flat_start<S>(12).data(), 3, 4);
    for (int t = 0; t < kSteps; ++t) adam.step(x, (S(2) * x.array() - S(0.5)).matrix().eval());
    require_matches<S>(x, 12);
  }
  SECTION("row-major") {
    using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    auto adam = support::with_options<descent::Adam<S>>([](auto& o) { o.lr = S(0.1); });
    Mat x = Eigen::Map<const Mat>(flat_start<S>(12).data(), 3, 4);
    for (int t = 0; t < kSteps; ++t) {
      const Mat g = (S(2) * x.array() - S(0.5)).matrix();
      adam.step(x, g);
    }
    require_matches<S>(x, 12);
  }
}

TEMPLATE_TEST_CASE("eigen types: Map over user memory, with a const Map grad", "[eigen]", float,
                   double) {
  using S = TestType;
  auto adam = support::with_options<descent::Adam<S>>([](auto& o) { o.lr = S(0.1); });
  std::vector<S> storage(9);
  Eigen::Map<Vec<S>>(storage.data(), 9) = flat_start<S>(9);
  std::array<S, 9> grad{};
  for (int t = 0; t < kSteps; ++t) {
    for (std::size_t i = 0; i < grad.size(); ++i) grad[i] = S(2) * storage[i] - S(0.5);
    adam.step(Eigen::Map<Vec<S>>(storage.data(), 9), Eigen::Map<const Vec<S>>(grad.data(), 9));
  }
  require_matches<S>(storage, 9);
}

TEMPLATE_TEST_CASE("eigen types: segment and head temporaries update only their range", "[eigen]",
                   float, double) {
  using S = TestType;
  auto adam = support::with_options<descent::Adam<S>>([](auto& o) { o.lr = S(0.1); });
  Vec<S> whole = Vec<S>::Constant(20, S(7));
  whole.segment(4, 10) = flat_start<S>(10);
  Vec<S> g(20);
  for (int t = 0; t < kSteps; ++t) {
    g = flat_grad<S>(whole);
    adam.step(whole.segment(4, 10), g.segment(4, 10));
  }
  require_matches<S>(Vec<S>(whole.segment(4, 10)), 10);
  CHECK((whole.head(4).array() == S(7)).all());
  CHECK((whole.tail(6).array() == S(7)).all());

  auto gd = support::with_options<descent::GradientDescent<S>>([](auto& o) { o.lr = S(0.5); });
  gd.step(whole.head(4), Vec<S>::Ones(4));
  CHECK((whole.head(4).array() == S(6.5)).all());
}

TEMPLATE_TEST_CASE("eigen types: grad as an expression, a strided view or params itself", "[eigen]",
                   float, double) {
  using S = TestType;
  SECTION("expression") {
    auto adam = support::with_options<descent::Adam<S>>([](auto& o) { o.lr = S(0.1); });
    Vec<S> x = flat_start<S>(13);
    for (int t = 0; t < kSteps; ++t) adam.step(x, S(2) * x - Vec<S>::Constant(13, S(0.5)));
    require_matches<S>(x, 13);
  }
  SECTION("strided row of a matrix") {
    auto adam = support::with_options<descent::Adam<S>>([](auto& o) { o.lr = S(0.1); });
    Vec<S> x = flat_start<S>(5);
    Eigen::Matrix<S, 3, Eigen::Dynamic> rows(3, 5);
    for (int t = 0; t < kSteps; ++t) {
      rows.setZero();
      rows.row(1) = flat_grad<S>(x).transpose();
      adam.step(x, rows.row(1));
    }
    require_matches<S>(x, 5);
  }
  SECTION("params as its own gradient") {
    // f = ½‖x‖², grad = x: the call reads grad from a copy, so each element
    // sees the gradient before the update.
    auto aliased = support::with_options<descent::Momentum<S>>([](auto& o) {
      o.lr = S(0.1);
      o.beta = S(0.5);
    });
    auto separate = support::with_options<descent::Momentum<S>>([](auto& o) {
      o.lr = S(0.1);
      o.beta = S(0.5);
    });
    Vec<S> x = flat_start<S>(9);
    Vec<S> y = x;
    for (int t = 0; t < kSteps; ++t) {
      aliased.step(x, x);
      const Vec<S> g = y;
      separate.step(y, g);
    }
    CHECK(support::bitwise_equal(x, y));
  }
}

TEMPLATE_TEST_CASE("eigen types: fixed-size vectors", "[eigen]", float, double) {
  using S = TestType;
  auto adam = support::with_options<descent::Adam<S>>([](auto& o) { o.lr = S(0.1); });
  Eigen::Matrix<S, 4, 1> x = flat_start<S>(4);
  for (int t = 0; t < kSteps; ++t) {
    const Eigen::Matrix<S, 4, 1> g = (S(2) * x.array() - S(0.5)).matrix();
    adam.step(x, g);
  }
  require_matches<S>(x, 4);
}

TEMPLATE_TEST_CASE("eigen types: through Optimizer<S>& and pointers", "[eigen]", float, double) {
  using S = TestType;
  std::vector<std::unique_ptr<descent::Optimizer<S>>> optimizers;
  optimizers.push_back(std::make_unique<descent::Adam<S>>(
      support::options<descent::Adam<S>>([](auto& o) { o.lr = S(0.1); })));
  descent::Optimizer<S>& base = *optimizers.front();
  Vec<S> x = flat_start<S>(10);
  for (int t = 0; t < kSteps; ++t) {
    const Vec<S> g = flat_grad<S>(x);
    base.step(x, g);
  }
  require_matches<S>(x, 10);
  CHECK(base.name() == "Adam");
  CHECK(base.iterations() == kSteps);
}
