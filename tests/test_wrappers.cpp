// Lookahead and GradientAccumulation: against optax's and Keras's wrapper
// code (tests/data/wrapper_reference.hpp); Schedule-Free SGD and AdamW
// against the reference's code (tests/data/schedule_free_reference.hpp); identities with the
// wrapped optimizer, bit-equality of accumulation with one step on the mean, threads, the
// non-finite policy, checkpoints and argument checks.

#include "data/schedule_free_reference.hpp"
#include "data/wrapper_reference.hpp"
#include "support.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>
#include <descent/descent.hpp>

namespace {

namespace wr = wrapper_reference;
using support::bitwise_equal;
using support::bytes_of;
template <typename S>
using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;

template <typename S>
Vec<S> gradient(const Vec<S>& x, int j = -1) {
  Vec<S> g(wr::kDim);
  for (int i = 0; i < wr::kDim; ++i) {
    const S a = static_cast<S>(wr::kA[i]);
    const S c = static_cast<S>(wr::kC[i]);
    const S k = static_cast<S>(wr::kCubic);
    g(i) = a * (x(i) - c) + k * x(i) * x(i) * x(i);
    if (j >= 0) g(i) = g(i) + S((j % 3) - 1) * static_cast<S>(wr::kD[i]);
  }
  return g;
}

template <typename S>
Vec<S> x0() {
  Vec<S> x(wr::kDim);
  for (int i = 0; i < wr::kDim; ++i) x(i) = static_cast<S>(wr::kX0[i]);
  return x;
}

template <typename S>
double row_error(const Vec<S>& got, const double (&want)[wr::kDim]) {
  double worst = 0;
  for (int i = 0; i < wr::kDim; ++i) {
    const double floor = sizeof(S) == 8 ? 1e-4 : 0.1;
    worst =
        std::max(worst, std::abs(double(got(i)) - want[i]) / std::max(std::abs(want[i]), floor));
  }
  return worst;
}

void report(const std::string& what, double worst, double tol) {
  std::printf("%-100s worst relative error %.3g\n", what.c_str(), worst);
  CHECK(worst <= tol);
}

template <typename S>
void check_lookahead(const wr::LookaheadRun& run) {
  descent::GradientDescent<S> sgd(
      support::options<descent::GradientDescent<S>>([](auto& o) { o.lr = S(0.05); }));
  descent::AdaBelief<S> adabelief(
      support::options<descent::AdaBelief<S>>([](auto& o) { o.lr = S(0.01); }));
  descent::Optimizer<S>& inner =
      run.adabelief ? static_cast<descent::Optimizer<S>&>(adabelief) : sgd;
  typename descent::Lookahead<S>::Options o;
  o.sync_period = run.sync_period;
  o.slow_step_size = run.slow_step_size;
  o.reset_state = run.reset_state;
  descent::Lookahead<S> la(inner, o);
  Vec<S> x = x0<S>();
  double worst = 0;
  for (int k = 0; k < wr::kSteps; ++k) {
    la.step(x, gradient(x));
    worst =
        std::max({worst, row_error(x, run.fast[k]), row_error<S>(la.slow_weights(), run.slow[k])});
  }
  report(std::string(run.optax_call) + ", " + run.dtype, worst, sizeof(S) == 8 ? 1e-10 : 1e-5);
}

/// A gradient that changes with the step j, for runs on any size.
template <typename S>
Vec<S> gradient_like(const Vec<S>& x, int j) {
  return (x.array() * S(0.5 + 0.1 * j) - S(0.3)).sin().matrix();
}

template <typename S>
descent::Adam<S> adam() {
  return descent::Adam<S>(support::options<descent::Adam<S>>([](auto& o) { o.lr = S(0.05); }));
}

}  // namespace

TEST_CASE("Lookahead reproduces optax.lookahead", "[wrappers][optax]") {
  for (const wr::LookaheadRun* run : wr::kLookahead) {
    INFO(run->optax_call << ", " << run->dtype);
    if (std::string(run->dtype) == "float32") {
      check_lookahead<float>(*run);
    } else {
      check_lookahead<double>(*run);
    }
  }
}

