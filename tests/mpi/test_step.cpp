// A step of DataParallel or Sharded is, bit for bit, a single-process step on
// the rank-order mean of the ranks' gradients, and leaves the same params on
// every rank: at sizes that hit every vector tail and shard boundary, with
// buckets of a few elements and of the default size, through Eigen types, a
// scheduler, clipping and threads.

#include "support.hpp"

#include <limits>

#include <descent/clip.hpp>
#include <descent/step_lr.hpp>

using namespace mpi_support;
using AdamF = descent::Adam<float>;
using SgdD = descent::SGD<double>;

namespace {

/// Steps trainer and a single-process Opt side by side; REQUIREs equal bits
/// after every step and the same params on every rank.
template <typename Trainer>
void check_against_single(Trainer& trainer, Eigen::Index n, int steps) {
  using S = typename Trainer::Scalar;
  using Opt = std::remove_reference_t<decltype(trainer.optimizer())>;
  const int p = trainer.size();
  Opt single(trainer.optimizer().options());
  Vec<S> x = start<S>(n), y = start<S>(n);
  for (int t = 0; t < steps; ++t) {
    trainer.step(x, gradient<S>(trainer.rank(), t, n));
    single.step(y, rank_order_mean<S>(p, t, n));
    INFO("n " << n << ", step " << t);
    REQUIRE(same_bits(x, y));
    REQUIRE(same_on_every_rank(x));
  }
  REQUIRE(trainer.optimizer().iterations() == steps);
}

}  // namespace

TEST_CASE("mpi: a step is a single-process step on the rank-order mean, bit for bit") {
  const int p = world_size();
  for (const Eigen::Index n : {3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 191, 1023, 4099, 70001}) {
    if (n < p) continue;
    // Point-to-point in buckets of 5 elements and of the default size, and
    // through shared memory (the ranks of these tests share one node).
    for (const std::size_t bucket : {std::size_t(20), std::size_t(4) << 20, std::size_t(0)}) {
      const bool shared = bucket == 0;
      descent::mpi::DataParallel<AdamF> dp(MPI_COMM_WORLD, AdamF::Options{0.01f});
      descent::mpi::Sharded<AdamF> sharded(MPI_COMM_WORLD, AdamF::Options{0.01f});
      dp.set_shared_memory(shared);
      sharded.set_shared_memory(shared);
      if (!shared) {
        dp.set_bucket_bytes(bucket);
        sharded.set_bucket_bytes(bucket);
      }
      REQUIRE(sharded.shared_memory() == (shared && p > 1));
      check_against_single(dp, n, 4);
      check_against_single(sharded, n, 4);
    }
  }
  // SGD in double with Nesterov momentum and weight decay; one parameter
  // for DataParallel.
  SgdD::Options o{0.05, 0.9, true};
  o.weight_decay = 0.01;
  descent::mpi::DataParallel<SgdD> one(MPI_COMM_WORLD, o);
  check_against_single(one, 1, 3);
  descent::mpi::Sharded<SgdD> sgd(MPI_COMM_WORLD, o);
  sgd.set_bucket_bytes(24);
  check_against_single(sgd, 1000, 5);
}

TEST_CASE("mpi: Sharded keeps its shard's state: contiguous shards that cover the parameters") {
  const int p = world_size(), me = world_rank();
  const Eigen::Index n = 100000;
  descent::mpi::Sharded<AdamF> sharded(MPI_COMM_WORLD);
  REQUIRE(sharded.shard() == std::pair<Eigen::Index, Eigen::Index>(0, 0));
  Vec<float> x = start<float>(n);
  sharded.step(x, gradient<float>(me, 0, n));
  const auto [begin, end] = sharded.shard();
  REQUIRE(sharded.optimizer().state_size() == end - begin);
  REQUIRE(begin % 64 == 0);
  std::int64_t bounds[2] = {begin, end}, all[6] = {};
  MPI_Allgather(bounds, 2, MPI_INT64_T, all, 2, MPI_INT64_T, MPI_COMM_WORLD);
  REQUIRE(all[0] == 0);
  for (int r = 1; r < p; ++r) REQUIRE(all[2 * r] == all[2 * r - 1]);
  REQUIRE(all[2 * p - 1] == n);
  REQUIRE(end - begin <= n / p + 64);

  descent::mpi::DataParallel<AdamF> dp(MPI_COMM_WORLD);
  Vec<float> y = start<float>(n);
  dp.step(y, gradient<float>(me, 0, n));
  REQUIRE(dp.optimizer().state_size() == n);
  REQUIRE(same_bits(x, y));
  // Through shared memory both hold N scalars: the rank's gradient outside
  // its shard, and the shard's mean.
  if (p > 1) {
    REQUIRE(dp.buffer_bytes() == std::size_t(n) * sizeof(float));
    REQUIRE(sharded.buffer_bytes() == std::size_t(n) * sizeof(float));
  }
  // Point-to-point, the mean buffer is all of it for DataParallel, the
  // shard for Sharded, and the receive ring two buckets a peer.
  descent::mpi::DataParallel<AdamF> dp2(MPI_COMM_WORLD);
  descent::mpi::Sharded<AdamF> sharded2(MPI_COMM_WORLD);
  dp2.set_shared_memory(false);
  sharded2.set_shared_memory(false);
  Vec<float> z = start<float>(n), w = z;
  dp2.step(z, gradient<float>(me, 0, n));
  sharded2.step(w, gradient<float>(me, 0, n));
  REQUIRE(same_bits(x, z));
  REQUIRE(same_bits(x, w));
  const std::size_t ring = 2 * std::size_t(p - 1) * std::size_t(end - begin) * sizeof(float);
  REQUIRE(dp2.buffer_bytes() == std::size_t(n) * sizeof(float) + ring);
  REQUIRE(sharded2.buffer_bytes() == std::size_t(end - begin) * sizeof(float) + ring);
}

