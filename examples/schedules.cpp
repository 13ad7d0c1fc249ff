// The lecture's section 9 figures: the learning rate against the epoch for
// LambdaLR and StepLR, as each schedule sets it on a real optimizer; a
// second figure with the other schedulers of descent, and a third with
// torch 1.13's remaining ones and the momentum CyclicLR and OneCycleLR cycle.
//
//   ./schedules             write schedules.svg and .csv, schedules_all.svg
//                           and .csv, schedules_more.svg and .csv, print tables
//   ./schedules --quick     the same (there is nothing to shorten; for the tests)
//   ./schedules --out DIR   write the files to DIR (default: the current directory)
//
// PyTorch's protocol: the scheduler's constructor sets the lr of epoch 0;
// each epoch runs its optimizer steps with the lr in force, then calls
// scheduler.step() to set the next epoch's. So the lr recorded for epoch e is
// the one the optimizer steps with during epoch e.

#include "common/plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <descent/descent.hpp>

namespace {

constexpr long kEpochs = 100;  // epochs 0 to 100: 100 scheduler steps

struct Schedule {
  const char* column;      // the CSV column
  const char* label;       // the legend entry
  std::vector<double> lr;  // lr[e]: the lr during epoch e
};

// Runs an optimizer for epochs 0..kEpochs under the scheduler `make` builds
// on it, one gradient step on f(x) = x²/2 per epoch, and records the lr each
// epoch's step used.
Schedule record(
    const char* column, const char* label, double base_lr,
    const std::function<std::unique_ptr<descent::LRScheduler<double>>(descent::Optimizer<double>&)>&
        make) {
  descent::GradientDescent<double>::Options options;
  options.lr = base_lr;
  descent::GradientDescent<double> optimizer(options);
  const std::unique_ptr<descent::LRScheduler<double>> scheduler = make(optimizer);
  Schedule s{column, label, {}};
  Eigen::VectorXd x = Eigen::VectorXd::Constant(1, 1.0);
  for (long e = 0; e <= kEpochs; ++e) {
    s.lr.push_back(optimizer.lr());
    if (optimizer.lr() != scheduler->lr_at(e)) throw std::logic_error("schedules: lr mismatch");
    optimizer.step(x, x);                // the gradient of x²/2 is x
    if (e < kEpochs) scheduler->step();  // (OneCycleLR refuses a step past its total)
  }
  return s;
}

// The same for ReduceLROnPlateau, which is stepped with a metric: here a
// fixed loss that falls and then stalls near 0.3, wiggling.
Schedule record_plateau(const char* column, const char* label, double base_lr,
                        const descent::ReduceLROnPlateau<double>::Options& options) {
  descent::GradientDescent<double>::Options gd;
  gd.lr = base_lr;
  descent::GradientDescent<double> optimizer(gd);
  descent::ReduceLROnPlateau<double> scheduler(optimizer, options);
  Schedule s{column, label, {}};
  Eigen::VectorXd x = Eigen::VectorXd::Constant(1, 1.0);
  for (long e = 0; e <= kEpochs; ++e) {
    s.lr.push_back(optimizer.lr());
    optimizer.step(x, x);
    const double loss = std::max(0.3, 1.0 / (1.0 + 0.1 * double(e))) + 0.002 * std::sin(double(e));
    scheduler.step(loss);
  }
  return s;
}

// The lr and the momentum (or β₁) of a scheduler that cycles momentum, on
// the optimizer `make_optimizer` builds: momentum[e] is the one in force
// during epoch e.
struct Cycled {
  Schedule lr, momentum;
};

Cycled record_cycled(
    const char* column, const char* label, const char* momentum_label,
    const std::function<std::unique_ptr<descent::Optimizer<double>>()>& make_optimizer,
    const std::function<std::unique_ptr<descent::LRScheduler<double>>(descent::Optimizer<double>&)>&
        make) {
  const std::unique_ptr<descent::Optimizer<double>> optimizer = make_optimizer();
  const std::unique_ptr<descent::LRScheduler<double>> scheduler = make(*optimizer);
  Cycled c{{column, label, {}}, {column, momentum_label, {}}};
  Eigen::VectorXd x = Eigen::VectorXd::Constant(1, 1.0);
  for (long e = 0; e <= kEpochs; ++e) {
    c.lr.lr.push_back(optimizer->lr());
    c.momentum.lr.push_back(optimizer->momentum());
    optimizer->step(x, x);
    if (e < kEpochs) scheduler->step();
  }
  return c;
}

// The shortest decimal that reads back as the same double.
std::string shortest(double v) {
  char buffer[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, v);
    if (std::strtod(buffer, nullptr) == v) break;
  }
  return buffer;
}