TEMPLATE_TEST_CASE(
    "Lookahead: alpha 1 is the wrapped optimizer, alpha 0 restarts from the slow weights",
    "[wrappers]", float, double) {
  using S = TestType;
  auto plain = adam<S>();
  auto wrapped = adam<S>();
  typename descent::Lookahead<S>::Options o;
  o.sync_period = 3;
  o.slow_step_size = 1.0;
  descent::Lookahead<S> la(wrapped, o);
  Vec<S> x = x0<S>(), y = x0<S>();
  for (int k = 0; k < 20; ++k) {
    plain.step(x, gradient(x));
    la.step(y, gradient(y));
    REQUIRE(bitwise_equal(x, y));
    if ((k + 1) % 3 == 0) CHECK(bitwise_equal(la.slow_weights(), y));
  }
  CHECK(bytes_of(plain) == bytes_of(wrapped));
  CHECK(la.steps_since_sync() == 2);  // two fast steps after the sync at step 18

  auto inner = adam<S>();
  o.slow_step_size = 0.0;
  descent::Lookahead<S> back(inner, o);
  Vec<S> z = x0<S>();
  for (int k = 0; k < 9; ++k) {
    back.step(z, gradient(z));
    if ((k + 1) % 3 == 0) {
      CHECK(bitwise_equal(z, x0<S>()));
      CHECK(bitwise_equal(back.slow_weights(), x0<S>()));
    } else {
      CHECK_FALSE(bitwise_equal(z, x0<S>()));
    }
  }
  // sync_period 2, alpha 0.5, by hand: slow weights 0, fast steps to 1 and 3
  // (GradientDescent, lr 1, gradients −1, −2): the sync gives 1.5 for both.
  descent::GradientDescent<double> gd(
      support::options<descent::GradientDescent<double>>([](auto& p) { p.lr = 1.0; }));
  typename descent::Lookahead<double>::Options h;
  h.sync_period = 2;
  descent::Lookahead<double> hand(gd, h);
  Vec<double> w = Vec<double>::Zero(1);
  hand.step(w, Vec<double>::Constant(1, -1.0));
  CHECK(w(0) == 1.0);
  hand.step(w, Vec<double>::Constant(1, -2.0));
  CHECK(w(0) == 1.5);
  CHECK(hand.slow_weights()(0) == 1.5);
}

TEST_CASE("GradientAccumulation reproduces optax.MultiSteps and Keras's accumulation",
          "[wrappers][optax][keras]") {
  for (const wr::AccumulationRun* run : wr::kAccumulation) {
    INFO(run->call << ", " << run->dtype);
    const auto check = [&](auto scalar) {
      using S = decltype(scalar);
      descent::AdaBelief<S> ab(
          support::options<descent::AdaBelief<S>>([](auto& o) { o.lr = S(0.05); }));
      auto ko = descent::SGD<S>::Options::keras();
      ko.lr = S(0.05);
      ko.momentum = S(0.9);
      descent::SGD<S> sgd(ko);
      descent::Optimizer<S>& inner = run->optax ? static_cast<descent::Optimizer<S>&>(ab) : sgd;
      typename descent::GradientAccumulation<S>::Options o;
      o.steps = run->steps;
      o.mean = run->optax ? descent::GradientAccumulation<S>::Mean::RunningMean
                          : descent::GradientAccumulation<S>::Mean::SumThenDivide;
      descent::GradientAccumulation<S> acc(inner, o);
      Vec<S> x = x0<S>();
      double worst = 0;
      for (int j = 0; j < wr::kSteps; ++j) {
        acc.step(x, gradient(x, j));
        worst = std::max(worst, row_error(x, run->x[j]));
      }
      CHECK(inner.iterations() == wr::kSteps / run->steps);
      // AdaBelief in float differs from optax's by up to 7.2e-5 without any
      // wrapper (JAX rounds 1 − b1 from the double, descent forms it in
      // float; see test_optax_reference.cpp).
      report(std::string(run->call) + ", " + run->dtype, worst, sizeof(S) == 8 ? 1e-10 : 1e-4);
    };
    if (std::string(run->dtype) == "float32") {
      check(float{});
    } else {
      check(double{});
    }
  }
}

