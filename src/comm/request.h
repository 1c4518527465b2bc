// An asynchronous operation's completion, shared by the caller (braidRequest_t) and the
// communicator's progress thread. Outlives the communicator if the user waits late.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>

#include "core/status.h"

namespace braid {

class Request {
 public:
  explicit Request(std::function<Status()> work) : work_(std::move(work)) {}

  bool done() const {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  Status wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return result_;
  }
  void complete(Status result) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      result_ = std::move(result);
      done_ = true;
      work_ = nullptr;  // drop captured state
    }
    cv_.notify_all();
  }
  std::function<Status()>& work() { return work_; }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::function<Status()> work_;
  bool done_ = false;
  Status result_;
};

}  // namespace braid
