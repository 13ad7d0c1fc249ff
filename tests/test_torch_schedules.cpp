// descent's learning-rate schedulers against PyTorch 1.13's
// (tools/make_torch_schedules.py): every recorded lr of every case within
// 1e-12 relative in double, for one optimizer and for two (PyTorch's two
// param groups); and the same run resumed from a checkpoint at epoch 37
// continues bit for bit.

#include "data/torch_schedules.hpp"
#include "support.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <descent/descent.hpp>

namespace ts = torch_schedules;

namespace {

constexpr double kTolerance = 1e-12;
constexpr long kResumeAt = 37;

using Opt = descent::GradientDescent<double>;
using List = descent::OptimizerList<double>;
using Sched = descent::LRScheduler<double>;

/// The optimizers of one case: PyTorch's param groups, each its own lr.
struct Groups {
  explicit Groups(const ts::Schedule& ref) : n(ref.groups) {
    for (int g = 0; g < n; ++g) {
      Opt::Options o;
      o.lr = ref.base_lr[g];
      opts.push_back(std::make_unique<Opt>(o));
    }
  }
  List list() const {
    std::vector<descent::Optimizer<double>*> p;
    for (const auto& o : opts) p.push_back(o.get());
    return List(p);
  }
  /// One epoch's optimizer step, as PyTorch wants before scheduler.step().
  void epoch() {
    for (auto& o : opts) {
      Eigen::Matrix<double, 1, 1> x(1.0);
      o->step(x, Eigen::Matrix<double, 1, 1>::Zero());
    }
  }
  /// Each optimizer's checkpoint.
  std::vector<std::string> save() const {
    std::vector<std::string> saved;
    for (const auto& o : opts) saved.push_back(support::bytes_of(*o));
    return saved;
  }
  /// Loads what save() wrote.
  void load(const std::vector<std::string>& saved) {
    for (std::size_t k = 0; k < opts.size(); ++k) {
      std::istringstream in(saved[k]);
      opts[k]->load(in);
    }
  }
  int n;
  std::vector<std::unique_ptr<Opt>> opts;
};

/// A scheduler with the children it refers to.
struct Built {
  std::vector<std::unique_ptr<Sched>> parts;  // children first, the top last
  Sched& top() { return *parts.back(); }
};
using Make = std::function<Built(const List&)>;

template <typename T, typename... Args>
Built one(Args&&... args) {
  Built b;
  b.parts.push_back(std::make_unique<T>(std::forward<Args>(args)...));
  return b;
}

/// |got − want| <= 1e-12·|want|; returns the relative error.
double check_close(double got, double want) {
  const double rel = want == 0 ? std::abs(got) : std::abs(got - want) / std::abs(want);
  CHECK(rel <= kTolerance);
  return rel;
}

void report_call(const char* torch_call, double worst) {
  // DESCENT_PRINT_ERRORS=1 prints the worst relative error of each case.
  if (std::getenv("DESCENT_PRINT_ERRORS") != nullptr) {
    std::printf("worst relative error %.3g: %s\n", worst, torch_call);
  }
}

void report(const ts::Schedule& ref, double worst) { report_call(ref.torch_call, worst); }

std::string bytes_of_all(Groups& g, Sched& s) {
  std::stringstream out;
  for (auto& o : g.opts) o->save(out);
  s.save(out);
  return out.str();
}

void run_case(const ts::Schedule& ref, const Make& make) {
  INFO(ref.torch_call);
  Groups g(ref);
  Built b = make(g.list());
  Sched& s = b.top();
  REQUIRE(s.num_optimizers() == std::size_t(ref.groups));
  double worst = 0;
  std::vector<std::vector<double>> seen;
  std::string checkpoint;
  std::vector<std::string> opt_checkpoints;
  for (long e = 0; e <= ts::kEpochs; ++e) {
    if (e > 0) {
      g.epoch();
      s.step();
    }
    REQUIRE(s.epoch() == e);
    INFO("epoch " << e);
    seen.emplace_back();
    for (int k = 0; k < ref.groups; ++k) {
      INFO("group " << k);
      worst = std::max(worst, check_close(s.last_lr(std::size_t(k)), ref.lr[e][k]));
      CHECK(g.opts[std::size_t(k)]->lr() == s.last_lr(std::size_t(k)));
      CHECK(s.lr_at(e, std::size_t(k)) == s.last_lr(std::size_t(k)));
      seen.back().push_back(s.last_lr(std::size_t(k)));
    }
    if (e == kResumeAt) {
      checkpoint = support::bytes_of(s);
      opt_checkpoints = g.save();
    }
  }
  report(ref, worst);

  // Resumed: fresh optimizers and scheduler, both loaded from epoch 37.
  Groups h(ref);
  Built c = make(h.list());
  Sched& t = c.top();
  h.load(opt_checkpoints);
  std::stringstream in(checkpoint);
  t.load(in);
  REQUIRE(t.epoch() == kResumeAt);
  for (long e = kResumeAt + 1; e <= ts::kEpochs; ++e) {
    h.epoch();
    t.step();
    INFO("resumed, epoch " << e);
    for (int k = 0; k < ref.groups; ++k) {
      CHECK(double(t.last_lr(std::size_t(k))) == seen[std::size_t(e)][std::size_t(k)]);
      CHECK(h.opts[std::size_t(k)]->lr() == t.last_lr(std::size_t(k)));
    }
  }
  CHECK(bytes_of_all(h, t) == bytes_of_all(g, s));
}

using Plateau = descent::ReduceLROnPlateau<double>;

void run_plateau(const ts::Schedule& ref, const Plateau::Options& options) {
  INFO(ref.torch_call);
  Groups g(ref);
  Plateau s(g.list(), options);
  double worst = 0;
  std::string checkpoint;
  std::vector<std::string> opt_checkpoints;
  for (long e = 0; e <= ts::kEpochs; ++e) {
    if (e > 0) {
      g.epoch();
      s.step(ref.metric[e - 1]);
    }
    REQUIRE(s.epoch() == e);
    INFO("epoch " << e);
    for (int k = 0; k < ref.groups; ++k) {
      INFO("group " << k);
      worst = std::max(worst, check_close(s.last_lr(std::size_t(k)), ref.lr[e][k]));
      CHECK(g.opts[std::size_t(k)]->lr() == s.last_lr(std::size_t(k)));
    }
    if (e == kResumeAt) {
      checkpoint = support::bytes_of(s);
      opt_checkpoints = g.save();
    }
  }
  report(ref, worst);

  Groups h(ref);
  Plateau t(h.list());  // other options: load() brings them back
  h.load(opt_checkpoints);
  std::stringstream in(checkpoint);
  t.load(in);
  REQUIRE(t.epoch() == kResumeAt);
  for (long e = kResumeAt + 1; e <= ts::kEpochs; ++e) {
    h.epoch();
    t.step(ref.metric[e - 1]);
    INFO("resumed, epoch " << e);
    for (int k = 0; k < ref.groups; ++k) {
      CHECK(double(t.last_lr(std::size_t(k))) == ref.lr[e][k]);
    }
  }
  CHECK(t.best() == s.best());
  CHECK(t.num_bad_epochs() == s.num_bad_epochs());
  CHECK(t.cooldown_counter() == s.cooldown_counter());
  CHECK(support::bytes_of(t) == support::bytes_of(s));
}

/// Children made in order, then the composite C over them.
template <typename C, typename... Extra>
Make composite(std::vector<std::function<std::unique_ptr<Sched>(const List&)>> children,
               Extra... extra) {
  return [=](const List& l) {
    Built b;
    std::vector<Sched*> raw;
    for (const auto& child : children) {
      b.parts.push_back(child(l));
      raw.push_back(b.parts.back().get());
    }
    b.parts.push_back(std::make_unique<C>(raw, extra...));
    return b;
  };
}

template <typename T, typename... Args>
std::function<std::unique_ptr<Sched>(const List&)> child(Args... args) {
  return [=](const List& l) { return std::make_unique<T>(l, args...); };
}

/// The run of a scheduler that cycles momentum, on SGD (momentum 0.9,
/// PyTorch's form) or Adam optimizers as the case says: every lr and momentum
/// (β₁) against PyTorch's; then the run resumed from epoch 37 continues bit
/// for bit. `make` builds the scheduler over the optimizers.
using MakeCycled = std::function<std::unique_ptr<Sched>(const List&)>;

std::vector<std::unique_ptr<descent::Optimizer<double>>> cycled_optimizers(const ts::Cycled& ref,
                                                                           bool adam) {
  std::vector<std::unique_ptr<descent::Optimizer<double>>> opts;
  for (int g = 0; g < ref.groups; ++g) {
    if (adam) {
      descent::Adam<double>::Options o = descent::Adam<double>::Options::pytorch();
      o.lr = ref.base_lr[g];
      opts.push_back(std::make_unique<descent::Adam<double>>(o));
    } else {
      descent::SGD<double>::Options o = descent::SGD<double>::Options::pytorch();
      o.lr = ref.base_lr[g];
      o.momentum = 0.9;
      opts.push_back(std::make_unique<descent::SGD<double>>(o));
    }
  }
  return opts;
}

List list_of(const std::vector<std::unique_ptr<descent::Optimizer<double>>>& opts) {
  std::vector<descent::Optimizer<double>*> p;
  for (const auto& o : opts) p.push_back(o.get());
  return List(p);
}

/// `adam` overrides the case's optimizer (CyclicLR's β₁, which PyTorch 1.13
/// does not cycle, follows the momentum it records for SGD).
void run_cycled(const ts::Cycled& ref, const MakeCycled& make, bool adam) {
  INFO(ref.torch_call << (adam ? ", on Adam" : ""));
  auto opts = cycled_optimizers(ref, adam);
  auto s = make(list_of(opts));
  REQUIRE(s->cycles_momentum());
  double worst = 0;
  std::string checkpoint;
  std::vector<std::string> saved;
  const auto epoch = [](auto& optimizers) {
    for (auto& o : optimizers) {
      Eigen::Matrix<double, 1, 1> x(1.0);
      o->step(x, Eigen::Matrix<double, 1, 1>::Zero());
    }
  };
  for (long e = 0; e <= ts::kEpochs; ++e) {
    if (e > 0) {
      epoch(opts);
      s->step();
    }
    INFO("epoch " << e);
    for (int k = 0; k < ref.groups; ++k) {
      INFO("group " << k);
      const auto i = std::size_t(k);
      worst = std::max(worst, check_close(opts[i]->lr(), ref.lr[e][k]));
      worst = std::max(worst, check_close(opts[i]->momentum(), ref.momentum[e][k]));
      CHECK(s->momentum_at(e, i) == opts[i]->momentum());
      CHECK(s->lr_at(e, i) == opts[i]->lr());
    }
    if (e == kResumeAt) {
      checkpoint = support::bytes_of(*s);
      saved.clear();
      for (const auto& o : opts) saved.push_back(support::bytes_of(*o));
    }
  }
  report_call(ref.torch_call, worst);

  auto resumed = cycled_optimizers(ref, adam);
  auto t = make(list_of(resumed));
  for (std::size_t k = 0; k < resumed.size(); ++k) {
    std::istringstream in(saved[k]);
    resumed[k]->load(in);
  }
  std::istringstream in(checkpoint);
  t->load(in);
  REQUIRE(t->epoch() == kResumeAt);
  for (long e = kResumeAt + 1; e <= ts::kEpochs; ++e) {
    epoch(resumed);
    t->step();
  }
  for (std::size_t k = 0; k < resumed.size(); ++k) {
    CHECK(support::bytes_of(*resumed[k]) == support::bytes_of(*opts[k]));
  }
  CHECK(support::bytes_of(*t) == support::bytes_of(*s));
}

using Warm = descent::CosineAnnealingWarmRestarts<double>;

/// Per-batch fractional epochs mixed with step(): every lr and epoch against
/// PyTorch's; a checkpoint after the fractional steps resumes bit for bit.
void run_fractional(const ts::Fractional& ref, long T_0, long T_mult, double eta_min) {
  INFO(ref.torch_call);
  Opt::Options o;
  o.lr = ref.base_lr;
  Opt opt(o);
  Warm s(opt, T_0, T_mult, eta_min);
  double worst = 0;
  constexpr int kSaveAt = 62;  // after the fractional epochs and two step()s
  std::string checkpoint;
  std::vector<double> seen;
  for (int k = 0; k < ts::kFractionalSteps; ++k) {
    INFO("call " << k << ", epoch " << ts::kFractionalEpochs[k]);
    if (ts::kFractionalEpochs[k] < 0) {
      s.step();
    } else {
      s.step(ts::kFractionalEpochs[k]);
    }
    CHECK(s.epoch() == ref.last_epoch[k]);
    worst = std::max(worst, check_close(opt.lr(), ref.lr[k]));
    seen.push_back(opt.lr());
    if (k == kSaveAt) checkpoint = support::bytes_of(s);
  }
  report_call(ref.torch_call, worst);
  Opt other(o);
  Warm t(other, T_0, T_mult, eta_min);
  std::istringstream in(checkpoint);
  t.load(in);
  for (int k = kSaveAt + 1; k < ts::kFractionalSteps; ++k) {
    if (ts::kFractionalEpochs[k] < 0) {
      t.step();
    } else {
      t.step(ts::kFractionalEpochs[k]);
    }
    CHECK(other.lr() == seen[std::size_t(k)]);
  }
  CHECK(support::bytes_of(t) == support::bytes_of(s));
}

using descent::ChainedScheduler;
using descent::ConstantLR;
using descent::CosineAnnealingLR;
using descent::CyclicLR;
using descent::ExponentialLR;
using descent::LinearLR;
using descent::MultiplicativeLR;
using descent::MultiStepLR;
using descent::OneCycleLR;
using descent::PolynomialLR;
using descent::SequentialLR;
using descent::StepLR;
using Ms = std::vector<std::int64_t>;

}  // namespace