TEMPLATE_TEST_CASE("GradientAccumulation: bit for bit one step on the mean gradient", "[wrappers]",
                   float, double) {
  using S = TestType;
  using GA = descent::GradientAccumulation<S>;
  for (const auto mean : {GA::Mean::SumThenDivide, GA::Mean::RunningMean}) {
    for (const long k : {1L, 2L, 4L}) {
      INFO("k = " << k << ", mean " << int(mean));
      auto wrapped = adam<S>(), plain = adam<S>();
      typename GA::Options o;
      o.steps = k;
      o.mean = mean;
      GA acc(wrapped, o);
      const Eigen::Index n = 37;  // packets and a tail
      Vec<S> x = Vec<S>::LinSpaced(n, S(-1), S(2)), y = x;
      Vec<S> sum(n), running(n);
      for (int j = 0; j < 24; ++j) {
        const Vec<S> g = (x.array() * S(0.5 + 0.1 * j) - S(0.3)).sin().matrix();
        acc.step(x, g);
        const long m = j % k;
        if (m == 0) {
          sum = g;  // the Keras form starts from 0 + g = g
          running = g;
        } else if (m + 1 < k) {
          sum = sum + g;
          running = running + (g - running) / S(m + 1);
        }
        if (m + 1 == k) {
          Vec<S> mean_g(n);
          if (k == 1) {
            mean_g = g;
          } else if (mean == GA::Mean::SumThenDivide) {
            mean_g = (g + sum) / S(k);
          } else {
            mean_g = running + (g - running) / S(k);
          }
          plain.step(y, mean_g);
        }
        REQUIRE(bitwise_equal(x, y));
      }
      CHECK(bytes_of(plain) == bytes_of(wrapped));
    }
  }
}

TEST_CASE("GradientAccumulation and Lookahead: the wrapped optimizer's non-finite policy",
          "[wrappers][nonfinite]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto skipping = support::options<descent::Adam<double>>(
      [](auto& o) { o.nonfinite = descent::NonFinite::Skip; });
  descent::Adam<double> inner(skipping);
  descent::GradientAccumulation<double> acc(inner, {3});
  Vec<double> x = Vec<double>::Ones(4);
  const Vec<double> before = x;
  Vec<double> g = Vec<double>::Constant(4, 0.5), bad = g;
  bad(2) = nan;
  acc.step(x, g);
  acc.step(x, bad);
  acc.step(x, g);  // the mean holds NaN: the real step is skipped
  CHECK(bitwise_equal(x, before));
  CHECK(inner.skipped_steps() == 1);
  CHECK(inner.iterations() == 0);
  CHECK(acc.micro_steps() == 0);  // and the accumulation starts again
  for (int j = 0; j < 3; ++j) acc.step(x, g);
  CHECK(inner.iterations() == 1);

  auto throwing = skipping;
  throwing.nonfinite = descent::NonFinite::Throw;
  descent::Adam<double> strict(throwing);
  descent::GradientAccumulation<double> acc2(strict, {2});
  acc2.step(x, bad);
  const std::string saved = bytes_of(acc2);
  const Vec<double> at = x;
  CHECK_THROWS_AS(acc2.step(x, g), std::domain_error);
  CHECK(bytes_of(acc2) == saved);  // accumulator and micro-steps as they were
  CHECK(bitwise_equal(x, at));

  descent::Adam<double> inner3(skipping);
  typename descent::Lookahead<double>::Options lo;
  lo.sync_period = 2;
  descent::Lookahead<double> la(inner3, lo);
  la.step(x, g);
  CHECK(la.steps_since_sync() == 1);
  la.step(x, bad);  // skipped: not a fast step
  CHECK(la.steps_since_sync() == 1);
  la.step(x, g);
  CHECK(la.steps_since_sync() == 0);
}

