// Checkpoints: save_file writes from rank 0 the bytes a single-process
// optimizer in the same state writes; a run saved with P ranks resumes bit
// for bit with any P′ (sub-communicators of 1 … world size ranks here) and in
// a plain optimizer; a corrupt file is refused on every rank, nothing changed.

#include "support.hpp"

#include <cstdio>
#include <fstream>
#include <iterator>

using namespace mpi_support;
using Catch::Matchers::Contains;
using AdamF = descent::Adam<float>;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

AdamF::Options options(descent::StateStorage storage = descent::StateStorage::Same,
                       bool stochastic_rounding = false) {
  AdamF::Options o{0.02f, 0.8f, 0.99f};
  o.amsgrad = true;  // all three state arrays
  o.state_storage = storage;
  o.stochastic_rounding = stochastic_rounding;
  return o;
}

/// Steps [from, to) of the run on comm's ranks, whose gradients are those of
/// `p` ranks; every rank of comm holds all of x.
template <typename Trainer>
void run(Trainer& t, Vec<float>& x, int from, int to) {
  for (int s = from; s < to; ++s) t.step(x, gradient<float>(t.rank(), s, x.size()));
}

}  // namespace

TEMPLATE_TEST_CASE("mpi: save_file writes what a single-process optimizer in that state writes", "",
                   descent::mpi::DataParallel<AdamF>, descent::mpi::Sharded<AdamF>) {
  const int p = world_size();
  const std::string path = shared_path("save");
  const Eigen::Index n = 1000;
  TestType t(MPI_COMM_WORLD, options());
  t.save_file(path);  // no state yet
  AdamF single(options());
  if (world_rank() == 0) REQUIRE(read_file(path) == descent::detail::mpi::bytes_of(single));
  MPI_Barrier(MPI_COMM_WORLD);
  Vec<float> x = start<float>(n), y = x;
  run(t, x, 0, 5);
  for (int s = 0; s < 5; ++s) single.step(y, rank_order_mean<float>(p, s, n));
  t.save_file(path);
  if (world_rank() == 0) {
    REQUIRE(read_file(path) == descent::detail::mpi::bytes_of(single));
    std::remove(path.c_str());
  }
  // An unwritable path fails on every rank.
  REQUIRE_THROWS_AS(t.save_file("/nonexistent-folder/x.ckpt"), descent::CheckpointError);
}

TEST_CASE("mpi: a run saved with P ranks resumes with any P' and in a single process") {
  // bfloat16 state too: its checkpoint holds the state as floats, which the
  // shards are gathered from and cut into as any other. With stochastic
  // rounding a shard draws the bits of its elements' places in the whole
  // (Optimizer::element_offset), so any number of ranks rounds as one.
  const int mode = GENERATE(0, 1, 2);
  const auto storage = mode == 0 ? descent::StateStorage::Same : descent::StateStorage::BFloat16;
  const bool stochastic = mode == 2;
  CAPTURE(mode);
  const int world = world_size();
  const Eigen::Index n = 3000;
  const std::string path = shared_path("resume");
  for (int p = 1; p <= world; ++p) {
    // The uninterrupted run of p ranks: 8 steps.
    Vec<float> uninterrupted = start<float>(n);
    AdamF whole(options(storage, stochastic));
    for (int s = 0; s < 8; ++s) whole.step(uninterrupted, rank_order_mean<float>(p, s, n));
    for (int q = 1; q <= world; ++q) {
      INFO("saved with " << p << " ranks, resumed with " << q);
      // 4 steps on p ranks, saved; Sharded and DataParallel take turns as
      // writer and reader.
      Vec<float> x = start<float>(n);
      {
        SubComm comm(p);
        if (comm.member()) {
          if ((p + q) % 2 == 0) {
            descent::mpi::Sharded<AdamF> t(comm.get(), options(storage, stochastic));
            run(t, x, 0, 4);
            t.save_file(path);
          } else {
            descent::mpi::DataParallel<AdamF> t(comm.get(), options(storage, stochastic));
            run(t, x, 0, 4);
            t.save_file(path);
          }
        }
      }
      MPI_Bcast(x.data(), int(n), MPI_FLOAT, 0, MPI_COMM_WORLD);
      {
        // 4 more on q ranks, beside a single process that loaded the file.
        SubComm comm(q);
        if (comm.member()) {
          AdamF single(options(storage, stochastic));
          single.load_file(path);
          Vec<float> y = x;
          const auto resume = [&](auto& t) {
            t.load_file(path);
            REQUIRE(t.optimizer().iterations() == 4);
            REQUIRE(t.optimizer().lr() == single.lr());
            for (int s = 4; s < 8; ++s) {
              t.step(x, gradient<float>(t.rank(), s, n));
              single.step(y, rank_order_mean<float>(q, s, n));
            }
          };
          if ((p + q) % 2 == 0) {
            descent::mpi::DataParallel<AdamF> t(comm.get(), options(storage, stochastic));
            resume(t);
          } else {
            descent::mpi::Sharded<AdamF> t(comm.get(), options(storage, stochastic));
            resume(t);
            REQUIRE(t.optimizer().state_size() == t.shard().second - t.shard().first);
          }
          REQUIRE(same_bits(x, y));
          REQUIRE(same_on_every_rank(x, comm.get()));
          // The same number of ranks continues the saved run bit for bit.
          if (q == p) REQUIRE(same_bits(x, uninterrupted));
        }
      }
      MPI_Barrier(MPI_COMM_WORLD);
    }
  }
  if (world_rank() == 0) std::remove(path.c_str());
}

