// mpi_bench: one step of descent::mpi::DataParallel and Sharded with Adam on
// float, at 1M and 16M parameters, through shared memory (the default when
// the ranks share a node) and point-to-point, beside in the same run: the
// bare MPI floor, a bucketed MPI_Allreduce of the same gradient (what any
// data-parallel step must at least do); Adam's step over N/P and over N
// parameters alone on every rank at once (the arithmetic a sharded and a
// replicated step must at least do); and the composition a user would write without descent::mpi
// (that allreduce, a division by P, Adam's step). Run it under mpirun with 2 ranks on a quiet
// machine:
//
//   mpirun -np 2 build/bench/mpi_bench [--rounds R] [--sizes 1048576,16777216]
//                                      [--buckets 262144,1048576,4194304,16777216]
//
// Every contender is timed in rounds, the contenders' order rotating from one
// round to the next; a step is timed from a barrier to its end on the slowest
// rank; the table gives the median over all rounds. The bucket sweep times
// the floor and both point-to-point steps at each bucket size (bytes) at the
// largest N.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <descent/adam.hpp>
#include <descent/mpi.hpp>
#include <mpi.h>

namespace {

using Adam = descent::Adam<float>;
using Vector = Eigen::VectorXf;
using Index = Eigen::Index;

int rank_of() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int size_of() {
  int p = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &p);
  return p;
}

/// Seconds of f() on the slowest rank, from a common start.
double timed(const std::function<void()>& f) {
  MPI_Barrier(MPI_COMM_WORLD);
  const double start = MPI_Wtime();
  f();
  double mine = MPI_Wtime() - start, slowest = 0;
  MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return slowest;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

/// A bucketed allreduce of g into out, the floor.
void allreduce(const Vector& g, Vector& out, Index bucket) {
  for (Index b = 0; b < g.size(); b += bucket) {
    MPI_Allreduce(g.data() + b, out.data() + b, int(std::min(bucket, g.size() - b)), MPI_FLOAT,
                  MPI_SUM, MPI_COMM_WORLD);
  }
}

struct Contender {
  Contender(std::string n, std::function<void()> s) : name(std::move(n)), step(std::move(s)) {}
  std::string name;
  std::function<void()> step;
  double state_bytes = 0, buffer_bytes = 0;  // per rank
  std::vector<double> seconds;
};

/// Times the contenders in `rounds` rounds of `steps` steps each, after one
/// untimed step (which allocates state and faults pages in).
void run(std::vector<Contender>& contenders, int rounds, int steps) {
  for (auto& c : contenders) c.step();
  for (int round = 0; round < rounds; ++round) {
    for (std::size_t k = 0; k < contenders.size(); ++k) {
      Contender& c = contenders[(k + std::size_t(round)) % contenders.size()];
      for (int s = 0; s < steps; ++s) c.seconds.push_back(timed(c.step));
    }
  }
}

std::vector<long> parse_list(const char* text) {
  std::vector<long> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::atol(item.c_str()));
  return out;
}

