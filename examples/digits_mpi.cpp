// The digits MLP of digits.cpp trained data-parallel on MPI: every rank
// holds the network, takes its share of each global minibatch of 32, and
// descent::mpi::DataParallel (or Sharded) steps Adam on the mean of the
// ranks' gradients. The global batches, the initial weights and the 30
// epochs are digits'; the optimizer is Adam, lr 0.03, StepLR(10, 0.3), the
// pick of digits' sweep without weight decay. Rank 0 also trains the same
// on its own for comparison, and the accuracies match.
//
// Unlike digits, which steps the layers in two parameter groups (weight
// decay on W1 and W2 only), this stays on the flat vector: DataParallel and
// Sharded step all 4810 parameters as one, with one optimizer and no weight
// decay.
//
//   mpirun -np 2 build/examples/digits_mpi           DataParallel on 2 ranks
//   mpirun -np 3 build/examples/digits_mpi --sharded Sharded (ZeRO-1) on 3 ranks
//   --quick        2 epochs (the ctest smoke test)
//   --save PATH    write the final optimizer checkpoint to PATH (collective)
//   --out DIR, --data PATH  as for digits
//
// Rank r takes samples [r·b/P, (r+1)·b/P) of a batch of b, and scales its
// mean-over-its-share gradient by its share's size·P/b, so that the mean
// over the ranks is the gradient of the batch's mean loss even where b is
// not a multiple of P.

#include "common/digits_model.hpp"

#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <descent/adam.hpp>
#include <descent/minibatch.hpp>
#include <descent/mpi.hpp>
#include <descent/step_lr.hpp>
#include <mpi.h>

