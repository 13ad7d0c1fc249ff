// WeightAverage (EMA, SWA) and SWALR: against torch.optim.swa_utils and
// Keras's use_ema (tests/data/swa_reference.hpp), the fused kernel against a
// plain loop at the vector tails, threads, swapping, checkpoints and
// argument checks.

#include "data/swa_reference.hpp"
#include "support.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>
#include <descent/descent.hpp>

namespace {

namespace sr = swa_reference;
using support::bitwise_equal;
using support::bytes_of;
template <typename S>
using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
template <typename S>
using Average = descent::WeightAverage<S>;

template <typename S>
Vec<S> gradient(const Vec<S>& x) {
  Vec<S> g(sr::kDim);
  for (int i = 0; i < sr::kDim; ++i) {
    const S a = static_cast<S>(sr::kA[i]);
    const S c = static_cast<S>(sr::kC[i]);
    const S k = static_cast<S>(sr::kCubic);
    g(i) = a * (x(i) - c) + k * x(i) * x(i) * x(i);
  }
  return g;
}

template <typename S>
Vec<S> x0() {
  Vec<S> x(sr::kDim);
  for (int i = 0; i < sr::kDim; ++i) x(i) = static_cast<S>(sr::kX0[i]);
  return x;
}

/// |got − want| / max(|want|, floor), the worst over a row.
template <typename S>
double row_error(const Vec<S>& got, const double (&want)[sr::kDim], double floor) {
  double worst = 0;
  for (int i = 0; i < sr::kDim; ++i) {
    const double e = std::abs(double(got(i)) - want[i]) / std::max(std::abs(want[i]), floor);
    worst = std::max(worst, e);
  }
  return worst;
}

template <typename S>
constexpr double rel_tol() {
  return sizeof(S) == 8 ? 1e-10 : 1e-5;
}

template <typename S>
descent::SGD<S> torch_sgd(double lr) {
  auto o = descent::SGD<S>::Options::pytorch();
  o.lr = static_cast<S>(lr);
  o.momentum = S(0.9);
  return descent::SGD<S>(o);
}

/// Writes "<what>: worst relative error e" for the report, and checks it.
void report(const char* what, double worst, double tol) {
  std::printf("%-48s worst relative error %.3g\n", what, worst);
  CHECK(worst <= tol);
}

template <typename S>
void check_plain(const sr::Row (&rows)[sr::kSteps], const char* what) {
  auto opt = torch_sgd<S>(0.05);
  Average<S> ema(Average<S>::Options::ema(0.8));
  Average<S> swa(Average<S>::Options::swa());
  Vec<S> x = x0<S>();
  const double floor = sizeof(S) == 8 ? 1e-4 : 0.1;  // |x| near 0 as it crosses
  double worst = 0;
  for (int k = 0; k < sr::kSteps; ++k) {
    const int step = k + 1;
    opt.step(x, gradient(x));
    ema.update(x);
    if (step >= sr::kSwaFirst && (step - sr::kSwaFirst) % sr::kSwaEvery == 0) swa.update(x);
    REQUIRE(swa.count() == rows[k].swa_count);
    worst = std::max(
        {worst, row_error(x, rows[k].x, floor), row_error(ema.average(), rows[k].ema, floor)});
    if (swa.count() > 0) worst = std::max(worst, row_error(swa.average(), rows[k].swa, floor));
  }
  report(what, worst, rel_tol<S>());
}

}  // namespace

TEST_CASE("WeightAverage: EMA and SWA reproduce torch's AveragedModel", "[average][torch]") {
  check_plain<float>(sr::plain_float32, "AveragedModel EMA+SWA, SGD, float32");
  check_plain<double>(sr::plain_float64, "AveragedModel EMA+SWA, SGD, float64");
}