TEMPLATE_TEST_CASE("Wrappers: threads give the same bits", "[wrappers][threads]", float, double) {
  using S = TestType;
  const Eigen::Index n = 2 * descent::detail::kParallelThreshold + 33;
  const auto g_at = [&](int j) {
    return Vec<S>::LinSpaced(n, S(-1), S(1 + j)).array().sin().matrix();
  };
  auto a1 = adam<S>(), a2 = adam<S>(), b1 = adam<S>(), b2 = adam<S>();
  typename descent::Lookahead<S>::Options lo;
  lo.sync_period = 2;
  descent::Lookahead<S> one(a1, lo), two(a2, lo);
  two.set_threads(2);
  descent::GradientAccumulation<S> acc1(b1, {3}), acc2(b2, {3});
  acc2.set_threads(2);
  Vec<S> x = Vec<S>::Zero(n), y = x, u = x, v = x;
  for (int j = 0; j < 6; ++j) {
    one.step(x, g_at(j));
    two.step(y, g_at(j));
    acc1.step(u, g_at(j));
    acc2.step(v, g_at(j));
  }
  CHECK(bitwise_equal(x, y));
  CHECK(bitwise_equal(one.slow_weights(), two.slow_weights()));
  CHECK(bitwise_equal(u, v));
  CHECK_THROWS_WITH(one.set_threads(0), Catch::Contains("threads must be >= 1, got 0"));
}

TEMPLATE_TEST_CASE("Wrappers: a checkpoint resumes wrapper and wrapped optimizer bit for bit",
                   "[wrappers][checkpoint]", float, double) {
  using S = TestType;
  typename descent::Lookahead<S>::Options lo;
  lo.sync_period = 4;
  lo.slow_step_size = 0.3;
  auto a = adam<S>(), b = adam<S>();
  descent::Lookahead<S> la(a, lo);
  descent::GradientAccumulation<S> acc(b, {3, descent::GradientAccumulation<S>::Mean::RunningMean});
  Vec<S> x = Vec<S>::LinSpaced(19, S(-1), S(1)), y = x;
  for (int j = 0; j < 7; ++j) {  // mid sync period, mid accumulation
    la.step(x, gradient_like(x, j));
    acc.step(y, gradient_like(y, j));
  }
  auto a2 = adam<S>(), b2 = adam<S>();
  a2.set_lr(S(0.5));
  descent::Lookahead<S> la2(a2);
  descent::GradientAccumulation<S> acc2(b2);
  std::istringstream in1(bytes_of(la)), in2(bytes_of(acc));
  la2.load(in1);
  acc2.load(in2);
  CHECK(bytes_of(la2) == bytes_of(la));
  CHECK(bytes_of(acc2) == bytes_of(acc));
  CHECK(la2.steps_since_sync() == 3);
  CHECK(acc2.micro_steps() == 1);
  Vec<S> x2 = x, y2 = y;
  for (int j = 7; j < 15; ++j) {
    la.step(x, gradient_like(x, j));
    la2.step(x2, gradient_like(x2, j));
    acc.step(y, gradient_like(y, j));
    acc2.step(y2, gradient_like(y2, j));
  }
  CHECK(bitwise_equal(x, x2));
  CHECK(bitwise_equal(y, y2));
  CHECK(bytes_of(la) == bytes_of(la2));
  CHECK(bytes_of(acc) == bytes_of(acc2));
  // Files.
  const std::string path = "lookahead_checkpoint_" + std::to_string(sizeof(S)) + ".bin";
  la.save_file(path);
  la2.reset();
  la2.load_file(path);
  CHECK(bytes_of(la2) == bytes_of(la));
  std::remove(path.c_str());
}

