#pragma once
/// \file
/// The communication under descent::mpi: a private duplicate of the caller's
/// communicator, the contiguous shards, the bucketed exchange that reduces
/// every rank's gradient to the mean in rank order on the shard's owner, the
/// allgather of shards, the small agreements that keep every rank deciding
/// alike, and the transfer of byte strings (checkpoints).

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <mpi.h>

namespace descent::detail::mpi {

using Index = Eigen::Index;

template <typename S>
MPI_Datatype datatype();
template <>
inline MPI_Datatype datatype<float>() {
  return MPI_FLOAT;
}
template <>
inline MPI_Datatype datatype<double>() {
  return MPI_DOUBLE;
}

constexpr int kTagGrad = 1;    // pieces of a gradient, to the shard's owner
constexpr int kTagShard = 2;   // pieces of a reduced shard (mean or params), to every rank
constexpr int kTagBytes = 3;   // checkpoints
constexpr Index kAlign = 64;   // shard boundaries fall on multiples of this where they can
constexpr int kRingDepth = 2;  // buckets of a shard in flight to its owner at once

/// First element of rank r's shard of n elements over p ranks (r = p gives
/// n). With at least 64 elements a rank, boundaries are multiples of 64, so
/// every element of a shard takes the same place in the SIMD loop as in a
/// step over the whole vector; the last shard takes the remainder. Every
/// shard is non-empty when n >= p.
inline Index shard_begin(Index n, int p, int r) {
  if (r >= p) return n;
  if (n >= Index(p) * kAlign) return Index(r) * (n / kAlign) / p * kAlign;
  return Index(r) * n / p;
}

/// A duplicate of the caller's communicator, freed with the object (unless
/// MPI is finalised by then), so descent's messages never meet the caller's.
class Communicator {
 public:
  Communicator(MPI_Comm comm, const std::string& who) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized) {
      throw std::logic_error(who +
                             ": MPI is not initialised (call MPI_Init or MPI_Init_thread first, "
                             "and MPI_Finalize only after the object is gone)");
    }
    if (comm == MPI_COMM_NULL) throw std::invalid_argument(who + ": the communicator is null");
    MPI_Comm_dup(comm, &comm_);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  Communicator(Communicator&& other) noexcept
      : comm_(std::exchange(other.comm_, MPI_COMM_NULL)), rank_(other.rank_), size_(other.size_) {}
  Communicator& operator=(Communicator&& other) noexcept {
    if (this != &other) {
      release();
      comm_ = std::exchange(other.comm_, MPI_COMM_NULL);
      rank_ = other.rank_;
      size_ = other.size_;
    }
    return *this;
  }
  ~Communicator() { release(); }

  MPI_Comm get() const noexcept { return comm_; }
  int rank() const noexcept { return rank_; }
  int size() const noexcept { return size_; }