double mib(double bytes) { return bytes / double(1 << 20); }

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const int me = rank_of(), p = size_of();
  int rounds = 7;
  std::vector<long> sizes = {1L << 20, 1L << 24};
  std::vector<long> buckets = {1L << 18, 1L << 20, 1L << 22, 1L << 24};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--rounds") rounds = std::atoi(argv[i + 1]);
    if (arg == "--sizes") sizes = parse_list(argv[i + 1]);
    if (arg == "--buckets") buckets = parse_list(argv[i + 1]);
  }
  const std::size_t default_bucket =
      descent::mpi::DataParallel<Adam>(MPI_COMM_WORLD).bucket_bytes();
  if (me == 0) {
    std::printf(
        "mpi_bench: %d ranks, Adam<float> (default options), %d rounds; "
        "times: median ms per step on the slowest rank\n",
        p, rounds);
    std::printf("\n%10s  %-36s  %9s  %8s  %13s  %15s\n", "N", "contender", "ms", "x floor",
                "state MiB/rank", "buffers MiB/rank");
  }
  for (const long n : sizes) {
    const int steps = n >= (1L << 24) ? 3 : 10;
    const Vector g = Vector::NullaryExpr(n, [me](Index i) {
      return float(0.25 + 0.5 * std::abs(std::sin(0.001 * double(i) + me)));
    });
    Vector x_dp = Vector::Constant(n, 0.5f), x_sh = x_dp, x_plain = x_dp, mean(n);
    Vector x_dp2 = x_dp, x_sh2 = x_dp, x_whole = x_dp, x_part = x_dp.head(n / p);
    const Vector g_part = g.head(n / p);
    descent::mpi::DataParallel<Adam> dp(MPI_COMM_WORLD), dp2(MPI_COMM_WORLD);
    descent::mpi::Sharded<Adam> sharded(MPI_COMM_WORLD), sharded2(MPI_COMM_WORLD);
    dp2.set_shared_memory(false);
    sharded2.set_shared_memory(false);
    const bool shared = sharded.shared_memory();
    Adam plain, part, whole;
    const Index bucket = Index(default_bucket / sizeof(float));
    std::vector<Contender> contenders = {
        {"MPI_Allreduce floor, " + std::to_string(default_bucket >> 20) + " MiB buckets",
         [&] { allreduce(g, mean, bucket); }},
        {"Adam::step of N/P alone, every rank", [&] { part.step(x_part, g_part); }},
        {"Adam::step of N alone, every rank", [&] { whole.step(x_whole, g); }},
        {"MPI_Allreduce + /P + Adam::step",
         [&] {
           allreduce(g, mean, bucket);
           mean /= float(p);
           plain.step(x_plain, mean);
         }},
        {std::string("DataParallel") + (shared ? ", shared memory" : ""),
         [&] { dp.step(x_dp, g); }},
        {std::string("Sharded") + (shared ? ", shared memory" : ""),
         [&] { sharded.step(x_sh, g); }},
        {"DataParallel, point-to-point", [&] { dp2.step(x_dp2, g); }},
        {"Sharded, point-to-point", [&] { sharded2.step(x_sh2, g); }},
    };
    run(contenders, rounds, steps);
    const auto sizes_of = [&](Contender& c, const auto& trainer) {
      c.state_bytes = 2.0 * double(trainer.optimizer().state_size()) * sizeof(float);
      c.buffer_bytes = double(trainer.buffer_bytes());
    };
    contenders[1].state_bytes = 2.0 * double(part.state_size()) * sizeof(float);
    contenders[2].state_bytes = 2.0 * double(whole.state_size()) * sizeof(float);
    contenders[3].state_bytes = 2.0 * double(plain.state_size()) * sizeof(float);
    contenders[3].buffer_bytes = double(mean.size()) * sizeof(float);
    sizes_of(contenders[4], dp);
    sizes_of(contenders[5], sharded);
    sizes_of(contenders[6], dp2);
    sizes_of(contenders[7], sharded2);
    const double floor = median(contenders[0].seconds);
    if (me == 0) {
      for (const auto& c : contenders) {
        std::printf("%10ld  %-37s  %9.2f  %8.2f  %13.1f  %15.1f\n", n, c.name.c_str(),
                    1e3 * median(c.seconds), median(c.seconds) / floor, mib(c.state_bytes),
                    mib(c.buffer_bytes));
      }
    }
  }

  // The bucket size: the floor and both point-to-point steps at each, at
  // the largest N (steps through shared memory send no messages).
  const long n = *std::max_element(sizes.begin(), sizes.end());
  const Vector g = Vector::Constant(n, 0.5f);
  Vector out(n), x_dp = Vector::Zero(n), x_sh = x_dp;
  if (me == 0) {
    std::printf(
        "\nbucket sweep at N = %ld, point-to-point: median ms per step\n%12s  %10s  %12s  %9s\n", n,
        "bucket bytes", "allreduce", "DataParallel", "Sharded");
  }
  for (const long bytes : buckets) {
    descent::mpi::DataParallel<Adam> dp(MPI_COMM_WORLD);
    descent::mpi::Sharded<Adam> sharded(MPI_COMM_WORLD);
    dp.set_bucket_bytes(std::size_t(bytes));
    sharded.set_bucket_bytes(std::size_t(bytes));
    dp.set_shared_memory(false);
    sharded.set_shared_memory(false);
    std::vector<Contender> contenders = {
        {"allreduce", [&] { allreduce(g, out, Index(bytes / long(sizeof(float)))); }},
        {"dp", [&] { dp.step(x_dp, g); }},
        {"sharded", [&] { sharded.step(x_sh, g); }},
    };
    run(contenders, std::max(3, rounds / 2), 2);
    if (me == 0) {
      std::printf("%12ld  %10.2f  %12.2f  %9.2f\n", bytes, 1e3 * median(contenders[0].seconds),
                  1e3 * median(contenders[1].seconds), 1e3 * median(contenders[2].seconds));
    }
  }
  MPI_Finalize();
}