// The lr as a step function: constant during each epoch [e, e + 1).
plot::Series staircase(const Schedule& s) {
  plot::Series series{s.label, {}, {}};
  for (std::size_t e = 0; e < s.lr.size(); ++e) {
    series.x.push_back(double(e));
    series.y.push_back(s.lr[e]);
    series.x.push_back(double(e + 1));
    series.y.push_back(s.lr[e]);
  }
  return series;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path out = ".";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) continue;
    if (std::strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      out = argv[++i];
      continue;
    }
    std::fprintf(stderr, "usage: %s [--quick] [--out DIR]\n", argv[0]);
    return 2;
  }

  using descent::LambdaLR;
  using descent::StepLR;
  const std::vector<Schedule> schedules = {
      record("lambda_0.95", "LambdaLR: 0.1 · 0.95^epoch", 0.1,
             [](descent::Optimizer<double>& opt) {
               return std::make_unique<LambdaLR<double>>(
                   opt, [](std::int64_t e) { return std::pow(0.95, double(e)); });
             }),
      record("step_30_0.1", "StepLR: 0.1, step_size 30, γ 0.1", 0.1,
             [](descent::Optimizer<double>& opt) {
               return std::make_unique<StepLR<double>>(opt, 30, 0.1);
             }),
      record("step_docs", "StepLR (PyTorch docs): 0.05, step_size 30, γ 0.1", 0.05,
             [](descent::Optimizer<double>& opt) {
               return std::make_unique<StepLR<double>>(opt, 30, 0.1);
             }),
  };

  // The table: the first epochs, then each epoch at which a StepLR changes.
  std::printf(
      "lr during each epoch (PyTorch's protocol: optimizer steps, then scheduler.step())\n");
  std::printf("%5s", "epoch");
  for (const Schedule& s : schedules) std::printf("  %12s", s.column);
  std::printf("\n");
  for (long e = 0; e <= kEpochs; ++e) {
    const bool change = e > 0 && e % 30 == 0;
    if (e > 5 && !change) continue;
    if (e == 30) std::printf("%5s\n", "...");
    std::printf("%5ld", e);
    for (const Schedule& s : schedules) std::printf("  %12.6g", s.lr[std::size_t(e)]);
    std::printf("%s\n", change ? "  <- the StepLRs change" : "");
  }

  const plot::Panel linear{
      "lr by epoch",         "epoch", "lr", false, std::pair(0.0, double(kEpochs)),
      std::pair(0.0, 0.105), {},      {}};
  plot::Panel log = linear;
  log.title = "the same, log scale";
  log.log_y = true;
  log.yrange = std::pair(1e-5, 0.2);
  plot::Figure figure{"Learning-rate schedules (lecture §9)", {linear, log}};
  for (plot::Panel* panel : {&figure.panels[0], &figure.panels[1]}) {
    for (const Schedule& s : schedules) panel->series.push_back(staircase(s));
  }

  // The second figure: every other scheduler, four panels by kind.
  using Make =
      std::function<std::unique_ptr<descent::LRScheduler<double>>(descent::Optimizer<double>&)>;
  auto single = [](auto make) -> Make { return make; };
  // SequentialLR and ChainedScheduler refer to their children, which must
  // outlive them: `children` keeps them past each record() (they are not used
  // after it).
  std::vector<std::unique_ptr<descent::LRScheduler<double>>> children;
  auto warmup_then_cosine = [&](descent::Optimizer<double>& opt) {
    children.push_back(std::make_unique<descent::LinearLR<double>>(opt, 0.1, 1.0, 10));
    children.push_back(std::make_unique<descent::CosineAnnealingLR<double>>(opt, 90, 0.002));
    return std::make_unique<descent::SequentialLR<double>>(
        std::vector<descent::LRScheduler<double>*>{children[children.size() - 2].get(),
                                                   children.back().get()},
        std::vector<std::int64_t>{10});
  };
  auto constant_times_exponential = [&](descent::Optimizer<double>& opt) {
    children.push_back(std::make_unique<descent::ConstantLR<double>>(opt, 0.25, 10));
    children.push_back(std::make_unique<descent::ExponentialLR<double>>(opt, 0.97));
    return std::make_unique<descent::ChainedScheduler<double>>(
        std::vector<descent::LRScheduler<double>*>{children[children.size() - 2].get(),
                                                   children.back().get()});
  };
  descent::OneCycleLR<double>::Options three_linear;
  three_linear.three_phase = true;
  three_linear.anneal_strategy = descent::OneCycleLR<double>::Anneal::linear;
  descent::ReduceLROnPlateau<double>::Options plateau;
  plateau.patience = 5;
  plateau.factor = 0.5;
  const std::vector<std::vector<Schedule>> panels_all = {
      {
          record("step", "StepLR: step_size 25, γ 0.5", 0.1,
                 single([](descent::Optimizer<double>& o) {
                   return std::make_unique<StepLR<double>>(o, 25, 0.5);
                 })),
          record("multi_step", "MultiStepLR: milestones 30, 60, 80, γ 0.3", 0.1,
                 single([](descent::Optimizer<double>& o) {
                   return std::make_unique<descent::MultiStepLR<double>>(
                       o, std::vector<std::int64_t>{30, 60, 80}, 0.3);
                 })),
          record("exponential", "ExponentialLR: γ 0.96", 0.1,
                 single([](descent::Optimizer<double>& o) {
                   return std::make_unique<descent::ExponentialLR<double>>(o, 0.96);
                 })),
      },
      {
          record("cosine", "CosineAnnealingLR: T_max 40, η_min 0.01", 0.1,
                 single([](descent::Optimizer<double>& o) {
                   return std::make_unique<descent::CosineAnnealingLR<double>>(o, 40, 0.01);
                 })),
          record("linear", "LinearLR: 0.1 → 1 over 20 epochs", 0.1,
                 single([](descent::Optimizer<double>& o) {
                   return std::make_unique<descent::LinearLR<double>>(o, 0.1, 1.0, 20);
                 })),
          record("constant", "ConstantLR: factor 1/3, 5 epochs", 0.1,
                 single([](descent::Optimizer<double>& o) {
                   return std::make_unique<descent::ConstantLR<double>>(o);
                 })),
      },
      {
          record("sequential", "SequentialLR: LinearLR 10 epochs, then CosineAnnealingLR 90", 0.1,
                 warmup_then_cosine),
          record("chained", "ChainedScheduler: ConstantLR 0.25 (10 epochs) · ExponentialLR 0.97",
                 0.1, constant_times_exponential),
      },
      {
          record("one_cycle", "OneCycleLR: max_lr 0.1, 100 steps (cos)", 0.1,
                 single([](descent::Optimizer<double>& o) {
                   return std::make_unique<descent::OneCycleLR<double>>(o, 0.1, 100);
                 })),
          record("one_cycle_3", "OneCycleLR: three phases, linear, 101 steps", 0.1,
                 [&](descent::Optimizer<double>& o) {
                   return std::make_unique<descent::OneCycleLR<double>>(o, 0.1, 101, three_linear);
                 }),
          record_plateau("plateau", "ReduceLROnPlateau: patience 5, factor 0.5", 0.1, plateau),
      },
  };
  const char* titles[] = {"decays", "cosine and warm-ups", "SequentialLR and ChainedScheduler",
                          "OneCycleLR and ReduceLROnPlateau"};
  plot::Figure all{"Every learning-rate schedule of descent (base or max lr 0.1)", {}};
  std::vector<const Schedule*> columns;
  for (std::size_t p = 0; p < panels_all.size(); ++p) {
    plot::Panel panel = linear;
    panel.title = titles[p];
    for (const Schedule& s : panels_all[p]) {
      panel.series.push_back(staircase(s));
      columns.push_back(&s);
    }
    all.panels.push_back(panel);
  }

  // The third figure: torch 1.13's other schedulers, the momentum that
  // CyclicLR and OneCycleLR cycle, on an axis of its own (OneCycleLR's lr is
  // in the second figure), and WarmupCosineLR. Nine series: the ninth takes
  // the first's colour, in another panel, so no panel repeats a colour.
  descent::CyclicLR<double>::Options triangular, triangular2, exp_range;
  triangular.step_size_up = triangular2.step_size_up = exp_range.step_size_up = 10;
  triangular2.mode = descent::CyclicLR<double>::Mode::triangular2;
  exp_range.mode = descent::CyclicLR<double>::Mode::exp_range;
  exp_range.gamma = 0.98;
  triangular.cycle_momentum = true;
  descent::OneCycleLR<double>::Options one_cycle_momentum;
  one_cycle_momentum.cycle_momentum = true;
  const Cycled cyclic_sgd = record_cycled(
      "cyclic_sgd", "CyclicLR: 0.01 ↔ 0.1, 10 up, 10 down (SGD)",
      "CyclicLR: SGD momentum 0.9 ↔ 0.8",
      [] {
        descent::SGD<double>::Options o;
        o.momentum = 0.9;
        return std::make_unique<descent::SGD<double>>(o);
      },
      [&](descent::Optimizer<double>& o) {
        return std::make_unique<descent::CyclicLR<double>>(o, 0.01, 0.1, triangular);
      });
  const Cycled one_cycle_adam = record_cycled(
      "one_cycle_adam", "OneCycleLR: max_lr 0.1 (Adam)", "OneCycleLR: Adam β₁ 0.95 ↔ 0.85",
      [] { return std::make_unique<descent::Adam<double>>(); },
      [&](descent::Optimizer<double>& o) {
        return std::make_unique<descent::OneCycleLR<double>>(o, 0.1, 101, one_cycle_momentum);
      });
  const std::vector<std::vector<Schedule>> panels_more = {
      {
          record("multiplicative", "MultiplicativeLR: λ = 0.97, ×1.5 every 25 epochs", 0.1,
                 single([](descent::Optimizer<double>& o) {
                   return std::make_unique<descent::MultiplicativeLR<double>>(
                       o, [](std::int64_t e) { return e % 25 == 0 ? 1.5 : 0.97; });
                 })),
          record("polynomial", "PolynomialLR: 60 epochs, power 2", 0.1,
                 single([](descent::Optimizer<double>& o) {
                   return std::make_unique<descent::PolynomialLR<double>>(o, 60, 2.0);
                 })),
          record("warm_restarts", "CosineAnnealingWarmRestarts: T_0 10, T_mult 2", 0.1,
                 single([](descent::Optimizer<double>& o) {
                   return std::make_unique<descent::CosineAnnealingWarmRestarts<double>>(o, 10, 2,
                                                                                         0.001);
                 })),
      },
      {
          cyclic_sgd.lr,
          record("cyclic_triangular2", "CyclicLR: triangular2", 0.1,
                 [&](descent::Optimizer<double>& o) {
                   return std::make_unique<descent::CyclicLR<double>>(o, 0.01, 0.1, triangular2);
                 }),
          record("cyclic_exp_range", "CyclicLR: exp_range, γ 0.98", 0.1,
                 [&](descent::Optimizer<double>& o) {
                   return std::make_unique<descent::CyclicLR<double>>(o, 0.01, 0.1, exp_range);
                 }),
      },
      {cyclic_sgd.momentum, one_cycle_adam.momentum},
      {
          record("warmup_cosine", "WarmupCosineLR (optax): 0 → 0.1 in 10, cosine to 0.001 by 100",
                 0.1, single([](descent::Optimizer<double>& o) {
                   return std::make_unique<descent::WarmupCosineLR<double>>(
                       descent::WarmupCosineLR<double>::optax(o, 0.0, 0.1, 10, 100, 0.001));
                 })),
      },
  };
  const char* titles_more[] = {"MultiplicativeLR, PolynomialLR, warm restarts", "CyclicLR: lr",
                               "their momentum and β₁", "a warm-up then a cosine, in one"};
  plot::Figure more{"torch 1.13's other schedulers, and cycled momentum", {}};
  std::vector<const Schedule*> columns_more;
  for (std::size_t p = 0; p < panels_more.size(); ++p) {
    plot::Panel panel = linear;
    panel.title = titles_more[p];
    if (p == 2) {
      panel.ylabel = "momentum, β₁";
      panel.yrange = std::pair(0.75, 1.0);
    }
    for (const Schedule& s : panels_more[p]) {
      panel.series.push_back(staircase(s));
      if (p != 2) columns_more.push_back(&s);
    }
    more.panels.push_back(panel);
  }
  // The CSV's momentum columns, named apart from the lr columns.
  Schedule cyclic_momentum = cyclic_sgd.momentum, one_cycle_beta1 = one_cycle_adam.momentum;
  cyclic_momentum.column = "cyclic_sgd_momentum";
  one_cycle_beta1.column = "one_cycle_adam_beta1";
  columns_more.push_back(&cyclic_momentum);
  columns_more.push_back(&one_cycle_beta1);

  std::printf("\nthe other schedulers: lr during some epochs\n%5s", "epoch");
  for (const Schedule* s : columns) std::printf(" %11s", s->column);
  std::printf("\n");
  for (const long e : {0L, 1L, 5L, 10L, 20L, 40L, 60L, 80L, 100L}) {
    std::printf("%5ld", e);
    for (const Schedule* s : columns) std::printf(" %11.4g", s->lr[std::size_t(e)]);
    std::printf("\n");
  }

  const auto write_csv = [](const std::filesystem::path& path,
                            const std::vector<const Schedule*>& list) {
    std::ofstream file(path);
    file << "epoch";
    for (const Schedule* s : list) file << ',' << s->column;
    file << '\n';
    for (long e = 0; e <= kEpochs; ++e) {
      file << e;
      for (const Schedule* s : list) file << ',' << shortest(s->lr[std::size_t(e)]);
      file << '\n';
    }
    file.close();
    if (!file) throw std::runtime_error("cannot write " + path.string());
  };
  const std::filesystem::path svg = out / "schedules.svg", csv = out / "schedules.csv";
  const std::filesystem::path svg_all = out / "schedules_all.svg";
  const std::filesystem::path csv_all = out / "schedules_all.csv";
  const std::filesystem::path svg_more = out / "schedules_more.svg";
  const std::filesystem::path csv_more = out / "schedules_more.csv";
  try {
    std::filesystem::create_directories(out);
    plot::write_svg(figure, svg.string());
    std::vector<const Schedule*> first;
    for (const Schedule& s : schedules) first.push_back(&s);
    write_csv(csv, first);
    plot::write_svg(all, svg_all.string());
    write_csv(csv_all, columns);
    plot::write_svg(more, svg_more.string());
    write_csv(csv_more, columns_more);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "schedules: %s\n", e.what());
    return 1;
  }
  std::printf("\nWrote %s, %s, %s, %s, %s and %s\n", svg.string().c_str(), csv.string().c_str(),
              svg_all.string().c_str(), csv_all.string().c_str(), svg_more.string().c_str(),
              csv_more.string().c_str());
  return 0;
}