TEST_CASE("torch schedules: MultiStepLR", "[torch][sched]") {
  run_case(ts::multistep_docs, [](const List& l) {
    return one<MultiStepLR<double>>(l, Ms{30, 80});
  });
  run_case(ts::multistep_dense, [](const List& l) {
    return one<MultiStepLR<double>>(l, Ms{0, 3, 7, 10, 50, 51, 99}, 0.7);
  });
}

TEST_CASE("torch schedules: ExponentialLR", "[torch][sched]") {
  run_case(ts::exponential_0_95, [](const List& l) { return one<ExponentialLR<double>>(l, 0.95); });
  run_case(ts::exponential_1_03, [](const List& l) { return one<ExponentialLR<double>>(l, 1.03); });
}

TEST_CASE("torch schedules: CosineAnnealingLR, also past T_max", "[torch][sched]") {
  run_case(ts::cosine_t100, [](const List& l) { return one<CosineAnnealingLR<double>>(l, 100); });
  run_case(ts::cosine_t30, [](const List& l) { return one<CosineAnnealingLR<double>>(l, 30); });
  run_case(ts::cosine_t30_eta,
           [](const List& l) { return one<CosineAnnealingLR<double>>(l, 30, 0.001); });
  run_case(ts::cosine_t7_eta,
           [](const List& l) { return one<CosineAnnealingLR<double>>(l, 7, 0.02); });
  run_case(ts::cosine_t1, [](const List& l) { return one<CosineAnnealingLR<double>>(l, 1, 0.01); });
}

