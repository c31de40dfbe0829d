#pragma once
// A fixed pool of worker threads that runs index ranges in parallel. Work items must be
// independent of one another (each owns its state, e.g. one mjData per environment); results
// then do not depend on the number of threads or on scheduling.

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace metajoule {

class ThreadPool {
 public:
  /// Starts `num_threads - 1` workers; the calling thread is the last worker. `num_threads`
  /// of 0 means std::thread::hardware_concurrency(). Throws std::invalid_argument if negative.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  /// Calls fn(i, thread_index) for every i in [0, count), spread over the threads, and returns
  /// when all calls are done. thread_index is in [0, num_threads()). Items are handed out in
  /// order from a shared counter. If a call throws, the first exception is rethrown here after
  /// every started call has finished. Not re-entrant: call it from one thread at a time.
  void ParallelFor(std::size_t count, const std::function<void(std::size_t, int)>& fn);

 private:
  void WorkerLoop(int thread_index);
  void RunItems(int thread_index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  const std::function<void(std::size_t, int)>* job_{nullptr};
  std::size_t job_count_{0};
  std::size_t next_item_{0};
  std::size_t generation_{0};
  int busy_workers_{0};
  bool stopping_{false};
  std::exception_ptr first_error_;
};

}  // namespace metajoule