TEST_CASE("WeightAverage and SWALR: the swa_utils recipe reproduces torch", "[average][torch]") {
  auto opt = torch_sgd<double>(0.1);
  descent::CosineAnnealingLR<double> cosine(opt, 30);
  descent::SWALR<double> swalr(opt, 0.02, 5, descent::SWALR<double>::Anneal::cos);
  Average<double> ema(Average<double>::Options::ema(0.8));
  Average<double> swa(Average<double>::Options::swa());
  Vec<double> x = x0<double>();
  double worst = 0, worst_lr = 0;
  for (int k = 0; k < sr::kSteps; ++k) {
    opt.step(x, gradient(x));
    ema.update(x);
    if (k + 1 > sr::kRecipeSwaStart) {
      swa.update(x);
      swalr.step();
    } else {
      cosine.step();
    }
    const sr::Row& row = sr::recipe_float64[k];
    REQUIRE(swa.count() == row.swa_count);
    worst = std::max({worst, row_error(x, row.x, 1e-4), row_error(ema.average(), row.ema, 1e-4)});
    if (swa.count() > 0) worst = std::max(worst, row_error(swa.average(), row.swa, 1e-4));
    worst_lr = std::max(worst_lr, std::abs(double(opt.lr()) - row.lr) / row.lr);
  }
  report("swa_utils recipe, params and averages, float64", worst, 1e-10);
  report("swa_utils recipe, lr, float64", worst_lr, 1e-13);
}

TEST_CASE("WeightAverage: Keras's use_ema with ema_overwrite_frequency", "[average][keras]") {
  auto o = descent::SGD<double>::Options::keras();
  o.lr = 0.05;
  o.momentum = 0.9;
  descent::SGD<double> opt(o);
  auto ao = Average<double>::Options::ema(0.9);
  ao.overwrite_frequency = 4;
  Average<double> ema(ao);
  Vec<double> x = x0<double>();
  double worst = 0;
  for (int k = 0; k < sr::kSteps; ++k) {
    opt.step(x, gradient(x));
    ema.update(x);
    worst = std::max({worst, row_error(x, sr::keras_ema_float64[k].x, 1e-4),
                      row_error(ema.average(), sr::keras_ema_float64[k].average, 1e-4)});
    // An overwrite step leaves the parameters equal to the average, bit for bit.
    if ((k + 1) % 4 == 0) CHECK(bitwise_equal(x, ema.average()));
  }
  report("Keras use_ema, overwrite every 4, float64", worst, 1e-10);
}

TEST_CASE("SWALR reproduces torch's sequences", "[average][torch][scheduler]") {
  for (const sr::Schedule* s : sr::kSchedules) {
    INFO(s->torch_call);
    descent::GradientDescent<double> a, b;
    a.set_lr(s->group_lr[0]);
    b.set_lr(s->group_lr[1]);
    const auto list = s->groups == 1 ? descent::OptimizerList<double>(a)
                                     : descent::OptimizerList<double>({&a, &b});
    const auto anneal =
        s->linear ? descent::SWALR<double>::Anneal::linear : descent::SWALR<double>::Anneal::cos;
    descent::StepLR<double> first(list, 2, 0.5);
    std::vector<double> swa_lrs(s->swa_lr, s->swa_lr + s->groups);
    descent::SWALR<double> swalr(list, swa_lrs, s->anneal_epochs, anneal);
    double worst = 0;
    for (int e = 0; e <= sr::kEpochs; ++e) {
      if (e > 0) {
        if (e <= s->first_epochs) {
          first.step();
        } else {
          swalr.step();
        }
      }
      for (int g = 0; g < s->groups; ++g) {
        const double got = g == 0 ? a.lr() : b.lr();
        worst = std::max(worst, std::abs(got - s->lr[e][g]) / s->lr[e][g]);
      }
    }
    std::printf("SWALR %-80s worst relative error %.3g\n", s->torch_call, worst);
    CHECK(worst <= 1e-13);
  }
}

TEMPLATE_TEST_CASE("WeightAverage: the fused pass equals a plain loop at every tail size",
                   "[average]", float, double) {
  using S = TestType;
  for (const Eigen::Index n : {0, 1, 7, 8, 9, 15, 16, 17, 1023}) {
    INFO("n = " << n);
    for (const bool swa_kind : {false, true}) {
      Average<S> avg(swa_kind ? Average<S>::Options::swa() : Average<S>::Options::ema(0.7));
      Vec<S> plain;
      Vec<S> x(n);
      for (int t = 0; t < 5; ++t) {
        for (Eigen::Index i = 0; i < n; ++i) x(i) = S(std::sin(double(3 * i + t)) * (t + 1));
        avg.update(x);
        if (t == 0) {
          plain = x;
          continue;
        }
        for (Eigen::Index i = 0; i < n; ++i) {
          if (swa_kind) {
            plain(i) = plain(i) + (x(i) - plain(i)) / S(t + 1);
          } else {
            const S keep = S(0.7), take = S(1.0 - 0.7);
            const S kept = keep * plain(i);
            const S taken = take * x(i);
            plain(i) = kept + taken;
          }
        }
      }
      if (n > 0) CHECK(bitwise_equal(avg.average(), plain));
      CHECK(avg.count() == (n > 0 ? 5 : 0));
    }
  }
}