TEST_CASE("mpi: params and grad of any contiguous Eigen type, grad expressions") {
  const int p = world_size(), me = world_rank();
  using M = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  descent::mpi::Sharded<SgdD> sharded(MPI_COMM_WORLD, SgdD::Options{0.1, 0.5});
  descent::mpi::DataParallel<SgdD> dp(MPI_COMM_WORLD, SgdD::Options{0.1, 0.5});
  SgdD single(SgdD::Options{0.1, 0.5});
  M a = M::Constant(6, 5, 0.5), b = a;
  Vec<double> c = Vec<double>::Constant(30, 0.5);
  for (int t = 0; t < 3; ++t) {
    const Vec<double> g = gradient<double>(me, t, 30);
    const Eigen::Map<const M> gm(g.data(), 6, 5);
    sharded.step(a, gm * 2.0);                      // an expression
    dp.step(b.middleRows(0, 6), gm.array() * 2.0);  // a block of whole rows, an array expression
    single.step(c, rank_order_mean<double>(p, t, 30) * 2.0);
  }
  REQUIRE(same_bits(Eigen::Map<const Vec<double>>(a.data(), 30), c));
  REQUIRE(same_bits(Eigen::Map<const Vec<double>>(b.data(), 30), c));
}

TEST_CASE("mpi: a scheduler on every rank drives optimizer() as it drives a single optimizer") {
  const int p = world_size(), me = world_rank();
  const Eigen::Index n = 500;
  descent::mpi::Sharded<AdamF> sharded(MPI_COMM_WORLD, AdamF::Options{0.1f});
  descent::StepLR<float> schedule(sharded.optimizer(), 2, 0.5f);
  AdamF single(AdamF::Options{0.1f});
  descent::StepLR<float> single_schedule(single, 2, 0.5f);
  Vec<float> x = start<float>(n), y = x;
  for (int t = 0; t < 7; ++t) {
    sharded.step(x, gradient<float>(me, t, n));
    schedule.step();
    single.step(y, rank_order_mean<float>(p, t, n));
    single_schedule.step();
  }
  REQUIRE(sharded.optimizer().lr() == single.lr());
  REQUIRE(same_bits(x, y));
}

TEST_CASE("mpi: clipping by the global norm of the mean") {
  const int p = world_size(), me = world_rank();
  for (const double norm_type : {2.0, 1.0, 3.0, std::numeric_limits<double>::infinity()}) {
    INFO("norm_type " << norm_type);
    const Eigen::Index n = 777;
    descent::mpi::ClipGradNorm clip{0.5, {norm_type, false}};
    descent::mpi::DataParallel<AdamF> dp(MPI_COMM_WORLD);
    descent::mpi::Sharded<AdamF> sharded(MPI_COMM_WORLD);
    sharded.set_bucket_bytes(100);
    AdamF single;
    Vec<float> x = start<float>(n), y = x, z = x;
    for (int t = 0; t < 3; ++t) {
      const double a = dp.step(x, gradient<float>(me, t, n), clip);
      const double b = sharded.step(y, gradient<float>(me, t, n), clip);
      REQUIRE(a == b);
      Vec<float> mean = rank_order_mean<float>(p, t, n);
      const double c =
          descent::clip_grad_norm(0.5, descent::ClipGradNormOptions{norm_type, false}, mean);
      REQUIRE_THAT(a, Catch::Matchers::WithinRel(c, 1e-13));
      single.step(z, mean);
      REQUIRE(same_bits(x, y));
      // The norm may differ from a single process's in its last bits; the
      // float factor it gives is the same.
      REQUIRE(same_bits(x, z));
    }
  }
  // A non-finite norm with error_if_nonfinite: refused on every rank.
  descent::mpi::Sharded<AdamF> sharded(MPI_COMM_WORLD);
  Vec<float> x = start<float>(64 * p), before = x;
  Vec<float> g = gradient<float>(me, 0, x.size());
  if (me == p - 1) g(3) = std::numeric_limits<float>::infinity();
  REQUIRE_THROWS_WITH(sharded.step(x, g, descent::mpi::ClipGradNorm{1.0, {2.0, true}}),
                      Catch::Matchers::Contains("norm of the mean gradient is inf"));
  REQUIRE(same_bits(x, before));
  REQUIRE(sharded.optimizer().iterations() == 0);
}

TEST_CASE("mpi: with set_threads(2) the steps are the same") {
  const int p = world_size(), me = world_rank();
  const Eigen::Index n = 70000 * p;
  descent::mpi::Sharded<AdamF> sharded(MPI_COMM_WORLD), sharded2(MPI_COMM_WORLD);
  descent::mpi::DataParallel<AdamF> dp(MPI_COMM_WORLD);
  sharded.optimizer().set_threads(2);
  sharded2.optimizer().set_threads(2);
  sharded2.set_shared_memory(false);
  dp.optimizer().set_threads(2);
  AdamF single;
  Vec<float> x = start<float>(n), y = x, z = x, w = x;
  for (int t = 0; t < 2; ++t) {
    sharded.step(x, gradient<float>(me, t, n));
    sharded2.step(w, gradient<float>(me, t, n));
    dp.step(y, gradient<float>(me, t, n));
    single.step(z, rank_order_mean<float>(p, t, n));
  }
  REQUIRE(same_bits(x, z));
  REQUIRE(same_bits(w, z));
  REQUIRE(same_bits(y, z));
}