 private:
  void release() noexcept {
    int finalized = 1;
    MPI_Finalized(&finalized);
    if (comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
    comm_ = MPI_COMM_NULL;
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

/// True when every rank of comm can address the others' memory
/// (MPI_Comm_split_type with MPI_COMM_TYPE_SHARED keeps them all
/// together: one node). Collective.
inline bool on_one_node(MPI_Comm comm) {
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int node_size = 0, size = 0;
  MPI_Comm_size(node, &node_size);
  MPI_Comm_size(comm, &size);
  MPI_Comm_free(&node);
  return node_size == size;
}

/// Memory every rank of a node can read (MPI_Win_allocate_shared): a
/// segment of its own size on every rank, in one passive-target epoch.
/// Between one rank's writes and another's reads stands sync(). Allocating
/// and freeing are collective: the object must be destroyed on every rank.
template <typename S>
class SharedWindow {
 public:
  SharedWindow() = default;
  SharedWindow(const SharedWindow&) = delete;
  SharedWindow& operator=(const SharedWindow&) = delete;
  SharedWindow(SharedWindow&& other) noexcept
      : win_(std::exchange(other.win_, MPI_WIN_NULL)),
        count_(std::exchange(other.count_, 0)),
        bases_(std::move(other.bases_)) {}
  SharedWindow& operator=(SharedWindow&& other) noexcept {
    if (this != &other) {
      release();
      win_ = std::exchange(other.win_, MPI_WIN_NULL);
      count_ = std::exchange(other.count_, 0);
      bases_ = std::move(other.bases_);
    }
    return *this;
  }
  ~SharedWindow() { release(); }

  /// Collective over comm: count elements on this rank (kept if the
  /// window has them already; the ranks must agree on whether it does).
  /// With `contiguous`, rank r + 1's segment follows rank r's in the
  /// address space of every rank, as MPI places them by default.
  void allocate(MPI_Comm comm, Index count, bool contiguous) {
    if (win_ != MPI_WIN_NULL && count == count_) return;
    release();
    int p = 1;
    MPI_Comm_size(comm, &p);
    MPI_Info info = MPI_INFO_NULL;
    if (!contiguous) {
      MPI_Info_create(&info);
      MPI_Info_set(info, "alloc_shared_noncontig", "true");
    }
    S* base = nullptr;
    MPI_Win_allocate_shared(MPI_Aint(count) * MPI_Aint(sizeof(S)), int(sizeof(S)), info, comm,
                            &base, &win_);
    if (info != MPI_INFO_NULL) MPI_Info_free(&info);
    bases_.assign(std::size_t(p), nullptr);
    for (int r = 0; r < p; ++r) {
      MPI_Aint bytes = 0;
      int unit = 0;
      MPI_Win_shared_query(win_, r, &bytes, &unit, &bases_[std::size_t(r)]);
    }
    MPI_Win_lock_all(MPI_MODE_NOCHECK, win_);
    count_ = count;
  }

  /// Rank r's segment.
  S* of(int r) const noexcept { return bases_[std::size_t(r)]; }
  /// Bytes of this rank's segment.
  std::size_t bytes() const noexcept { return std::size_t(count_) * sizeof(S); }
  /// This rank's writes to the window reach memory (MPI_Win_sync).
  void flush() const noexcept { MPI_Win_sync(win_); }

 private:
  void release() noexcept {
    int finalized = 1;
    MPI_Finalized(&finalized);
    if (win_ != MPI_WIN_NULL && !finalized) {
      MPI_Win_unlock_all(win_);
      MPI_Win_free(&win_);
    }
    win_ = MPI_WIN_NULL;
    count_ = 0;
    bases_.clear();
  }

  MPI_Win win_ = MPI_WIN_NULL;
  Index count_ = 0;
  std::vector<S*> bases_;
};

/// Makes every rank's writes to a and b before it visible to every rank's
/// reads after it: MPI_Win_sync, a barrier, MPI_Win_sync. Collective.
template <typename S>
void sync(MPI_Comm comm, const SharedWindow<S>& a, const SharedWindow<S>& b) {
  a.flush();
  b.flush();
  MPI_Barrier(comm);
  a.flush();
  b.flush();
}

/// Every rank's copy of the same k int64 values, rank after rank.
inline std::vector<std::int64_t> allgather(const std::vector<std::int64_t>& mine, MPI_Comm comm) {
  int p = 1;
  MPI_Comm_size(comm, &p);
  std::vector<std::int64_t> all(mine.size() * std::size_t(p));
  MPI_Allgather(mine.data(), int(mine.size()), MPI_INT64_T, all.data(), int(mine.size()),
                MPI_INT64_T, comm);
  return all;
}

inline std::int64_t bits_of(double d) {
  std::int64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}
inline double double_of(std::int64_t b) {
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}

/// "rank 0: a; ranks 1, 2: b": every rank with the text of its value, ranks
/// of equal text together.
template <typename Text>
std::string by_rank(int p, const Text& text) {
  std::vector<std::pair<std::string, std::vector<int>>> groups;
  for (int r = 0; r < p; ++r) {
    const std::string t = text(r);
    auto it =
        std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == t; });
    if (it == groups.end()) {
      groups.push_back({t, {r}});
    } else {
      it->second.push_back(r);
    }
  }
  std::string out;
  for (const auto& [t, ranks] : groups) {
    if (!out.empty()) out += "; ";
    out += ranks.size() == 1 ? "rank " : "ranks ";
    for (std::size_t k = 0; k < ranks.size(); ++k) {
      out += (k ? ", " : "") + std::to_string(ranks[k]);
    }
    out += ": " + t;
  }
  return out;
}

/// Sends s to dest (its length, then ≤ 1 GiB pieces).
inline void send_bytes(const std::string& s, int dest, MPI_Comm comm) {
  const auto n = static_cast<std::uint64_t>(s.size());
  MPI_Send(&n, 1, MPI_UINT64_T, dest, kTagBytes, comm);
  for (std::size_t at = 0; at < s.size(); at += std::size_t{1} << 30) {
    const int piece = int(std::min(s.size() - at, std::size_t{1} << 30));
    MPI_Send(s.data() + at, piece, MPI_BYTE, dest, kTagBytes, comm);
  }
}

/// What send_bytes sent from source.
inline std::string recv_bytes(int source, MPI_Comm comm) {
  std::uint64_t n = 0;
  MPI_Recv(&n, 1, MPI_UINT64_T, source, kTagBytes, comm, MPI_STATUS_IGNORE);
  std::string s(static_cast<std::size_t>(n), '\0');
  for (std::size_t at = 0; at < s.size(); at += std::size_t{1} << 30) {
    const int piece = int(std::min(s.size() - at, std::size_t{1} << 30));
    MPI_Recv(&s[at], piece, MPI_BYTE, source, kTagBytes, comm, MPI_STATUS_IGNORE);
  }
  return s;
}

/// root's s, on every rank.
inline void broadcast_bytes(std::string& s, int root, MPI_Comm comm) {
  auto n = static_cast<std::uint64_t>(s.size());
  MPI_Bcast(&n, 1, MPI_UINT64_T, root, comm);
  s.resize(static_cast<std::size_t>(n));
  for (std::size_t at = 0; at < s.size(); at += std::size_t{1} << 30) {
    const int piece = int(std::min(s.size() - at, std::size_t{1} << 30));
    MPI_Bcast(&s[at], piece, MPI_BYTE, root, comm);
  }
}

/// "" on every rank if every rank's error is "", else the error of the
/// lowest rank that has one, on every rank.
inline std::string first_error(const std::string& mine, MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const std::vector<std::int64_t> failed = allgather({mine.empty() ? 0 : 1}, comm);
  const auto it = std::find(failed.begin(), failed.end(), 1);
  if (it == failed.end()) return "";
  const int root = int(it - failed.begin());
  std::string error = rank == root ? mine : std::string();
  broadcast_bytes(error, root, comm);
  return error;
}

/// out[i] = ((src[0][i] + src[1][i]) + … + src[p−1][i]) / p: the sum in rank
/// order, then one division, whatever the MPI implementation. In chunks
/// that stay in L1 between the passes over the sources. out may be src[0]
/// or src[1]: every element of those is read before it is written.
template <typename S>
void rank_order_mean(S* out, const S* const* src, int p, Index len) {
  const S divisor = S(p);
  constexpr Index kChunk = 2048;
  for (Index c = 0; c < len; c += kChunk) {
    const Index m = std::min(kChunk, len - c);
    S* o = out + c;
    if (p == 1) {
      const S* a = src[0] + c;
      for (Index i = 0; i < m; ++i) o[i] = a[i] / divisor;
      continue;
    }
    const S* a = src[0] + c;
    const S* b = src[1] + c;
    if (p == 2) {
      for (Index i = 0; i < m; ++i) o[i] = (a[i] + b[i]) / divisor;
      continue;
    }
    for (Index i = 0; i < m; ++i) o[i] = a[i] + b[i];
    for (int r = 2; r + 1 < p; ++r) {
      const S* s = src[r] + c;
      for (Index i = 0; i < m; ++i) o[i] += s[i];
    }
    const S* last = src[p - 1] + c;
    for (Index i = 0; i < m; ++i) o[i] = (o[i] + last[i]) / divisor;
  }
}

/// The bucketed exchange; keeps its buffers and request lists from step to
/// step, so that steps after the first allocate nothing.
template <typename S>
class Exchange {
 public:
  /// Bytes held by the receive ring.
  std::size_t buffer_bytes() const noexcept { return ring_.capacity() * sizeof(S); }