TEST_CASE("WeightAverage: identities", "[average]") {
  // The SWA mean of 1, 2, 3, 4 is 2.5 exactly; of a constant, the constant.
  Average<double> swa(Average<double>::Options::swa());
  Vec<double> x(2);
  for (int v = 1; v <= 4; ++v) {
    x << double(v), 7.25;
    swa.update(x);
  }
  CHECK(swa.average()(0) == 2.5);
  CHECK(swa.average()(1) == 7.25);
  // EMA with decay 0 is the last params; with decay 1, the first.
  Average<double> last(Average<double>::Options::ema(0.0)),
      first(Average<double>::Options::ema(1.0));
  for (int v = 1; v <= 3; ++v) {
    x << double(v), -double(v);
    last.update(x);
    first.update(x);
  }
  CHECK(last.average() == Vec<double>((Vec<double>(2) << 3, -3).finished()));
  CHECK(first.average() == Vec<double>((Vec<double>(2) << 1, -1).finished()));
  // EMA with decay 0.5 of 0 then 4 then 8: 0, 2, 5 (hand-computed).
  Average<double> half(Average<double>::Options::ema(0.5));
  for (const double v : {0.0, 4.0, 8.0}) {
    x << v, v;
    half.update(x);
  }
  CHECK(half.average()(0) == 5.0);
}

TEST_CASE("WeightAverage: swap and the guard exchange, never lose, the raw weights", "[average]") {
  Average<double> ema(Average<double>::Options::ema(0.5));
  Vec<double> x(3);
  x << 1, 2, 3;
  CHECK_THROWS_AS(ema.swap(x), std::logic_error);  // no average yet
  ema.update(x);
  x << 3, 4, 5;
  ema.update(x);  // average 2, 3, 4
  const Vec<double> raw = x, averaged = ema.average();
  ema.swap(x);
  CHECK(ema.swapped());
  CHECK(x == averaged);
  CHECK(ema.average() == raw);
  CHECK_THROWS_AS(ema.update(x), std::logic_error);
  CHECK_THROWS_AS(ema.reset(), std::logic_error);
  CHECK_THROWS_AS(ema.copy_to(x), std::logic_error);
  std::istringstream none(bytes_of(Average<double>()));
  CHECK_THROWS_AS(ema.load(none), descent::CheckpointError);
  std::ostringstream out;
  CHECK_THROWS_WITH(ema.save(out), Catch::Contains("swap it back first"));
  ema.swap(x);
  CHECK_FALSE(ema.swapped());
  CHECK(x == raw);
  CHECK(ema.average() == averaged);
  {
    auto guard = ema.swapped_in(x);
    CHECK(x == averaged);
    CHECK_THROWS_AS(ema.swapped_in(x), std::logic_error);
  }
  CHECK(x == raw);
  try {
    auto guard = ema.swapped_in(x);
    throw std::runtime_error("evaluation failed");
  } catch (const std::runtime_error&) {
  }
  CHECK(x == raw);
  CHECK(ema.average() == averaged);
  auto guard = ema.swapped_in(x);
  auto moved = std::move(guard);
  moved.restore();
  moved.restore();  // once only
  CHECK(x == raw);
  Vec<double> wrong(2);
  CHECK_THROWS_AS(ema.swap(wrong), std::invalid_argument);
  CHECK_THROWS_AS(ema.update(wrong), std::invalid_argument);
  ema.copy_to(x);
  CHECK(x == averaged);
}

TEMPLATE_TEST_CASE("WeightAverage: threads give the same bits", "[average][threads]", float,
                   double) {
  using S = TestType;
  const Eigen::Index n = 2 * descent::detail::kParallelThreshold + 77;
  for (const bool swa_kind : {false, true}) {
    const auto options = swa_kind ? Average<S>::Options::swa() : Average<S>::Options::ema(0.9);
    Average<S> one(options), two(options);
    two.set_threads(2);
    Vec<S> x(n), y(n);
    for (int t = 0; t < 4; ++t) {
      x = Vec<S>::LinSpaced(n, S(-1), S(t + 1)).array().sin().matrix();
      y = x;
      one.update(x);
      two.update(y);
    }
    CHECK(bitwise_equal(one.average(), two.average()));
    two.swap(y);
    one.swap(x);
    CHECK(bitwise_equal(x, y));
    CHECK(bitwise_equal(one.average(), two.average()));
  }
  Average<S> bad;
  CHECK_THROWS_WITH(bad.set_threads(0), Catch::Contains("threads") && Catch::Contains("0"));
}