TEST_CASE("torch schedules: LinearLR warm-up and decay", "[torch][sched]") {
  run_case(ts::linear_default, [](const List& l) { return one<LinearLR<double>>(l); });
  run_case(ts::linear_decay, [](const List& l) { return one<LinearLR<double>>(l, 0.9, 0.1, 40); });
  run_case(ts::linear_long, [](const List& l) { return one<LinearLR<double>>(l, 0.1, 1.0, 60); });
}

TEST_CASE("torch schedules: ConstantLR", "[torch][sched]") {
  run_case(ts::constant_default, [](const List& l) { return one<ConstantLR<double>>(l); });
  run_case(ts::constant_0_5_10, [](const List& l) { return one<ConstantLR<double>>(l, 0.5, 10); });
}

TEST_CASE("torch schedules: SequentialLR", "[torch][sched]") {
  run_case(
      ts::sequential_linear_cosine,
      composite<SequentialLR<double>>(
          {child<LinearLR<double>>(0.1, 1.0, 5L), child<CosineAnnealingLR<double>>(60L)}, Ms{5}));
  run_case(
      ts::sequential_linear_exponential,
      composite<SequentialLR<double>>(
          {child<LinearLR<double>>(0.25, 1.0, 10L), child<ExponentialLR<double>>(0.97)}, Ms{10}));
  run_case(ts::sequential_three,
           composite<SequentialLR<double>>(
               {child<ConstantLR<double>>(0.5, 4L), child<MultiStepLR<double>>(Ms{10, 20}, 0.5),
                child<CosineAnnealingLR<double>>(20L, 0.001)},
               Ms{4, 40}));
}

