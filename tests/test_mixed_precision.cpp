// LossScaler against torch 1.13's GradScaler re-implemented in NumPy
// (tests/data/loss_scaler_reference.hpp) and hand-computed cases;
// MixedPrecision's identities: its master copy is bit for bit the float
// optimizer fed the gradients converted to float, and the parameters are its
// rounding to nearest even, with and without loss scaling; checkpoints and
// argument checks of both.

#include "data/loss_scaler_reference.hpp"
#include "support.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>
#include <descent/descent.hpp>

namespace {

namespace lr = loss_scaler_reference;
using support::bytes_of;
using VecF = Eigen::VectorXf;
template <typename T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

bool same(float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

descent::LossScaler::Options options_of(const lr::Run& run) {
  descent::LossScaler::Options o;
  o.init_scale = run.init_scale;
  o.growth_factor = run.growth_factor;
  o.backoff_factor = run.backoff_factor;
  o.growth_interval = run.growth_interval;
  return o;
}

/// float → half, rounded to nearest even, computed in double without Eigen.
float half_rne(float f) {
  if (!std::isfinite(f) || f == 0) return f;
  const double a = std::abs(double(f));
  if (a >= 65520.0) return std::copysign(std::numeric_limits<float>::infinity(), f);
  int e = 0;
  std::frexp(a, &e);  // a = m · 2^e, m in [0.5, 1)
  const double ulp = std::ldexp(1.0, std::max(e - 1, -14) - 10);
  return static_cast<float>(std::copysign(std::nearbyint(a / ulp) * ulp, double(f)));
}

/// float → bfloat16, rounded to nearest even, on the bits.
float bfloat16_rne(float f) {
  if (std::isnan(f)) return f;
  std::uint32_t u = 0;
  std::memcpy(&u, &f, 4);
  u += 0x7FFFu + ((u >> 16) & 1u);
  u &= 0xFFFF0000u;
  float r = 0;
  std::memcpy(&r, &u, 4);
  return r;
}

template <typename Low>
float rne(float f) {
  return std::is_same<Low, Eigen::half>::value ? half_rne(f) : bfloat16_rne(f);
}

/// A bytes string with `width` bytes at `at` replaced and the CRC resealed.
std::string with_field(std::string b, std::size_t at, std::uint64_t v, int width) {
  for (int k = 0; k < width; ++k) b[at + std::size_t(k)] = static_cast<char>(v >> (8 * k));
  const std::uint32_t crc =
      descent::detail::crc32(reinterpret_cast<const unsigned char*>(b.data()), b.size() - 4);
  for (int k = 0; k < 4; ++k) b[b.size() - 4 + std::size_t(k)] = static_cast<char>(crc >> (8 * k));
  return b;
}

std::uint64_t bits_of(double d) {
  std::uint64_t u = 0;
  std::memcpy(&u, &d, 8);
  return u;
}

template <typename T>
void refused(T& target, const std::string& bytes, const char* why) {
  const std::string before = bytes_of(target);
  std::istringstream in(bytes);
  CHECK_THROWS_WITH(target.load(in), Catch::Contains(why));
  CHECK(bytes_of(target) == before);
}

}  // namespace

TEST_CASE("LossScaler reproduces GradScaler's unscale, skips and updates (torch 1.13)",
          "[loss_scaler][torch]") {
  int compared = 0;
  for (const lr::Run* run : {&lr::kHalf, &lr::kOverflow, &lr::kRounding}) {
    descent::LossScaler scaler(options_of(*run));
    descent::LossScaler stepping(options_of(*run));
    descent::GradientDescent<float> gd;
    VecF x = VecF::Ones(run->width);
    std::int64_t stepped = 0;
    for (int t = 0; t < lr::kSteps; ++t) {
      const lr::Step& want = run->steps[t];
      INFO("run with init_scale " << run->init_scale << ", step " << t);
      VecF g(run->width);
      for (int i = 0; i < run->width; ++i) g(i) = want.scaled[i];
      VecF unscaled(run->width);
      bool finite = false;
      if (run == &lr::kHalf) {  // the half gradient unscaled while converted
        const Vec<Eigen::half> h = g.cast<Eigen::half>();
        REQUIRE(h.cast<float>().cwiseEqual(g).count() + g.array().isNaN().count() == run->width);
        finite = scaler.unscale(h, unscaled);
      } else {
        unscaled = g;
        finite = scaler.unscale(unscaled);
      }
      CHECK(finite == want.stepped);
      for (int i = 0; i < run->width; ++i) CHECK(same(unscaled(i), want.unscaled[i]));
      scaler.update(!finite);
      CHECK(scaler.scale() == want.scale);
      CHECK(scaler.growth_tracker() == want.growth_tracker);
      // The convenience: the same decisions; a skipped step leaves x and
      // the optimizer's step count as they were.
      const VecF before = x;
      CHECK(stepping.step(gd, x, g) == want.stepped);
      stepped += want.stepped ? 1 : 0;
      CHECK(gd.iterations() == stepped);
      if (!want.stepped) CHECK(support::bitwise_equal(x, before));
      CHECK(stepping.scale() == want.scale);
      CHECK(stepping.growth_tracker() == want.growth_tracker);
      ++compared;
    }
  }
  std::printf("LossScaler: %d steps of GradScaler's reference compared exactly\n", compared);
  CHECK(compared == 3 * lr::kSteps);
}

TEST_CASE("LossScaler: hand-computed scales, the overflow and underflow limits", "[loss_scaler]") {
  descent::LossScaler s;  // GradScaler's defaults
  CHECK(s.scale() == 65536.f);
  CHECK(s.inv_scale() == 1.f / 65536.f);
  CHECK(s.scaled(2.5f) == 163840.f);
  for (int k = 0; k < 1999; ++k) s.update(false);
  CHECK(s.scale() == 65536.f);
  CHECK(s.growth_tracker() == 1999);
  s.update(false);
  CHECK(s.scale() == 131072.f);
  CHECK(s.growth_tracker() == 0);
  s.update(false);
  s.update(true);
  CHECK(s.scale() == 65536.f);
  CHECK(s.growth_tracker() == 0);

  // Unscale: the check reads the scaled value; at scale 1 the values pass
  // through; below 1 a finite value may overflow and still count as finite.
  VecF g(4);
  g << 65536.f, -3.f, std::numeric_limits<float>::infinity(), 1.f;
  CHECK_FALSE(s.unscale(g));
  CHECK(g(0) == 1.f);
  CHECK(g(1) == -3.f / 65536.f);
  CHECK(std::isinf(g(2)));
  // A strided view is unscaled in place too: every other row of a matrix.
  Eigen::MatrixXd m = Eigen::MatrixXd::Constant(4, 2, 131072.0);
  m(2, 1) = std::nan("");
  CHECK(s.unscale(m.middleRows(0, 2)));
  CHECK_FALSE(s.unscale(m.middleRows(2, 2)));
  CHECK(m(0, 1) == 2.0);
  CHECK(m(3, 0) == 2.0);
  descent::LossScaler::Options small;
  small.init_scale = 0.25;
  descent::LossScaler quarter(small);
  VecF big(1);
  big << std::numeric_limits<float>::max();
  CHECK(quarter.unscale(big));
  CHECK(std::isinf(big(0)));

  // 0.1 is not a float: the scale is float(0.1); its reciprocal is taken in
  // double and rounded once.
  small.init_scale = 0.1;
  descent::LossScaler tenth(small);
  CHECK(tenth.scale() == 0.1f);
  CHECK(tenth.inv_scale() == static_cast<float>(1.0 / double(0.1f)));

  // A growth to 2^128 would not be finite: the scale stays, the tracker restarts.
  descent::LossScaler::Options top;
  top.init_scale = std::ldexp(1.0, 127);
  top.growth_interval = 1;
  descent::LossScaler high(top);
  high.update(false);
  CHECK(high.scale() == std::ldexp(1.f, 127));
  CHECK(high.growth_tracker() == 0);

  // Back-offs from the smallest subnormal: 2^-150 ties to the even 0.
  descent::LossScaler::Options bottom;
  bottom.init_scale = std::ldexp(1.0, -149);
  descent::LossScaler low(bottom);
  CHECK(low.scale() == std::ldexp(1.f, -149));
  low.update(true);
  CHECK(low.scale() == 0.f);
  CHECK(std::isinf(low.inv_scale()));
  // ... a state a checkpoint keeps.
  descent::LossScaler reloaded;
  std::istringstream in(bytes_of(low));
  reloaded.load(in);
  CHECK(reloaded.scale() == 0.f);
  low.reset();
  CHECK(low.scale() == std::ldexp(1.f, -149));
}

TEST_CASE("LossScaler: checkpoints resume exactly; bad ones are refused, nothing changes",
          "[loss_scaler][checkpoint]") {
  descent::LossScaler::Options o;
  o.init_scale = 1000;
  o.growth_factor = 1.7;
  o.backoff_factor = 0.3;
  o.growth_interval = 5;
  descent::LossScaler a(o);
  for (const bool inf : {false, true, false, false, false, false, false, false}) a.update(inf);
  REQUIRE(a.growth_tracker() == 1);
  const std::string good = bytes_of(a);
  descent::LossScaler b;
  std::istringstream in(good);
  b.load(in);
  CHECK(bytes_of(b) == good);
  CHECK(b.options().growth_interval == 5);
  for (const bool inf : {false, false, false, false, true, false}) {
    a.update(inf);
    b.update(inf);
    CHECK(a.scale() == b.scale());
    CHECK(a.growth_tracker() == b.growth_tracker());
  }

  // Payload at 24 + 10 ("LossScaler"): init_scale, growth_factor,
  // backoff_factor, growth_interval, scale, tracker.
  descent::LossScaler target;
  const std::size_t p = 24 + 10;
  refused(target, with_field(good, p, bits_of(0.0), 8), "init_scale must be finite and > 0");
  refused(target, with_field(good, p + 8, bits_of(1.0), 8), "growth_factor must be finite and > 1");
  refused(target, with_field(good, p + 16, bits_of(1.0), 8), "backoff_factor must be in (0, 1)");
  refused(target, with_field(good, p + 24, 0, 8), "growth_interval 0 is not in [1, 2^31 − 1]");
  refused(target, with_field(good, p + 24, std::uint64_t{1} << 31, 8), "growth_interval");
  refused(target, with_field(good, p + 32, bits_of(0.1), 8), "scale 0.1 is not a finite float");
  refused(target, with_field(good, p + 32, bits_of(-1.0), 8), "scale -1 is not");
  refused(target, with_field(good, p + 32, bits_of(std::nan("")), 8), "is not a finite float");
  refused(target, with_field(good, p + 40, 5, 8),
          "growth tracker 5 is not in [0, growth_interval)");
  refused(target, with_field(good, p + 40, ~std::uint64_t{0}, 8), "growth tracker -1");
  std::string corrupt = good;
  corrupt[p + 3] = static_cast<char>(corrupt[p + 3] ^ 1);
  refused(target, corrupt, "checksum mismatch");
  refused(target, good.substr(0, good.size() - 1), "truncated");
  descent::Adam<float> adam;
  refused(target, bytes_of(adam), "holds an optimizer, not a loss scaler");
}

TEST_CASE("LossScaler: options are checked, naming the field and value", "[loss_scaler][errors]") {
  const auto refuses = [](auto set, const char* why) {
    descent::LossScaler::Options o;
    set(o);
    CHECK_THROWS_WITH(descent::LossScaler(o), Catch::Contains(why));
  };
  refuses([](auto& o) { o.init_scale = 0; },
          "descent::LossScaler: init_scale must be finite and > 0 as a float, got 0");
  refuses([](auto& o) { o.init_scale = 1e39; }, "init_scale must be finite and > 0 as a float");
  refuses([](auto& o) { o.init_scale = 1e-50; }, "init_scale must be finite and > 0 as a float");
  refuses([](auto& o) { o.init_scale = std::nan(""); }, "init_scale");
  refuses([](auto& o) { o.growth_factor = 1; }, "growth_factor must be finite and > 1, got 1");
  refuses([](auto& o) { o.growth_factor = HUGE_VAL; }, "growth_factor must be finite and > 1");
  refuses([](auto& o) { o.backoff_factor = 1; }, "backoff_factor must be in (0, 1), got 1");
  refuses([](auto& o) { o.backoff_factor = 0; }, "backoff_factor must be in (0, 1), got 0");
  refuses([](auto& o) { o.growth_interval = 0; },
          "growth_interval must be in [1, 2^31 − 1], got 0");
  refuses([](auto& o) { o.growth_interval = 2147483648L; }, "growth_interval");
  descent::LossScaler s;
  VecF g(3);
  VecF out(2);
  CHECK_THROWS_WITH(s.unscale(g, out),
                    Catch::Contains("the gradient has 3 elements but out has 2"));
}

TEMPLATE_TEST_CASE("MixedPrecision: the master copy is the float optimizer's, params its rounding",
                   "[mixed_precision]", Eigen::half, Eigen::bfloat16) {
  using Low = TestType;
  for (const Eigen::Index n : {1, 7, 17}) {
    INFO("n = " << n);
    descent::Adam<float> inner;
    descent::Adam<float> reference;
    descent::MixedPrecision<Low> mp(inner);
    const VecF init = VecF::LinSpaced(n, -1.3f, 2.1f);
    Vec<Low> x = init.cast<Low>();
    VecF xf = x.template cast<float>();  // the master copy starts from the rounded params
    for (int t = 0; t < 60; ++t) {
      // f(x) = Σ c_i (x_i − 0.3)², its gradient evaluated and stored in Low.
      const VecF xl = x.template cast<float>();
      const VecF c = VecF::LinSpaced(n, 0.5f, 4.f);
      const Vec<Low> g = (2.f * c.cwiseProduct(xl.array().matrix() - VecF::Constant(n, 0.3f)))
                             .template cast<Low>();
      mp.step(x, g);
      reference.step(xf, g.template cast<float>());
      REQUIRE(support::bitwise_equal(mp.master(), xf));
      for (Eigen::Index i = 0; i < n; ++i) {
        REQUIRE(float(x(i)) == rne<Low>(xf(i)));
      }
    }
    CHECK(inner.iterations() == 60);
    // The master copy moved by far more than params' rounding would show.
    CHECK((mp.master() - x.template cast<float>()).cwiseAbs().maxCoeff() > 0);
    // set_master: the unrounded start; a float grad is taken as it is.
    descent::Adam<float> inner2;
    descent::Adam<float> reference2;
    descent::MixedPrecision<Low> from_float(inner2);
    from_float.set_master(init);
    Vec<Low> y = Vec<Low>::Zero(n);  // overwritten from the master copy
    VecF yf = init;
    const VecF gf = VecF::LinSpaced(n, -0.01f, 0.02f);
    from_float.step(y, gf);
    reference2.step(yf, gf);
    CHECK(support::bitwise_equal(from_float.master(), yf));
    for (Eigen::Index i = 0; i < n; ++i) CHECK(float(y(i)) == rne<Low>(yf(i)));
  }
}

TEMPLATE_TEST_CASE("MixedPrecision with a LossScaler: unscaled while converted, skips untouched",
                   "[mixed_precision][loss_scaler]", Eigen::half, Eigen::bfloat16) {
  using Low = TestType;
  const Eigen::Index n = 9;
  descent::SGD<float>::Options so;
  so.lr = 0.05f;
  so.momentum = 0.9f;
  descent::SGD<float> inner(so);
  descent::SGD<float> reference(so);
  descent::MixedPrecision<Low> mp(inner);
  descent::LossScaler::Options lo;
  lo.init_scale = std::is_same<Low, Eigen::half>::value ? 65536.0 : std::ldexp(1.0, 120);
  lo.growth_interval = 4;
  descent::LossScaler scaler(lo);
  descent::LossScaler reference_scaler(lo);
  Vec<Low> x = VecF::LinSpaced(n, -2.f, 2.f).cast<Low>();
  VecF xf = x.template cast<float>();
  int skipped = 0;
  for (int t = 0; t < 40; ++t) {
    // The true gradient x − 1 + 0.01·i, back-propagated from loss · scale
    // and stored in Low: large scales overflow to inf; a NaN now and then.
    const VecF xl = x.template cast<float>();
    VecF scaled_f =
        (xl.array() - 1.f + 0.01f * VecF::LinSpaced(n, 0, float(n - 1)).array()).matrix() *
        scaler.scale();
    if (std::is_same<Low, Eigen::bfloat16>::value && t % 5 == 0) {
      scaled_f(2) = std::numeric_limits<float>::infinity();
    }
    if (t == 11) scaled_f(4) = std::numeric_limits<float>::quiet_NaN();
    const Vec<Low> g = scaled_f.cast<Low>();
    // The reference: GradScaler's steps on a float optimizer.
    VecF gf(n);
    const bool finite = reference_scaler.unscale(g, gf);
    if (finite) reference.step(xf, gf);
    reference_scaler.update(!finite);

    const Vec<Low> x_before = x;
    const VecF master_before = mp.master();
    const std::int64_t iterations = inner.iterations();
    const bool stepped = t % 2 == 0 ? mp.step(x, g, scaler) : scaler.step(mp, x, g);
    CHECK(stepped == finite);
    if (!stepped) {
      ++skipped;
      CHECK(inner.iterations() == iterations);
      CHECK(support::bitwise_equal(x, x_before));
      CHECK(support::bitwise_equal(mp.master(), master_before));
    } else {
      REQUIRE(support::bitwise_equal(mp.master(), xf));
      for (Eigen::Index i = 0; i < n; ++i) REQUIRE(float(x(i)) == rne<Low>(xf(i)));
    }
    CHECK(scaler.scale() == reference_scaler.scale());
    CHECK(scaler.growth_tracker() == reference_scaler.growth_tracker());
  }
  CHECK(skipped >= 3);
  CHECK(inner.iterations() == 40 - skipped);
}

TEST_CASE("MixedPrecision: checkpoints, the low type, sizes; nothing changes on error",
          "[mixed_precision][checkpoint][errors]") {
  descent::Adam<float> a;
  descent::MixedPrecision<Eigen::half> mp(a);
  Vec<Eigen::half> x = VecF::LinSpaced(5, -1, 1).cast<Eigen::half>();
  const Vec<Eigen::half> g = VecF::LinSpaced(5, 0.5f, -0.5f).cast<Eigen::half>();
  for (int t = 0; t < 3; ++t) mp.step(x, g);
  const std::string good = bytes_of(mp);

  descent::Adam<float> b;
  descent::MixedPrecision<Eigen::half> resumed(b);
  std::istringstream in(good);
  resumed.load(in);
  CHECK(bytes_of(resumed) == good);
  Vec<Eigen::half> y = x;
  for (int t = 0; t < 4; ++t) {
    mp.step(x, g);
    resumed.step(y, g);
  }
  CHECK(support::bitwise_equal(mp.master(), resumed.master()));
  CHECK(support::bitwise_equal(x, y));

  descent::Adam<float> c;
  descent::MixedPrecision<Eigen::bfloat16> other(c);
  refused(other, good, "the checkpoint is for MixedPrecision<half>, not MixedPrecision<bfloat16>");
  descent::Adam<float> d;
  descent::MixedPrecision<Eigen::half> target(d);
  // Payload at 24 + 20 ("MixedPrecision<half>"): size, master copy, nested.
  const std::size_t p = 24 + 20;
  refused(target, with_field(good, p, 0, 8), "size 0 is not −1 (none)");
  refused(target, with_field(good, p, 4, 8),
          "master copy has 5 elements where the state size is 4");
  descent::SGD<float> sgd;
  descent::MixedPrecision<Eigen::half> wrong_inner(sgd);
  refused(wrong_inner, good, "the checkpoint is for Adam, not SGD");

  // Sizes: refused before anything changes.
  const std::string before = bytes_of(mp);
  const Vec<Eigen::half> x_before = x;
  Vec<Eigen::half> four = Vec<Eigen::half>::Zero(4);
  CHECK_THROWS_WITH(mp.step(x, four), Catch::Contains("params has 5 elements but grad has 4"));
  CHECK_THROWS_WITH(mp.step(four, four), Catch::Contains("state was built for 5"));
  descent::LossScaler scaler;
  CHECK_THROWS_WITH(mp.step(x, four, scaler), Catch::Contains("params has 5 elements"));
  CHECK(scaler.growth_tracker() == 0);
  CHECK_THROWS_WITH(mp.set_master(VecF::Zero(4)), Catch::Contains("state was built for 5"));
  CHECK(bytes_of(mp) == before);
  CHECK(support::bitwise_equal(x, x_before));
  // The first step refused by the wrapped optimizer: no master copy is made.
  descent::Adam<float> e;
  Vec<float> three = Vec<float>::Ones(3);
  e.step(three, three);
  descent::MixedPrecision<Eigen::half> fresh(e);
  CHECK_THROWS_WITH(fresh.step(x, g), Catch::Contains("state was built for 3"));
  CHECK(fresh.master().size() == 0);
}

TEST_CASE("MixedPrecision: threads give the same bits", "[mixed_precision][threads]") {
  const Eigen::Index n = 70001;  // above the threshold of 65 536, with a tail
  descent::Adam<float> one_inner;
  descent::Adam<float> two_inner;
  descent::MixedPrecision<Eigen::bfloat16> one(one_inner);
  descent::MixedPrecision<Eigen::bfloat16> two(two_inner);
  two.set_threads(2);
  Vec<Eigen::bfloat16> x = VecF::LinSpaced(n, -3, 3).cast<Eigen::bfloat16>();
  Vec<Eigen::bfloat16> y = x;
  descent::LossScaler s1;
  descent::LossScaler s2;
  for (int t = 0; t < 3; ++t) {
    const Vec<Eigen::bfloat16> g = (x.cast<float>() * 0.5f).cast<Eigen::bfloat16>();
    one.step(x, g);
    two.step(y, g);
    const Vec<Eigen::bfloat16> scaled = (x.cast<float>() * s1.scale()).cast<Eigen::bfloat16>();
    CHECK(one.step(x, scaled, s1));
    CHECK(two.step(y, scaled, s2));
  }
  CHECK(support::bitwise_equal(x, y));
  CHECK(support::bitwise_equal(one.master(), two.master()));
  for (Eigen::Index i = 0; i < n; i += 997) CHECK(float(x(i)) == bfloat16_rne(one.master()(i)));
}