TEMPLATE_TEST_CASE("WeightAverage: a checkpoint resumes bit for bit", "[average][checkpoint]",
                   float, double) {
  using S = TestType;
  for (const bool swa_kind : {false, true}) {
    auto options = swa_kind ? Average<S>::Options::swa() : Average<S>::Options::ema(0.9);
    options.overwrite_frequency = swa_kind ? 0 : 5;
    Average<S> run(options);
    Vec<S> x = Vec<S>::LinSpaced(11, S(-2), S(3));
    const auto next = [](Vec<S>& p, int t) { p = (p.array() * S(0.9) + S(0.1) * S(t)).matrix(); };
    for (int t = 0; t < 7; ++t) {
      next(x, t);
      run.update(x);
    }
    const std::string saved = bytes_of(run);
    Average<S> resumed;  // other options: the checkpoint brings its own
    std::istringstream in(saved);
    resumed.load(in);
    CHECK(bytes_of(resumed) == saved);
    Vec<S> y = x;
    for (int t = 7; t < 15; ++t) {
      next(x, t);
      next(y, t);
      run.update(x);
      resumed.update(y);
    }
    CHECK(bitwise_equal(run.average(), resumed.average()));
    CHECK(bitwise_equal(x, y));
    CHECK(bytes_of(run) == bytes_of(resumed));

    // Files.
    const std::string path = "weight_average_checkpoint_" + std::to_string(sizeof(S)) +
                             (swa_kind ? "_swa.bin" : "_ema.bin");
    run.save_file(path);
    Average<S> from_file;
    from_file.load_file(path);
    CHECK(bytes_of(from_file) == bytes_of(run));
    std::remove(path.c_str());
  }
}

TEST_CASE("WeightAverage: corrupt or unfitting checkpoints are refused, nothing changes",
          "[average][checkpoint]") {
  Average<double> avg(Average<double>::Options::ema(0.5));
  Vec<double> x = Vec<double>::LinSpaced(4, 0, 1);
  avg.update(x);
  Vec<double> x2 = x * 2;
  avg.update(x2);
  const std::string good = bytes_of(avg);
  const auto refused = [](Average<double>& target, const std::string& bytes, const char* why) {
    const std::string before = bytes_of(target);
    std::istringstream in(bytes);
    CHECK_THROWS_WITH(target.load(in), Catch::Contains(why));
    CHECK(bytes_of(target) == before);
  };
  // Every truncation, and a flipped bit anywhere.
  for (std::size_t cut = 0; cut < good.size(); cut += 3) {
    Average<double> target;
    const std::string before = bytes_of(target);
    std::istringstream in(good.substr(0, cut));
    CHECK_THROWS_AS(target.load(in), descent::CheckpointError);
    CHECK(bytes_of(target) == before);
  }
  for (std::size_t at = 0; at < good.size(); ++at) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x10);
    Average<double> target;
    const std::string before = bytes_of(target);
    std::istringstream in(bad);
    CHECK_THROWS_AS(target.load(in), descent::CheckpointError);
    CHECK(bytes_of(target) == before);
  }
  // Fields: payload at 24 + 13 ("WeightAverage"): count, size, kind, decay,
  // overwrite_frequency, average.
  const std::size_t p = 24 + 13;
  const auto with = [&](std::size_t at, std::uint64_t v, int width) {
    std::string b = good;
    for (int k = 0; k < width; ++k) b[at + std::size_t(k)] = static_cast<char>(v >> (8 * k));
    const std::uint32_t crc =
        descent::detail::crc32(reinterpret_cast<const unsigned char*>(b.data()), b.size() - 4);
    for (int k = 0; k < 4; ++k)
      b[b.size() - 4 + std::size_t(k)] = static_cast<char>(crc >> (8 * k));
    return b;
  };
  Average<double> fresh;
  refused(fresh, with(p, ~std::uint64_t{0}, 8), "count -1");
  refused(fresh, with(p + 8, 0, 8), "size 0");
  refused(fresh, with(p + 16, 2, 4), "kind 2");
  double decay = 1.5;
  std::uint64_t decay_bits;
  std::memcpy(&decay_bits, &decay, 8);
  refused(fresh, with(p + 20, decay_bits, 8), "decay must be in [0, 1], got 1.5");
  refused(fresh, with(p + 28, ~std::uint64_t{0}, 8), "overwrite_frequency -1");
  // Another size than this one's; another kind of object; another scalar.
  Average<double> other;
  Vec<double> five(5);
  five.setOnes();
  other.update(five);
  refused(other, good, "reset() it first");
  refused(fresh, bytes_of(descent::GradientDescent<double>()),
          "holds an optimizer, not a weight average");
  Average<float> single;
  std::istringstream in(good);
  CHECK_THROWS_WITH(single.load(in), Catch::Contains("holds double, not float"));
}