  /// Reduces the shard of rank `me` of every rank's g (n elements, shards
  /// of shard_begin) to its rank-order mean, written to out + offset
  /// (offset: where the shard starts in out): start_reduce, then
  /// reduce_bucket for every bucket in order, then finish. With `share`,
  /// every reduced bucket is sent on to every peer and the peers' reduced
  /// shards are received into out (a vector of n), so all of the mean ends
  /// on every rank.
  void reduce(MPI_Comm comm, const S* g, Index n, Index bucket, S* out, Index offset, bool share) {
    start_reduce(comm, g, n, bucket);
    if (share) receive_shards(out);
    for (Index k = 0; k < buckets(); ++k) {
      reduce_bucket(k, out + offset, [](Index, Index) {});
      if (share) send_bucket(k, out + offset);
    }
    finish();
  }

  /// Begins a reduction: each rank sends its pieces of the other shards to
  /// their owners in buckets of at most `bucket` elements; the owner
  /// receives them into a ring of kRingDepth buckets per peer and reduces
  /// each bucket (reduce_bucket) while the next ones arrive.
  void start_reduce(MPI_Comm comm, const S* g, Index n, Index bucket) {
    use(comm, n, bucket);
    g_ = g;
    const int peers = p_ - 1;
    slot_stride_ = std::min(bucket, end_ - begin_);
    ring_.resize(std::size_t(kRingDepth) * std::size_t(peers) * std::size_t(slot_stride_));
    recvs_.assign(std::size_t(kRingDepth) * std::size_t(peers), MPI_REQUEST_NULL);
    sources_.resize(std::size_t(p_));

    // This rank's pieces of the other shards, to their owners, bucket k of
    // every peer before bucket k + 1 of any.
    Index most = 0;
    for (int d = 1; d < p_; ++d) {
      const int s = (me_ + d) % p_;
      most = std::max(most, shard_begin(n, p_, s + 1) - shard_begin(n, p_, s));
    }
    for (Index k = 0; k * bucket < most; ++k) {
      for (int d = 1; d < p_; ++d) {
        const int s = (me_ + d) % p_;
        const Index b = shard_begin(n, p_, s) + k * bucket, e = shard_begin(n, p_, s + 1);
        if (b >= e) continue;
        sends_.push_back(MPI_REQUEST_NULL);
        MPI_Isend(g + b, int(std::min(bucket, e - b)), datatype<S>(), s, kTagGrad, comm,
                  &sends_.back());
      }
    }
    for (Index k = 0; k < std::min<Index>(kRingDepth, buckets()); ++k) post(k);
  }

