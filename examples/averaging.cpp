// Weight averaging on the UCI digits: the MLP of the digits example trained
// with SGD at a constant, rather large lr, whose raw weights keep bouncing
// around the minimum, and two averages of those weights taken along the way:
//
//   EMA  an exponential moving average (WeightAverage, decay 0.995 per step,
//        a horizon of about 200 steps, 4–5 epochs), updated after every step;
//   SWA  stochastic weight averaging: from epoch swa_start on, the equal mean
//        of the weights at the end of each epoch, while SWALR anneals the lr
//        to swa_lr over 5 epochs (the torch.optim.swa_utils recipe).
//
// Each epoch evaluates the test set with the raw weights and with each
// average, swapped into the parameters by WeightAverage::swapped_in() and
// swapped back when the guard ends, so training goes on from the raw weights.
//
//   ./averaging            40 epochs; writes averaging.svg
//   ./averaging --quick    6 epochs (the ctest smoke test)
//   --out DIR              where averaging.svg goes (default: .)
//   --data PATH            the data, as the digits example
//
// Data, split, model and initial weights are the digits example's
// (common/digits_model.hpp).

#include "common/digits_model.hpp"
#include "common/plot.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <Eigen/Core>
#include <descent/descent.hpp>

namespace {

using namespace example::digits;  // Scalar, Index, Vector, the data, Mlp

constexpr long kBatchSize = 32;
constexpr int kEpochs = 40, kQuickEpochs = 6;
constexpr double kTestFraction = 0.25;
constexpr std::uint64_t kSplitSeed = 1, kInitSeed = 2, kBatchSeed = 3;
constexpr double kLr = 0.5, kSwaLr = 0.25, kEmaDecay = 0.995;

struct Curve {
  std::vector<double> loss, accuracy;  // test set; accuracy in %
  void add(const Score& s) {
    loss.push_back(s.loss);
    accuracy.push_back(100 * s.accuracy);
  }
};

struct Arguments {
  bool quick = false, help = false;
  std::string out = ".";
  std::optional<std::string> data;
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

constexpr const char* kUsage =
    "usage: averaging [--quick] [--out DIR] [--data PATH] [--help]\n"
    "  --quick      6 epochs instead of 40 (a smoke test)\n"
    "  --out DIR    write averaging.svg into DIR (default: the current directory)\n"
    "  --data PATH  digits.csv.gz (default: the source tree's)\n";

Arguments parse(int argc, char** argv) {
  Arguments args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--quick") {
      args.quick = true;
    } else if (arg == "--help" || arg == "-h") {
      args.help = true;
    } else if (arg == "--out") {
      args.out = value();
    } else if (arg == "--data") {
      args.data = value();
    } else {
      throw UsageError("unknown argument " + std::string(arg));
    }
  }
  return args;
}

