#pragma once
/// \file
/// The worker threads behind Optimizer::set_threads: a fixed set of threads
/// that run the chunks of one step together with the calling thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#endif

namespace descent::detail {

/// A hint to the core that this thread is spinning.
inline void spin_pause() noexcept {
#if defined(__SSE2__) || defined(_M_X64)
  _mm_pause();
#endif
}

/// Runs task(k) for k = 0 … workers, k = 0 on the calling thread, and waits
/// for all of them. Between jobs the workers spin briefly (steps of a
/// training loop come back to back) and then sleep on a condition variable,
/// so an idle pool costs no CPU. One job at a time: a pool belongs to one
/// optimizer, which steps on one thread at a time.
class ThreadPool {
 public:
  explicit ThreadPool(int workers) {
    threads_.reserve(static_cast<std::size_t>(workers));
    try {
      for (int k = 1; k <= workers; ++k) threads_.emplace_back([this, k] { work(k); });
    } catch (...) {
      stop();
      throw;
    }
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() { stop(); }

  int workers() const noexcept { return static_cast<int>(threads_.size()); }

  template <typename Task>
  void run(const Task& task) noexcept {
    job_ = [](const void* context, int k) { (*static_cast<const Task*>(context))(k); };
    context_ = &task;
    pending_.store(workers(), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    task(0);
    for (int spin = 0; spin < kSpins && pending_.load(std::memory_order_acquire) != 0; ++spin) {
      spin_pause();
    }
    if (pending_.load(std::memory_order_acquire) != 0) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    }
  }

 private:
  static constexpr int kSpins = 4000;

  void work(int k) {
    std::uint64_t seen = 0;
    for (;;) {
      for (int spin = 0; spin < kSpins && generation_.load(std::memory_order_acquire) == seen;
           ++spin) {
        spin_pause();
      }
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        seen = generation_.load(std::memory_order_acquire);
        if (stopping_) return;
      }
      job_(context_, k);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_one();
      }
    }
  }

  void stop() noexcept {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stopping_ = false;
  void (*job_)(const void*, int) = nullptr;
  const void* context_ = nullptr;
};

/// An optimizer's pool, made on demand. Copies start without one: threads
/// are not shared between optimizers.
class PoolHandle {
 public:
  PoolHandle() = default;
  PoolHandle(const PoolHandle&) noexcept {}
  PoolHandle& operator=(const PoolHandle&) noexcept { return *this; }
  PoolHandle(PoolHandle&&) noexcept = default;
  PoolHandle& operator=(PoolHandle&&) noexcept = default;

  /// Makes sure a pool of exactly `workers` threads exists.
  void reserve(int workers) {
    if (!pool_ || pool_->workers() != workers) {
      pool_.reset();
      pool_ = std::make_unique<ThreadPool>(workers);
    }
  }

  ThreadPool* get() const noexcept { return pool_.get(); }

 private:
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace descent::detail
