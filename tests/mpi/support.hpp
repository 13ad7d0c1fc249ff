#pragma once
// What the MPI tests share: gradients every rank can compute for every rank,
// the rank-order mean a single process forms from them, communicators of
// each size, and a check that a value is the same on every rank.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <catch2/catch.hpp>
#include <descent/adam.hpp>
#include <descent/mpi.hpp>
#include <descent/sgd.hpp>
#include <mpi.h>
#include <unistd.h>

namespace mpi_support {

template <typename S>
using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;

inline int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
inline int world_size() {
  int p = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &p);
  return p;
}

/// Rank r's gradient at step t: the same values wherever it is computed,
/// different for every rank, of magnitudes that make rounding matter.
template <typename S>
Vec<S> gradient(int r, int t, Eigen::Index n) {
  Vec<S> g(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    g(i) = static_cast<S>(std::sin(0.37 * double(i) + 1.3 * r + 0.71 * t) * (1.0 + 0.1 * r) +
                          1e-3 * double((i * 7919 + r * 104729 + t) % 1000) / 7.0);
  }
  return g;
}

/// ((g₀ + g₁) + … + g_{P−1}) / P, the way the contract states it.
template <typename S>
Vec<S> rank_order_mean(int p, int t, Eigen::Index n) {
  Vec<S> sum = gradient<S>(0, t, n);
  for (int r = 1; r < p; ++r) {
    const Vec<S> g = gradient<S>(r, t, n);
    for (Eigen::Index i = 0; i < n; ++i) sum(i) = sum(i) + g(i);
  }
  for (Eigen::Index i = 0; i < n; ++i) sum(i) = sum(i) / S(p);
  return sum;
}

template <typename S>
Vec<S> start(Eigen::Index n) {
  return Vec<S>::LinSpaced(n, S(-1), S(1));
}

/// Bitwise equality of two vectors.
template <typename A, typename B>
bool same_bits(const A& a, const B& b) {
  return a.size() == b.size() &&
         (a.size() == 0 ||
          std::memcmp(a.data(), b.data(), std::size_t(a.size()) * sizeof(a(0))) == 0);
}

/// True on every rank if x holds the same bytes on every rank of comm.
template <typename V>
bool same_on_every_rank(const V& x, MPI_Comm comm = MPI_COMM_WORLD) {
  std::int64_t n = x.size();
  std::vector<unsigned char> root(std::size_t(n) * sizeof(x(0)));
  if (n > 0) std::memcpy(root.data(), x.data(), root.size());
  MPI_Bcast(root.data(), int(root.size()), MPI_BYTE, 0, comm);
  int mine = n == 0 || std::memcmp(root.data(), x.data(), root.size()) == 0;
  int all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_LAND, comm);
  return all != 0;
}

/// The ranks 0 … p − 1 of the world in a communicator (MPI_COMM_NULL on the
/// others), freed with the object.
class SubComm {
 public:
  explicit SubComm(int p) {
    MPI_Comm_split(MPI_COMM_WORLD, world_rank() < p ? 0 : MPI_UNDEFINED, world_rank(), &comm_);
  }
  SubComm(const SubComm&) = delete;
  SubComm& operator=(const SubComm&) = delete;
  ~SubComm() {
    if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  }
  MPI_Comm get() const { return comm_; }
  bool member() const { return comm_ != MPI_COMM_NULL; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

/// A file name every rank agrees on, unique to this run.
inline std::string shared_path(const std::string& stem) {
  std::int64_t id = 0;
  if (world_rank() == 0) id = std::int64_t(::getpid());
  MPI_Bcast(&id, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
  return "descent_mpi_test_" + stem + "_" + std::to_string(id) + "_np" +
         std::to_string(world_size()) + ".ckpt";
}

}  // namespace mpi_support