  /// The number of buckets of this rank's shard.
  Index buckets() const noexcept { return (end_ - begin_ + bucket_ - 1) / bucket_; }

  /// Waits for the peers' pieces of bucket k and writes their rank-order
  /// mean to shard + [lo, hi) (0 being the shard's first element), in
  /// pieces small enough to stay in cache, calling done(lo', hi') after
  /// each piece, while it is there.
  template <typename Done>
  void reduce_bucket(Index k, S* shard, const Done& done) {
    const int peers = p_ - 1;
    const auto [lo, hi] = bucket_range(k);
    const std::size_t slot = std::size_t(k % kRingDepth);
    if (peers > 0) MPI_Waitall(peers, &recvs_[slot * std::size_t(peers)], MPI_STATUSES_IGNORE);
    constexpr Index kPiece = 32768;
    for (Index c = lo; c < hi; c += kPiece) {
      const Index len = std::min(kPiece, hi - c);
      for (int r = 0; r < p_; ++r) {
        const int j = (r - me_ - 1 + p_) % p_;  // the peer's place in the slot
        sources_[std::size_t(r)] = r == me_ ? g_ + begin_ + c : ring(slot, j) + (c - lo);
      }
      rank_order_mean(shard + c, sources_.data(), p_, len);
      done(c, c + len);
    }
    if (k + kRingDepth < buckets()) post(k + kRingDepth);
  }