TEST_CASE("torch schedules: ChainedScheduler", "[torch][sched]") {
  run_case(ts::chained_docs,
           composite<ChainedScheduler<double>>(
               {child<ConstantLR<double>>(0.1, 2L), child<ExponentialLR<double>>(0.9)}));
  run_case(ts::chained_four,
           composite<ChainedScheduler<double>>(
               {child<LinearLR<double>>(0.2, 1.0, 10L), child<StepLR<double>>(15L, 0.5),
                child<MultiStepLR<double>>(Ms{40, 70}, 0.3), child<ExponentialLR<double>>(0.99)}));
}

TEST_CASE("torch schedules: OneCycleLR", "[torch][sched]") {
  run_case(ts::onecycle_default,
           [](const List& l) { return one<OneCycleLR<double>>(l, 0.1, 100L); });
  run_case(ts::onecycle_linear, [](const List& l) {
    OneCycleLR<double>::Options o;
    o.pct_start = 0.25;
    o.anneal_strategy = OneCycleLR<double>::Anneal::linear;
    o.div_factor = 10;
    o.final_div_factor = 100;
    return one<OneCycleLR<double>>(l, 0.5, 120L, o);
  });
  run_case(ts::onecycle_three_phase, [](const List& l) {
    OneCycleLR<double>::Options o;
    o.three_phase = true;
    return one<OneCycleLR<double>>(l, 1.0, 110L, o);
  });
  run_case(ts::onecycle_three_linear, [](const List& l) {
    OneCycleLR<double>::Options o;
    o.pct_start = 0.4;
    o.anneal_strategy = OneCycleLR<double>::Anneal::linear;
    o.three_phase = true;
    return one<OneCycleLR<double>>(l, 0.3, 101L, o);
  });
}