TEMPLATE_TEST_CASE("mpi: a corrupt or mismatched checkpoint is refused on every rank", "",
                   descent::mpi::DataParallel<AdamF>, descent::mpi::Sharded<AdamF>) {
  const int me = world_rank();
  const Eigen::Index n = 640;
  const std::string path = shared_path("corrupt");
  TestType t(MPI_COMM_WORLD, options());
  Vec<float> x = start<float>(n);
  run(t, x, 0, 3);
  t.save_file(path);
  const std::string good = me == 0 ? read_file(path) : std::string();
  const std::string before = descent::detail::mpi::bytes_of(t.optimizer());
  const auto write = [&](const std::string& bytes) {
    if (me == 0) std::ofstream(path, std::ios::binary) << bytes;
    MPI_Barrier(MPI_COMM_WORLD);
  };
  // One flipped byte.
  std::string flipped = good;
  if (me == 0) flipped[flipped.size() / 2] = char(flipped[flipped.size() / 2] ^ 0x10);
  write(flipped);
  REQUIRE_THROWS_WITH(t.load_file(path), Contains("checksum mismatch"));
  REQUIRE(descent::detail::mpi::bytes_of(t.optimizer()) == before);
  // Truncated.
  write(good.substr(0, good.size() / 2));
  REQUIRE_THROWS_AS(t.load_file(path), descent::CheckpointError);
  REQUIRE(descent::detail::mpi::bytes_of(t.optimizer()) == before);
  // Another optimizer's.
  if (me == 0) descent::SGD<float>().save_file(path);
  MPI_Barrier(MPI_COMM_WORLD);
  REQUIRE_THROWS_WITH(t.load_file(path), Contains("the checkpoint is for SGD, not Adam"));
  // State for another size.
  if (me == 0) {
    AdamF other(options());
    Vec<float> y = start<float>(n + 1);
    other.step(y, y);
    other.save_file(path);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  REQUIRE_THROWS_WITH(t.load_file(path), Contains("state is for 641 parameters"));
  REQUIRE_THROWS_WITH(t.load_file(path + ".missing"), Contains("cannot open"));
  REQUIRE(descent::detail::mpi::bytes_of(t.optimizer()) == before);
  // The good file still loads, and the run goes on.
  write(good);
  t.load_file(path);
  run(t, x, 3, 4);
  REQUIRE(same_on_every_rank(x));
  if (me == 0) std::remove(path.c_str());
}