  /// Sends bucket k of shard (its mean, or its stepped parameters; 0 being
  /// the shard's first element) to every peer, whose receive_shards takes it.
  void send_bucket(Index k, const S* shard) {
    const auto [lo, hi] = bucket_range(k);
    for (int d = 1; d < p_; ++d) {
      shares_.push_back(MPI_REQUEST_NULL);
      MPI_Isend(shard + lo, int(hi - lo), datatype<S>(), (me_ + d) % p_, kTagShard, comm_,
                &shares_.back());
    }
  }

  /// Posts the receipt of every peer's shard, bucket by bucket as the peer
  /// sends them, into out (a vector of n).
  void receive_shards(S* out) {
    for (int d = 1; d < p_; ++d) {
      const int s = (me_ + d) % p_;
      const Index sb = shard_begin(n_, p_, s), se = shard_begin(n_, p_, s + 1);
      for (Index b = sb; b < se; b += bucket_) {
        shares_.push_back(MPI_REQUEST_NULL);
        MPI_Irecv(out + b, int(std::min(bucket_, se - b)), datatype<S>(), s, kTagShard, comm_,
                  &shares_.back());
      }
    }
  }

  /// Returns once everything sent has gone and everything posted arrived.
  void finish() {
    MPI_Waitall(int(sends_.size()), sends_.data(), MPI_STATUSES_IGNORE);
    MPI_Waitall(int(shares_.size()), shares_.data(), MPI_STATUSES_IGNORE);
    sends_.clear();
    shares_.clear();
  }

  /// Every rank's shard of x (n elements) to every other rank, in place, in
  /// buckets.
  void allgather(MPI_Comm comm, S* x, Index n, Index bucket) {
    use(comm, n, bucket);
    receive_shards(x);
    for (Index k = 0; k < buckets(); ++k) send_bucket(k, x + begin_);
    finish();
  }

 private:
  void use(MPI_Comm comm, Index n, Index bucket) {
    comm_ = comm;
    n_ = n;
    bucket_ = bucket;
    MPI_Comm_rank(comm, &me_);
    MPI_Comm_size(comm, &p_);
    begin_ = shard_begin(n, p_, me_);
    end_ = shard_begin(n, p_, me_ + 1);
  }

  // [begin, end) of bucket k within this rank's shard.
  std::pair<Index, Index> bucket_range(Index k) const noexcept {
    return {k * bucket_, std::min((k + 1) * bucket_, end_ - begin_)};
  }

  // Where peer j's piece of a bucket in ring slot `slot` is received.
  S* ring(std::size_t slot, int j) {
    return ring_.data() + (slot * std::size_t(p_ - 1) + std::size_t(j)) * std::size_t(slot_stride_);
  }

  // Posts the receipt of the peers' pieces of bucket k into its ring slot.
  void post(Index k) {
    const auto [lo, hi] = bucket_range(k);
    const std::size_t slot = std::size_t(k % kRingDepth);
    for (int j = 0; j < p_ - 1; ++j) {
      MPI_Irecv(ring(slot, j), int(hi - lo), datatype<S>(), (me_ + 1 + j) % p_, kTagGrad, comm_,
                &recvs_[slot * std::size_t(p_ - 1) + std::size_t(j)]);
    }
  }

  std::vector<S> ring_;
  std::vector<MPI_Request> sends_, recvs_, shares_;
  std::vector<const S*> sources_;
  // The exchange under way.
  MPI_Comm comm_ = MPI_COMM_NULL;
  const S* g_ = nullptr;
  Index n_ = 0, bucket_ = 1, begin_ = 0, end_ = 0, slot_stride_ = 0;
  int me_ = 0, p_ = 1;
};

}  // namespace descent::detail::mpi