TEST_CASE("torch schedules: ReduceLROnPlateau", "[torch][sched]") {
  using Mode = Plateau::Mode;
  using ThresholdMode = Plateau::ThresholdMode;
  {
    Plateau::Options o;
    o.patience = 3;
    run_plateau(ts::plateau_min_rel, o);
  }
  run_plateau(ts::plateau_defaults, Plateau::Options());
  {
    Plateau::Options o;
    o.factor = 0.5;
    o.patience = 2;
    o.threshold = 0.001;
    o.threshold_mode = ThresholdMode::abs;
    o.cooldown = 3;
    o.min_lr = {0.01};
    run_plateau(ts::plateau_min_abs_cooldown, o);
  }
  {
    Plateau::Options o;
    o.mode = Mode::max;
    o.factor = 0.3;
    o.patience = 4;
    run_plateau(ts::plateau_max_rel, o);
  }
  {
    Plateau::Options o;
    o.mode = Mode::max;
    o.factor = 0.5;
    o.patience = 1;
    o.threshold = 0.01;
    o.threshold_mode = ThresholdMode::abs;
    o.cooldown = 1;
    run_plateau(ts::plateau_max_abs_eps, o);
  }
}

TEST_CASE("torch schedules: two param groups, each with its own base lr", "[torch][sched]") {
  run_case(ts::groups_step, [](const List& l) { return one<StepLR<double>>(l, 7L, 0.5); });
  run_case(ts::groups_cosine,
           [](const List& l) { return one<CosineAnnealingLR<double>>(l, 40L, 0.001); });
  run_case(ts::groups_sequential,
           composite<SequentialLR<double>>(
               {child<LinearLR<double>>(0.1, 1.0, 5L), child<ExponentialLR<double>>(0.95)}, Ms{5}));
  run_case(ts::groups_chained,
           composite<ChainedScheduler<double>>(
               {child<ConstantLR<double>>(0.5, 3L), child<MultiStepLR<double>>(Ms{20, 60}, 0.2)}));
  run_case(ts::groups_onecycle, [](const List& l) {
    return one<OneCycleLR<double>>(l, std::vector<double>{0.1, 0.05}, 100L);
  });
  Plateau::Options o;
  o.factor = 0.5;
  o.patience = 2;
  o.min_lr = {0.01, 0.004};
  run_plateau(ts::groups_plateau, o);
}

