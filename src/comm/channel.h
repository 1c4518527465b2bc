// Channels: a large ring AllReduce split over several independent rings, each with its own
// TCP connections to the ring neighbours, its own scratch and its own thread, so one stream's
// window or one core's copy speed does not cap the bandwidth (BRAID_NCHANNELS).
//
// The communicator runs channel 0 itself, on its own connections, on the calling thread;
// each further channel is a Channel: an AlgoContext over its own connections, run by a worker
// thread that sleeps on a condition variable between collectives. A channel waits with the
// communicator's wait loop (comm/waiter.h) over its own connections, with the communicator's
// abort and failure source (so it learns of a dead peer as the communicator does) and its own
// cancel eventfd. When one channel fails, the communicator cancels the others (they return at
// once) and fails as a whole with the first error.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "algo/algo_context.h"
#include "comm/waiter.h"
#include "core/fd.h"
#include "transports/transport.h"

namespace braid {

class Channel : public AlgoContext {
 public:
  struct Params {
    int rank = 0;
    int nranks = 0;
    int ringPosition = 0;
    std::vector<int> ring;  // rank at each ring position
    size_t sliceBytes = 0;  // each scratch slot (the communicator's largest chunk)
    // The communicator's wait policy, abort and failure source (the channel adds its cancel).
    Waiter::Params wait;
  };
  // conns: this channel's connections to the ring's next and previous ranks (one when they
  // are the same rank).
  static Status create(const Params& params, std::vector<std::unique_ptr<Connection>> conns,
                       std::unique_ptr<Channel>* out);
  ~Channel() override;

  // Runs work on the channel's thread; wait() returns its status.
  void start(std::function<Status(AlgoContext&)> work);
  Status wait();
  // From another thread: the running work returns an error soon.
  void cancel();
  // Closes the connections (the channel's thread is idle).
  void close();

  // AlgoContext.
  int rank() const override { return p_.rank; }
  int nranks() const override { return p_.nranks; }
  int ringPosition() const override { return p_.ringPosition; }
  int ringRank(int position) const override { return p_.ring[static_cast<size_t>(position)]; }
  Connection* next() override { return next_; }
  Connection* prev() override { return prev_; }
  Connection* connectionTo(int rank) override;
  char* directScratch() override { return nullptr; }
  Status waitSend(Connection* conn, uint64_t ticket) override;
  Status waitRecv(Connection* conn, uint64_t ticket) override;
  size_t scratchBytes() const override { return p_.sliceBytes; }
  char* scratch(int slot) override {
    return scratch_.get() + static_cast<size_t>(slot) * p_.sliceBytes;
  }
  MemoryOps& memory() override { return memory_; }
  SharedWindow* window() override { return nullptr; }
  Status waitFlag(int rank, int which, uint64_t atLeast) override;
  Status waitTagged(int rank, const std::atomic<uint64_t>& word, uint32_t tag) override;

 private:
  explicit Channel(const Params& params) : p_(params) {}
  void loop();

  Params p_;
  std::vector<std::unique_ptr<Connection>> conns_;
  Connection* next_ = nullptr;
  Connection* prev_ = nullptr;
  std::unique_ptr<char, void (*)(void*)> scratch_{nullptr, nullptr};
  HostMemoryOps memory_;
  Fd cancelFd_;
  std::atomic<bool> cancelled_{false};
  Waiter waiter_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::function<Status(AlgoContext&)> work_;
  bool hasWork_ = false;
  bool done_ = false;
  bool stopping_ = false;
  Status result_;
  std::thread thread_;
};

}  // namespace braid
