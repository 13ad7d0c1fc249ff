// The lecture's section 9 figures: the learning rate against the epoch for
// LambdaLR and StepLR, as each schedule sets it on a real optimizer.
//
//   ./schedules             write schedules.svg and schedules.csv, print a table
//   ./schedules --quick     the same (there is nothing to shorten; for the tests)
//   ./schedules --out DIR   write the files to DIR (default: the current directory)
//
// PyTorch's protocol: the scheduler's constructor sets the lr of epoch 0;
// each epoch runs its optimizer steps with the lr in force, then calls
// scheduler.step() to set the next epoch's. So the lr recorded for epoch e is
// the one the optimizer steps with during epoch e.

#include <cmath>
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

#include "common/plot.hpp"

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
  descent::GradientDescent<double> optimizer({base_lr});
  const std::unique_ptr<descent::LRScheduler<double>> scheduler = make(optimizer);
  Schedule s{column, label, {}};
  Eigen::VectorXd x = Eigen::VectorXd::Constant(1, 1.0);
  for (long e = 0; e <= kEpochs; ++e) {
    s.lr.push_back(optimizer.lr());
    if (optimizer.lr() != scheduler->lr_at(e)) throw std::logic_error("schedules: lr mismatch");
    optimizer.step(x, x);  // the gradient of x²/2 is x
    scheduler->step();
  }
  return s;
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
                   opt, [](long e) { return std::pow(0.95, double(e)); });
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

  const std::filesystem::path svg = out / "schedules.svg", csv = out / "schedules.csv";
  try {
    std::filesystem::create_directories(out);
    plot::write_svg(figure, svg.string());
    std::ofstream file(csv);
    file << "epoch";
    for (const Schedule& s : schedules) file << ',' << s.column;
    file << '\n';
    for (long e = 0; e <= kEpochs; ++e) {
      file << e;
      for (const Schedule& s : schedules) file << ',' << shortest(s.lr[std::size_t(e)]);
      file << '\n';
    }
    file.close();
    if (!file) throw std::runtime_error("cannot write " + csv.string());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "schedules: %s\n", e.what());
    return 1;
  }
  std::printf("\nWrote %s and %s\n", svg.string().c_str(), csv.string().c_str());
  return 0;
}