TEST_CASE("Wrappers: corrupt or unfitting checkpoints are refused, nothing changes",
          "[wrappers][checkpoint]") {
  auto a = adam<double>();
  descent::Lookahead<double> la(a);
  Vec<double> x = Vec<double>::LinSpaced(5, -1, 1);
  for (int j = 0; j < 3; ++j) la.step(x, gradient_like(x, j));
  const std::string good = bytes_of(la);
  const auto refused = [](auto& target, const std::string& bytes, const char* why) {
    const std::string before = bytes_of(target);
    std::istringstream in(bytes);
    CHECK_THROWS_WITH(target.load(in), Catch::Contains(why));
    CHECK(bytes_of(target) == before);
  };
  for (std::size_t at = 0; at < good.size(); at += 2) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x04);
    auto fresh_inner = adam<double>();
    descent::Lookahead<double> fresh(fresh_inner);
    const std::string before = bytes_of(fresh);
    std::istringstream in(bad);
    CHECK_THROWS_AS(fresh.load(in), descent::CheckpointError);
    CHECK(bytes_of(fresh) == before);
  }
  // A wrapped optimizer of another kind: refused by it, and the wrapper is unchanged.
  descent::SGD<double> sgd;
  descent::Lookahead<double> other(sgd);
  refused(other, good, "the checkpoint is for Adam, not SGD");
  // Fields, resealed: payload at 24 + 9 ("Lookahead"): sync_period,
  // slow_step_size, reset_state, steps since sync, size, slow weights, nested.
  const auto with = [&](std::size_t at, std::uint64_t v, int width) {
    std::string b = good;
    for (int k = 0; k < width; ++k) b[at + std::size_t(k)] = static_cast<char>(v >> (8 * k));
    const std::uint32_t crc =
        descent::detail::crc32(reinterpret_cast<const unsigned char*>(b.data()), b.size() - 4);
    for (int k = 0; k < 4; ++k)
      b[b.size() - 4 + std::size_t(k)] = static_cast<char>(crc >> (8 * k));
    return b;
  };
  auto c = adam<double>();
  descent::Lookahead<double> target(c);
  const std::size_t p = 24 + 9;
  refused(target, with(p, 0, 8), "sync_period 0");
  double alpha = 2.0;
  std::uint64_t bits;
  std::memcpy(&bits, &alpha, 8);
  refused(target, with(p + 8, bits, 8), "slow_step_size must be in [0, 1], got 2");
  refused(target, with(p + 16, 3, 4), "reset_state 3");
  refused(target, with(p + 20, 5, 8), "steps since sync 5");
  refused(target, with(p + 28, 4, 8), "slow weights has 5 elements where the state size is 4");
  refused(target, bytes_of(a), "holds an optimizer, not an optimizer wrapper");
  // A wrapper whose state is for another size.
  auto d = adam<double>();
  descent::GradientAccumulation<double> acc(d, {2});
  Vec<double> three = Vec<double>::Ones(3);
  acc.step(three, three);
  auto e = adam<double>();
  descent::GradientAccumulation<double> acc5(e, {2});
  Vec<double> five = Vec<double>::Ones(5);
  acc5.step(five, five);
  refused(acc5, bytes_of(acc), "reset() first");
}

TEST_CASE("Wrappers: bad arguments name the field and value", "[wrappers][errors]") {
  descent::SGD<double> sgd;
  using LO = descent::Lookahead<double>::Options;
  LO o;
  o.sync_period = 0;
  CHECK_THROWS_WITH(descent::Lookahead<double>(sgd, o),
                    "descent::Lookahead: sync_period must be >= 1, got 0");
  o = LO{};
  o.slow_step_size = 1.5;
  CHECK_THROWS_WITH(descent::Lookahead<double>(sgd, o),
                    "descent::Lookahead: slow_step_size must be in [0, 1], got 1.5");
  using GA = descent::GradientAccumulation<double>;
  CHECK_THROWS_WITH(GA(sgd, {0}), "descent::GradientAccumulation: steps must be >= 1, got 0");
  CHECK_THROWS_WITH(GA(sgd, {2, static_cast<GA::Mean>(7)}),
                    Catch::Contains("mean must be SumThenDivide (0) or RunningMean (1), got 7"));
  GA acc(sgd, {2});
  Vec<double> x = Vec<double>::Ones(4), g3 = Vec<double>::Ones(3);
  CHECK_THROWS_WITH(acc.step(x, g3), Catch::Contains("params has 4 elements but grad has 3"));
  acc.step(x, x);
  Vec<double> y = Vec<double>::Ones(3);
  CHECK_THROWS_WITH(acc.step(y, y), Catch::Contains("state was built for 4"));
  Eigen::MatrixXd m = Eigen::MatrixXd::Ones(4, 4);
  descent::Lookahead<double> la(sgd);
  CHECK_THROWS_WITH(la.step(m.row(1), Vec<double>::Ones(4)), Catch::Contains("contiguously"));
}