TEST_CASE("torch schedules: MultiplicativeLR, bit for bit", "[torch][sched]") {
  run_case(ts::multiplicative_const, [](const List& l) {
    return one<MultiplicativeLR<double>>(l, [](std::int64_t) { return 0.95; });
  });
  run_case(ts::multiplicative_varying, [](const List& l) {
    return one<MultiplicativeLR<double>>(
        l, [](std::int64_t e) { return e % 10 != 0 ? 1.0 - 0.01 * double(e % 7) : 1.5; });
  });
  run_case(ts::groups_multiplicative, [](const List& l) {
    return one<MultiplicativeLR<double>>(l, [](std::int64_t) { return 0.97; });
  });
}

TEST_CASE("torch schedules: PolynomialLR", "[torch][sched]") {
  run_case(ts::polynomial_default, [](const List& l) { return one<PolynomialLR<double>>(l); });
  run_case(ts::polynomial_square,
           [](const List& l) { return one<PolynomialLR<double>>(l, 40L, 2.0); });
  run_case(ts::polynomial_sqrt,
           [](const List& l) { return one<PolynomialLR<double>>(l, 100L, 0.5); });
  run_case(ts::groups_polynomial,
           [](const List& l) { return one<PolynomialLR<double>>(l, 60L, 1.5); });
}

TEST_CASE("torch schedules: CosineAnnealingWarmRestarts, by step() and fractional epochs",
          "[torch][sched]") {
  run_case(ts::warm_restarts_10, [](const List& l) { return one<Warm>(l, 10L); });
  run_case(ts::warm_restarts_5_2_eta, [](const List& l) { return one<Warm>(l, 5L, 2L, 0.001); });
  run_case(ts::warm_restarts_1_3, [](const List& l) { return one<Warm>(l, 1L, 3L, 0.01); });
  run_case(ts::groups_warm_restarts, [](const List& l) { return one<Warm>(l, 7L, 2L, 0.0005); });
  run_fractional(ts::fractional_t10, 10, 1, 0);
  run_fractional(ts::fractional_t3_mult2_eta, 3, 2, 0.001);
  run_fractional(ts::fractional_t2_mult3, 2, 3, 0);
}