namespace {

using namespace example::digits;
using Clock = std::chrono::steady_clock;
using Adam = descent::Adam<Scalar>;

constexpr long kBatchSize = 32;
constexpr int kEpochs = 30, kQuickEpochs = 2;
constexpr double kTestFraction = 0.25;
constexpr std::uint64_t kSplitSeed = 1, kInitSeed = 2, kBatchSeed = 3;  // digits'
constexpr Scalar kLr = Scalar(0.03);

struct Arguments {
  bool quick = false, sharded = false;
  std::optional<std::string> data, save;
};

struct Result {
  double accuracy = 0;      // final test accuracy, %
  double step_seconds = 0;  // backprop and steps, all epochs
};

/// One training run; `step(params, grad)` steps the optimizer, `lr()` reads
/// its lr, `schedule()` steps the schedule. Prints each epoch if verbose.
template <typename Step, typename Lr, typename Schedule>
Result train(const Dataset& fit, const Dataset& test, int epochs, int rank, int ranks, bool verbose,
             const Step& step, const Lr& lr, const Schedule& schedule) {
  Mlp mlp(initial_params(kInitSeed));
  descent::MinibatchSampler batches(fit.size(), kBatchSize, kBatchSeed);
  std::vector<Index> share;
  Result result;
  for (long epoch = 1; epoch <= epochs; ++epoch) {
    const double epoch_lr = lr();
    const Clock::time_point start = Clock::now();
    while (batches.epoch() < epoch) {
      const std::vector<Index>& batch = batches.next();
      const auto b = Index(batch.size());
      const Index first = Index(rank) * b / ranks, last = Index(rank + 1) * b / ranks;
      share.assign(batch.begin() + first, batch.begin() + last);
      if (share.empty()) {
        Vector zero = Vector::Zero(kParams);
        step(mlp.params(), zero);
      } else {
        mlp.backprop(fit, share);
        step(mlp.params(), mlp.grad() * (Scalar(last - first) * Scalar(ranks) / Scalar(b)));
      }
    }
    schedule();
    result.step_seconds += std::chrono::duration<double>(Clock::now() - start).count();
    if (verbose) {
      const Score f = mlp.evaluate(fit), t = mlp.evaluate(test);
      std::printf("  %5ld  %8.4g  %10.4f  %7.2f%%  %8.2f ms\n", epoch, epoch_lr, f.loss,
                  100 * t.accuracy, 1e3 * result.step_seconds / double(epoch));
    }
  }
  result.accuracy = 100 * mlp.evaluate(test).accuracy;
  return result;
}

template <typename Trainer>
Result train_parallel(const Arguments& args, const Dataset& fit, const Dataset& test, int epochs) {
  Trainer trainer(MPI_COMM_WORLD, Adam::Options{kLr});
  descent::StepLR<Scalar> schedule(trainer.optimizer(), 10, Scalar(0.3));
  const bool verbose = trainer.rank() == 0;
  if (verbose) {
    std::printf("\n%s<Adam> on %d ranks (lr %g, StepLR(10, 0.3))\n  %5s  %8s  %10s  %8s  %11s\n",
                args.sharded ? "Sharded" : "DataParallel", trainer.size(), double(kLr), "epoch",
                "lr", "train loss", "test acc", "per epoch");
  }
  const Result result = train(
      fit, test, epochs, trainer.rank(), trainer.size(), verbose,
      [&](Vector& params, const auto& grad) { trainer.step(params, grad); },
      [&] { return double(trainer.optimizer().lr()); }, [&] { schedule.step(); });
  if (args.save) trainer.save_file(*args.save);
  if constexpr (std::is_same<Trainer, descent::mpi::Sharded<Adam>>::value) {
    const auto [begin, end] = trainer.shard();
    if (verbose) {
      std::printf("  rank 0 holds the optimizer state of parameters [%ld, %ld) of %ld\n",
                  long(begin), long(end), long(kParams));
    }
  }
  return result;
}

int run(const Arguments& args) {
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const int epochs = args.quick ? kQuickEpochs : kEpochs;
  const std::string path = locate_data(args.data);
  const Dataset all = read_digits(path);
  const auto [fit_rows, test_rows] = stratified_split(all.y, kTestFraction, kSplitSeed);
  const Dataset fit = subset(all, fit_rows), test = subset(all, test_rows);
  if (rank == 0) {
    std::printf("data: %s: %ld to train, %ld to test; model 64-64-10, %ld float parameters\n",
                path.c_str(), long(fit.size()), long(test.size()), long(kParams));
    std::printf("ranks: %d, global batch %ld (about %ld a rank), %d epochs\n", ranks, kBatchSize,
                kBatchSize / ranks, epochs);
  }
  const Result parallel =
      args.sharded ? train_parallel<descent::mpi::Sharded<Adam>>(args, fit, test, epochs)
                   : train_parallel<descent::mpi::DataParallel<Adam>>(args, fit, test, epochs);
  if (rank != 0) return 0;
  // The same run in this one process, for comparison.
  Adam single(Adam::Options{kLr});
  descent::StepLR<Scalar> schedule(single, 10, Scalar(0.3));
  const Result alone = train(
      fit, test, epochs, 0, 1, false,
      [&](Vector& params, const auto& grad) { single.step(params, grad); },
      [&] { return double(single.lr()); }, [&] { schedule.step(); });
  std::printf("\n%-26s  %9s  %11s\n", "", "final acc", "per epoch");
  std::printf("%-26s  %8.2f%%  %8.2f ms\n",
              (std::string(args.sharded ? "Sharded" : "DataParallel") + ", " +
               std::to_string(ranks) + " ranks")
                  .c_str(),
              parallel.accuracy, 1e3 * parallel.step_seconds / epochs);
  std::printf("%-26s  %8.2f%%  %8.2f ms\n", "single process", alone.accuracy,
              1e3 * alone.step_seconds / epochs);
  std::printf("difference %.2f points (one test digit is %.2f)\n",
              parallel.accuracy - alone.accuracy, 100.0 / double(test.size()));
  if (args.save) std::printf("wrote %s\n", args.save->c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int status = 0;
  try {
    Arguments args;
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      const auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(std::string(arg) + " needs a value");
        return argv[++i];
      };
      if (arg == "--quick") {
        args.quick = true;
      } else if (arg == "--sharded") {
        args.sharded = true;
      } else if (arg == "--data") {
        args.data = value();
      } else if (arg == "--save") {
        args.save = value();
      } else if (arg == "--out") {
        value();  // nothing is written there but --save's file
      } else {
        throw std::invalid_argument("unknown argument '" + std::string(arg) +
                                    "' (--quick, --sharded, --save PATH, --data PATH)");
      }
    }
    status = run(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "digits_mpi: %s\n", e.what());
    status = 1;
  }
  MPI_Finalize();
  return status;
}