namespace {

namespace sf = schedule_free_reference;

template <typename S>
typename descent::ScheduleFree<S>::Options schedule_free_options(const sf::Run& run) {
  typename descent::ScheduleFree<S>::Options o;
  o.method =
      run.adamw ? descent::ScheduleFree<S>::Method::AdamW : descent::ScheduleFree<S>::Method::SGD;
  o.lr = S(run.lr);
  o.beta1 = S(run.beta1);
  o.beta2 = S(run.beta2);
  o.eps = S(run.eps);
  o.weight_decay = S(run.weight_decay);
  o.warmup_steps = run.warmup_steps;
  o.r = run.r;
  o.weight_lr_power = run.weight_lr_power;
  return o;
}

template <typename S>
void check_schedule_free(const sf::Run& run) {
  descent::ScheduleFree<S> opt(schedule_free_options<S>(run));
  Vec<S> y = x0<S>();
  double worst = 0;
  for (int k = 0; k < sf::kSteps; ++k) {
    opt.step(y, gradient(y));
    worst = std::max(worst, row_error(y, run.y[k]));
    if (k + 1 == sf::kMiddle) {
      opt.eval(y);
      CHECK_FALSE(opt.train_mode());
      worst = std::max(worst, row_error(y, run.x_middle));
      CHECK_THROWS_AS(opt.step(y, gradient(y)), std::logic_error);
      opt.train(y);
      worst = std::max(worst, row_error(y, run.y_middle));
    }
  }
  opt.eval(y);
  worst = std::max(worst, row_error(y, run.x_end));
  report(std::string(run.call) + ", " + run.dtype, worst, sizeof(S) == 8 ? 1e-10 : 1e-5);
}

}  // namespace

TEST_CASE("ScheduleFree reproduces SGDScheduleFree and AdamWScheduleFree", "[schedule_free]") {
  for (const sf::Run* run : sf::kRuns) {
    INFO(run->call << ", " << run->dtype);
    if (std::string(run->dtype) == "float32") {
      check_schedule_free<float>(*run);
    } else {
      check_schedule_free<double>(*run);
    }
  }
}

