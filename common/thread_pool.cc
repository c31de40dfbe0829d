#include "common/thread_pool.h"

#include <stdexcept>
#include <string>

namespace metajoule {

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads < 0) {
    throw std::invalid_argument("ThreadPool: expected num_threads >= 0, got " +
                                std::to_string(num_threads));
  }
  if (num_threads == 0) num_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int t = 1; t < num_threads; ++t) {
    workers_.emplace_back([this, t] { WorkerLoop(t); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::RunItems(int thread_index) {
  for (;;) {
    std::size_t item;
    const std::function<void(std::size_t, int)>* job;
    {
      std::lock_guard lock(mutex_);
      if (next_item_ >= job_count_ || first_error_) return;
      item = next_item_++;
      job = job_;
    }
    try {
      (*job)(item, thread_index);
    } catch (...) {
      std::lock_guard lock(mutex_);
      if (!first_error_) first_error_ = std::current_exception();
    }
  }
}

void ThreadPool::WorkerLoop(int thread_index) {
  std::size_t seen_generation = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || generation_ != seen_generation; });
      if (stopping_) return;
      seen_generation = generation_;
      ++busy_workers_;
    }
    RunItems(thread_index);
    {
      std::lock_guard lock(mutex_);
      --busy_workers_;
    }
    work_done_.notify_all();
  }
}

void ThreadPool::ParallelFor(std::size_t count, const std::function<void(std::size_t, int)>& fn) {
  if (count == 0) return;
  if (workers_.empty() || count == 1) {
    for (std::size_t i = 0; i < count; ++i) fn(i, 0);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    job_ = &fn;
    job_count_ = count;
    next_item_ = 0;
    first_error_ = nullptr;
    ++generation_;
  }
  work_ready_.notify_all();
  RunItems(0);
  std::exception_ptr error;
  {
    std::unique_lock lock(mutex_);
    // every item has been handed out; wait for the workers still running theirs
    work_done_.wait(lock, [&] { return busy_workers_ == 0; });
    job_ = nullptr;
    job_count_ = 0;
    error = first_error_;
    first_error_ = nullptr;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace metajoule
