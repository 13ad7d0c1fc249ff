// descent's learning-rate schedulers against PyTorch 1.13's
// (tools/make_torch_schedules.py): every recorded lr of every case within
// 1e-12 relative in double, for one optimizer and for two (PyTorch's two
// param groups); and the same run resumed from a checkpoint at epoch 37
// continues bit for bit.

#include "data/torch_schedules.hpp"
#include "support.hpp"

#include <cmath>
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

void report(const ts::Schedule& ref, double worst) {
  // DESCENT_PRINT_ERRORS=1 prints the worst relative error of each case.
  if (std::getenv("DESCENT_PRINT_ERRORS") != nullptr) {
    std::printf("worst relative error %.3g: %s\n", worst, ref.torch_call);
  }
}

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

using descent::ChainedScheduler;
using descent::ConstantLR;
using descent::CosineAnnealingLR;
using descent::ExponentialLR;
using descent::LinearLR;
using descent::MultiStepLR;
using descent::OneCycleLR;
using descent::SequentialLR;
using descent::StepLR;
using Ms = std::vector<long>;

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