TEST_CASE("torch schedules: CyclicLR", "[torch][sched]") {
  using C = CyclicLR<double>;
  run_case(ts::cyclic_triangular, [](const List& l) {
    C::Options o;
    o.step_size_up = 10;
    return one<C>(l, 0.01, 0.1, o);
  });
  run_case(ts::cyclic_triangular2, [](const List& l) {
    C::Options o;
    o.step_size_up = 5;
    o.step_size_down = 15;
    o.mode = C::Mode::triangular2;
    return one<C>(l, 0.001, 0.1, o);
  });
  run_case(ts::cyclic_exp_range, [](const List& l) {
    C::Options o;
    o.step_size_up = 8;
    o.mode = C::Mode::exp_range;
    o.gamma = 0.97;
    return one<C>(l, 0.01, 0.2, o);
  });
  run_case(ts::cyclic_custom_cycle, [](const List& l) {
    C::Options o;
    o.step_size_up = 6;
    o.step_size_down = 4;
    o.scale_fn = [](double x) { return 0.5 * (1 + std::sin(x * 3.141592653589793 / 2)); };
    return one<C>(l, 0.02, 0.3, o);
  });
  run_case(ts::cyclic_custom_iterations, [](const List& l) {
    C::Options o;
    o.step_size_up = 7;
    o.scale_fn = [](double x) { return 1 / (1 + 0.01 * x); };
    o.scale_mode = C::ScaleMode::iterations;
    return one<C>(l, 0.01, 0.1, o);
  });
  run_case(ts::cyclic_sawtooth, [](const List& l) {
    C::Options o;
    o.step_size_up = 9;
    o.step_size_down = 0;
    return one<C>(l, 0.01, 0.1, o);
  });
  run_case(ts::groups_cyclic, [](const List& l) {
    C::Options o;
    o.step_size_up = 12;
    o.step_size_down = 8;
    o.mode = C::Mode::triangular2;
    return one<C>(l, std::vector<double>{0.01, 0.001}, std::vector<double>{0.1, 0.02}, o);
  });
}

TEST_CASE("torch schedules: CyclicLR and OneCycleLR cycling momentum and beta1", "[torch][sched]") {
  using C = CyclicLR<double>;
  using One = OneCycleLR<double>;
  const MakeCycled cyclic_sgd = [](const List& l) {
    C::Options o;
    o.step_size_up = 10;
    o.step_size_down = 5;
    o.cycle_momentum = true;
    return std::make_unique<C>(l, 0.01, 0.1, o);
  };
  const MakeCycled cyclic_exp_range = [](const List& l) {
    C::Options o;
    o.step_size_up = 6;
    o.mode = C::Mode::exp_range;
    o.gamma = 0.98;
    o.cycle_momentum = true;
    o.base_momentum = {0.7};
    o.max_momentum = {0.95};
    return std::make_unique<C>(l, 0.01, 0.1, o);
  };
  const MakeCycled cyclic_groups = [](const List& l) {
    C::Options o;
    o.step_size_up = 8;
    o.mode = C::Mode::triangular2;
    o.cycle_momentum = true;
    o.base_momentum = {0.8, 0.85};
    o.max_momentum = {0.9, 0.95};
    return std::make_unique<C>(l, std::vector<double>{0.01, 0.002}, std::vector<double>{0.1, 0.05},
                               o);
  };
  for (const bool adam : {false, true}) {
    run_cycled(ts::cycled_cyclic_sgd, cyclic_sgd, adam);
    run_cycled(ts::cycled_cyclic_exp_range, cyclic_exp_range, adam);
    run_cycled(ts::cycled_cyclic_groups, cyclic_groups, adam);
  }
  const auto one_cycle = [](std::vector<double> max_lr, long total, One::Options o) {
    o.cycle_momentum = true;
    return [=](const List& l) { return std::make_unique<One>(l, max_lr, total, o); };
  };
  run_cycled(ts::cycled_onecycle_sgd, one_cycle({0.1}, 100, {}), false);
  run_cycled(ts::cycled_onecycle_adam, one_cycle({0.01}, 100, {}), true);
  One::Options linear_three;
  linear_three.pct_start = 0.4;
  linear_three.anneal_strategy = One::Anneal::linear;
  linear_three.three_phase = true;
  linear_three.base_momentum = {0.8};
  linear_three.max_momentum = {0.9};
  run_cycled(ts::cycled_onecycle_adam_linear_three, one_cycle({0.02}, 101, linear_three), true);
  One::Options groups;
  groups.base_momentum = {0.85, 0.8};
  groups.max_momentum = {0.95, 0.9};
  run_cycled(ts::cycled_onecycle_groups, one_cycle({0.1, 0.05}, 101, groups), true);
}