TEMPLATE_TEST_CASE("ScheduleFree: modes, threads, the non-finite policy and checkpoints",
                   "[schedule_free][checkpoint][threads]", float, double) {
  using S = TestType;
  using SF = descent::ScheduleFree<S>;
  auto o = SF::Options::adamw();
  o.lr = S(0.05);
  o.warmup_steps = 3;
  o.weight_decay = S(0.01);
  // Before the first step eval and train only switch the mode.
  SF fresh(o);
  Vec<S> x = Vec<S>::LinSpaced(5, S(-1), S(1));
  const Vec<S> start = x;
  fresh.eval(x);
  CHECK(bitwise_equal(x, start));
  CHECK_THROWS_AS(fresh.step(x, x), std::logic_error);
  fresh.train(x);
  fresh.train(x);  // a no-op in train mode
  CHECK(bitwise_equal(x, start));

  // Threads: the same bits; then a checkpoint in eval mode resumes bit for bit.
  const Eigen::Index n = 2 * descent::detail::kParallelThreshold + 9;
  for (const auto method : {SF::Method::SGD, SF::Method::AdamW}) {
    o.method = method;
    o.lr = method == SF::Method::SGD ? S(0.1) : S(0.05);
    SF one(o), two(o);
    two.set_threads(2);
    Vec<S> a = Vec<S>::LinSpaced(n, S(-2), S(2)), b = a;
    const auto g_at = [](const Vec<S>& p) {
      return (p.array().sin() + p.array() * S(0.1)).matrix().eval();
    };
    for (int k = 0; k < 5; ++k) {
      one.step(a, g_at(a));
      two.step(b, g_at(b));
    }
    CHECK(bitwise_equal(a, b));
    one.eval(a);
    two.eval(b);
    CHECK(bitwise_equal(a, b));
    const std::string saved = bytes_of(one);
    SF resumed(SF::Options::sgd());
    std::istringstream in(saved);
    resumed.load(in);
    CHECK(bytes_of(resumed) == saved);
    CHECK_FALSE(resumed.train_mode());
    for (SF* opt : {&one, &resumed}) {
      Vec<S>& p = opt == &one ? a : b;
      opt->train(p);
      for (int k = 0; k < 4; ++k) opt->step(p, g_at(p));
      opt->eval(p);
    }
    CHECK(bitwise_equal(a, b));
    CHECK(bytes_of(one) == bytes_of(resumed));
    // Corrupt (a small run's checkpoint, every byte): refused, unchanged.
    SF small(o);
    Vec<S> q = Vec<S>::LinSpaced(3, S(-1), S(1));
    for (int k = 0; k < 3; ++k) small.step(q, g_at(q));
    const std::string good = bytes_of(small);
    for (std::size_t at = 0; at < good.size(); ++at) {
      std::string bad = good;
      bad[at] = static_cast<char>(bad[at] ^ 0x20);
      SF target(o);
      const std::string before = bytes_of(target);
      std::istringstream corrupt(bad);
      CHECK_THROWS_AS(target.load(corrupt), descent::CheckpointError);
      CHECK(bytes_of(target) == before);
    }
    std::istringstream intact(good);
    SF target(o);
    target.load(intact);
    CHECK(bytes_of(target) == good);
  }

  // The non-finite policy: Skip leaves everything, Throw too, and says why.
  o.nonfinite = descent::NonFinite::Skip;
  SF skipping(o);
  Vec<S> p = Vec<S>::Ones(4), bad = p;
  bad(3) = std::numeric_limits<S>::infinity();
  skipping.step(p, p);
  const Vec<S> at = p;
  skipping.step(p, bad);
  CHECK(skipping.skipped_steps() == 1);
  CHECK(skipping.iterations() == 1);
  CHECK(bitwise_equal(p, at));
  o.nonfinite = descent::NonFinite::Throw;
  SF strict(o);
  CHECK_THROWS_WITH(strict.step(p, bad), Catch::Contains("grad[3] is inf"));
  CHECK(strict.iterations() == 0);
}

TEST_CASE("ScheduleFree: bad arguments name the field and value", "[schedule_free][errors]") {
  using SF = descent::ScheduleFree<double>;
  auto o = SF::Options::sgd();
  o.beta1 = 1.0;
  CHECK_THROWS_WITH(SF(o), "descent::ScheduleFree: beta1 must be in (0, 1), got 1");
  o = SF::Options::adamw();
  o.warmup_steps = -1;
  CHECK_THROWS_WITH(SF(o), "descent::ScheduleFree: warmup_steps must be >= 0, got -1");
  o = SF::Options::adamw();
  o.r = -0.5;
  CHECK_THROWS_WITH(SF(o), Catch::Contains("r must be finite and >= 0, got -0.5"));
  o = SF::Options::adamw();
  o.lr = -1;
  CHECK_THROWS_WITH(SF(o), Catch::Contains("lr must be finite and >= 0, got -1"));
  SF ok;
  CHECK_THROWS_WITH(ok.set_lr(std::numeric_limits<double>::quiet_NaN()), Catch::Contains("lr"));
  Vec<double> x = Vec<double>::Ones(3), g = Vec<double>::Ones(2);
  CHECK_THROWS_WITH(ok.step(x, g), Catch::Contains("params has 3 elements but grad has 2"));
}