int run(const Arguments& args) {
  if (args.help) {
    std::printf("%s", kUsage);
    return 0;
  }
  std::error_code ignored;
  if (!std::filesystem::is_directory(args.out, ignored)) {
    throw UsageError("--out: " + args.out + " is not a directory");
  }
  const int epochs = args.quick ? kQuickEpochs : kEpochs;
  const int swa_start = epochs / 2;
  const Dataset all = read_digits(locate_data(args.data));
  const auto [train_rows, test_rows] = stratified_split(all.y, kTestFraction, kSplitSeed);
  const Dataset train_part = subset(all, train_rows), test_part = subset(all, test_rows);

  Mlp mlp(initial_params(kInitSeed));
  descent::SGD<Scalar>::Options options;
  options.lr = Scalar(kLr);
  descent::SGD<Scalar> sgd(options);
  descent::SWALR<Scalar> swalr(sgd, kSwaLr, 5, descent::SWALR<Scalar>::Anneal::cos);
  descent::WeightAverage<Scalar> ema(descent::WeightAverage<Scalar>::Options::ema(kEmaDecay));
  descent::WeightAverage<Scalar> swa(descent::WeightAverage<Scalar>::Options::swa());
  descent::MinibatchSampler batches(train_part.size(), kBatchSize, kBatchSeed);

  std::printf(
      "SGD lr %g (constant until epoch %d, then SWALR to %g over 5 epochs), batch %ld, %d "
      "epochs;\nEMA decay %g per step; SWA: the mean of the end-of-epoch weights from epoch %d\n\n",
      kLr, swa_start, kSwaLr, kBatchSize, epochs, kEmaDecay, swa_start + 1);
  std::printf("  %5s  %8s  %16s  %16s  %16s\n", "epoch", "lr", "raw loss / acc", "EMA loss / acc",
              "SWA loss / acc");
  Curve raw, averaged_ema, averaged_swa;
  std::vector<double> epoch_axis, swa_axis;
  for (long epoch = 1; epoch <= epochs; ++epoch) {
    const double lr = double(sgd.lr());
    while (batches.epoch() < epoch) {
      mlp.backprop(train_part, batches.next());
      sgd.step(mlp.params(), mlp.grad());
      ema.update(mlp.params());
    }
    if (epoch > swa_start) {
      swa.update(mlp.params());
      swalr.step();
    }
    epoch_axis.push_back(double(epoch));
    const Score r = mlp.evaluate(test_part);
    raw.add(r);
    Score e{}, s{};
    {
      auto guard = ema.swapped_in(mlp.params());
      e = mlp.evaluate(test_part);
    }
    averaged_ema.add(e);
    char swa_text[32] = "-";
    if (swa.count() > 0) {
      auto guard = swa.swapped_in(mlp.params());
      s = mlp.evaluate(test_part);
      averaged_swa.add(s);
      swa_axis.push_back(double(epoch));
      std::snprintf(swa_text, sizeof swa_text, "%.4f / %.2f%%", s.loss, 100 * s.accuracy);
    }
    std::printf("  %5ld  %8.4g  %8.4f / %.2f%%  %8.4f / %.2f%%  %16s\n", epoch, lr, r.loss,
                100 * r.accuracy, e.loss, 100 * e.accuracy, swa_text);
  }

  // Over the SWA epochs: the final values, the mean test loss and the
  // lowest test accuracy (how far a run stopped at the wrong epoch can fall).
  std::printf("\nover epochs %d..%d: final loss / accuracy, mean loss, lowest accuracy\n",
              swa_start + 1, epochs);
  const auto summary = [&](const char* name, const Curve& c) {
    const std::size_t from = c.loss.size() - averaged_swa.loss.size();
    double mean = 0, lowest = 100;
    for (std::size_t e = from; e < c.loss.size(); ++e) {
      mean += c.loss[e] / double(c.loss.size() - from);
      lowest = std::min(lowest, c.accuracy[e]);
    }
    std::printf("  %-12s %.4f / %.2f%%   %.4f   %.2f%%\n", name, c.loss.back(), c.accuracy.back(),
                mean, lowest);
  };
  summary("raw weights", raw);
  summary("EMA", averaged_ema);
  summary("SWA", averaged_swa);

  plot::Panel loss;
  loss.title = "Test loss";
  loss.xlabel = "epoch";
  loss.ylabel = "mean cross-entropy, test set";
  loss.log_y = true;
  plot::Panel accuracy;
  accuracy.title = "Test accuracy";
  accuracy.xlabel = "epoch";
  accuracy.ylabel = "accuracy (%)";
  if (!args.quick) accuracy.yrange = std::pair(90.0, 100.0);
  loss.series.push_back({"raw weights", epoch_axis, raw.loss});
  loss.series.push_back({"EMA", epoch_axis, averaged_ema.loss});
  accuracy.series.push_back({"raw weights", epoch_axis, raw.accuracy});
  accuracy.series.push_back({"EMA", epoch_axis, averaged_ema.accuracy});
  if (!swa_axis.empty()) {
    loss.series.push_back({"SWA", swa_axis, averaged_swa.loss});
    accuracy.series.push_back({"SWA", swa_axis, averaged_swa.accuracy});
  }
  plot::Figure figure;
  figure.title = "SGD at lr 0.5 on the UCI digits: the raw weights and their EMA and SWA averages";
  figure.panels = {loss, accuracy};
  const std::string svg = (std::filesystem::path(args.out) / "averaging.svg").string();
  plot::write_svg(figure, svg);
  std::printf("\nwrote %s\n", svg.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const UsageError& e) {
    std::fprintf(stderr, "averaging: %s\n%s", e.what(), kUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