TEST_CASE("WeightAverage and SWALR: bad arguments name the field and value", "[average][errors]") {
  using O = Average<double>::Options;
  CHECK_THROWS_WITH(Average<double>(O::ema(1.5)),
                    "descent::WeightAverage: decay must be in [0, 1], got 1.5");
  CHECK_THROWS_WITH(Average<double>(O::ema(-0.0 - 1e-3)), Catch::Contains("decay"));
  O bad_frequency;
  bad_frequency.overwrite_frequency = -2;
  CHECK_THROWS_WITH(Average<double>(bad_frequency),
                    Catch::Contains("overwrite_frequency must be >= 0, got -2"));
  O bad_kind;
  bad_kind.kind = static_cast<Average<double>::Kind>(7);
  CHECK_THROWS_WITH(Average<double>(bad_kind),
                    Catch::Contains("kind must be Ema (0) or Swa (1), got 7"));

  descent::GradientDescent<double> gd, gd2;
  using A = descent::SWALR<double>::Anneal;
  CHECK_THROWS_WITH(descent::SWALR<double>(gd, -0.5),
                    "descent::SWALR: swa_lrs[0] must be finite and >= 0, got -0.5");
  CHECK_THROWS_WITH(descent::SWALR<double>(gd, 0.1, -1),
                    Catch::Contains("anneal_epochs must be >= 0, got -1"));
  CHECK_THROWS_WITH(descent::SWALR<double>(gd, 0.1, 3, static_cast<A>(5)),
                    Catch::Contains("anneal_strategy must be cos (0) or linear (1), got 5"));
  CHECK_THROWS_WITH(descent::SWALR<double>({&gd, &gd2}, std::vector<double>{0.1}),
                    Catch::Contains("swa_lrs must be one per optimizer (2), got 1"));
  // A refused construction leaves the lr as it was.
  gd.set_lr(0.25);
  CHECK_THROWS(descent::SWALR<double>(gd, 0.1, 0, static_cast<A>(5)));
  CHECK(gd.lr() == 0.25);
}

TEST_CASE("SWALR: a checkpoint resumes the sequence, corrupt ones are refused",
          "[average][scheduler][checkpoint]") {
  descent::GradientDescent<double> a, b;
  a.set_lr(0.5);
  descent::SWALR<double> run(a, 0.05, 6, descent::SWALR<double>::Anneal::linear);
  for (int e = 0; e < 3; ++e) run.step();
  const std::string saved = bytes_of(run);
  const std::string saved_lr = bytes_of(a);
  b.set_lr(0.9);
  descent::SWALR<double> resumed(b, 0.3, 2);
  std::istringstream in(saved), in_lr(saved_lr);
  resumed.load(in);
  b.load(in_lr);
  CHECK(bytes_of(resumed) == saved);
  CHECK(resumed.anneal_epochs() == 6);
  CHECK(resumed.swa_lr() == 0.05);
  for (int e = 0; e < 6; ++e) {
    run.step();
    resumed.step();
    CHECK(a.lr() == b.lr());
  }
  CHECK(a.lr() == 0.05);
  for (std::size_t at = 0; at < saved.size(); ++at) {
    std::string bad = saved;
    bad[at] = static_cast<char>(bad[at] ^ 0x01);
    const std::string before = bytes_of(resumed);
    std::istringstream corrupt(bad);
    CHECK_THROWS_AS(resumed.load(corrupt), descent::CheckpointError);
    CHECK(bytes_of(resumed) == before);
  }
}
