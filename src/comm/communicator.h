// A communicator: its bootstrap channel, its connections, and the engine that runs collectives.
//
// Progress model: a blocking collective runs on the calling thread, in the wait loop of
// comm/waiter.h: it spins and yields for a bounded number of rounds (about a millisecond at most)
// while nothing moves, then sleeps in poll() or on the shared-memory doorbell, so a rank blocked
// for long leaves its core to the trainer. Asynchronous
// requests run in order on one progress thread per communicator, started on first use and
// asleep when idle. A blocking call issued while async work is queued waits for that work
// first, so operations run in the order the user issued them.
//
// Failure model: the first error (a broken connection, a peer's failure notice, no progress
// for BRAID_TIMEOUT_MS, an abort) is sticky: the communicator closes its connections so its
// neighbours notice at once, tells rank 0 (which tells everyone), and every later call fails
// fast with the same message.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "algo/algo_context.h"
#include "algo/tuner.h"
#include "bootstrap/bootstrap.h"
#include "comm/channel.h"
#include "comm/collective.h"
#include "comm/request.h"
#include "comm/waiter.h"
#include "core/config.h"
#include "core/fd.h"
#include "core/function_ref.h"
#include "transports/registry.h"
#include "transports/transport.h"

namespace braid {

struct CommParams {
  int nranks = 0;
  int rank = 0;
  SocketAddress root;
  Secret secret{};
};

class Communicator : private AlgoContext {
 public:
  static Status create(const CommParams& params, std::unique_ptr<Communicator>* out);
  ~Communicator() override;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const override { return rank_; }
  int nranks() const override { return nranks_; }
  const Config& config() const { return config_; }

  // Runs a collective call that checkCall accepted, on the executor its descriptor names:
  // inline on this thread for Completion::kBlocking (returns its result), the progress thread
  // for Completion::kRequest (returns once queued; *request completes with the result).
  Status start(const CollectiveCall& call, std::shared_ptr<Request>* request = nullptr);

  // From any thread: fails pending and future operations at once.
  void abort();
  // The sticky failure, if any.
  Status health() const;

  // The tuner's choice for a collective of `bytes` bytes (`count` elements, 0 if unknown) on
  // this communicator (pure, local).
  Choice tuning(Collective coll, size_t bytes, size_t count = 0) const;

 private:
  explicit Communicator(const CommParams& params) : rank_(params.rank), nranks_(params.nranks) {}
  Status init(const CommParams& params);

  // AlgoContext.
  Connection* next() override { return next_; }
  Connection* prev() override { return prev_; }
  int ringPosition() const override { return ringPos_; }
  int ringRank(int position) const override { return ring_[static_cast<size_t>(position)]; }
  Connection* connectionTo(int rank) override {
    return rank >= 0 && rank < nranks_ ? byRank_[static_cast<size_t>(rank)] : nullptr;
  }
  char* directScratch() override { return directScratch_.get(); }
  Status waitSend(Connection* conn, uint64_t ticket) override {
    return waiter_.ticket(conn, true, ticket);
  }
  Status waitRecv(Connection* conn, uint64_t ticket) override {
    return waiter_.ticket(conn, false, ticket);
  }
  size_t scratchBytes() const override { return sliceBytes_; }
  char* scratch(int slot) override {
    return scratch_.get() + static_cast<size_t>(slot) * sliceBytes_;
  }
  MemoryOps& memory() override { return memory_; }
  SharedWindow* window() override { return window_; }
  Status waitFlag(int rank, int which, uint64_t atLeast) override;
  Status waitTagged(int rank, const std::atomic<uint64_t>& word, uint32_t tag) override;

  // The wait policy: spin only where the host has a core per local rank.
  Waiter::Params waitParams() const;
  // BRAID_NCHANNELS: extra rings where every rank's ring neighbours are reached by a transport
  // that offers channels (decided alike on every rank).
  Status connectChannels(int nextRank, int prevRank);
  // A ring AllReduce over every channel (each a contiguous part of the buffer), each with
  // the call's slice.
  Status channelsAllReduce(const CollectiveCall& call, size_t sliceBytes);
  // The executors. Inline: on the calling thread, after queued async work (operations run in
  // the order the user issued them). Queued: on the progress thread.
  Status runInline(const CollectiveCall& call);
  Status enqueue(const CollectiveCall& call, std::shared_ptr<Request>* out);
  // Runs one collective with the communicator's state checks and failure handling (under
  // execMu_, on whichever executor's thread).
  Status execute(const CollectiveCall& call);
  // Plans the call and runs the chosen algorithm with the chosen slice (or the channels).
  Status dispatch(const CollectiveCall& call);
  // Asks the tuner for this call's plan (cached per collective), logs a new shape at INFO.
  Choice plan(Collective coll, size_t bytes, size_t count);
  // The pipeline slice for a choice: its chunk in whole 64-byte units, at most the scratch.
  size_t sliceFor(const Choice& choice) const {
    return std::min(sliceBytes_, (choice.chunkBytes + 63) / 64 * 64);
  }
  // The tuner's inputs: rank 0's cost parameters (every rank plans alike) and the link class.
  Status initTuner();
  // BRAID_CHECK: every rank's descriptor of this call, compared out of band.
  Status checkAgreement(const CollectiveCall& call);
  void fail(const Status& status, bool tellOthers);
  void progressLoop();

  const int rank_;
  const int nranks_;
  Config config_;
  Fd abortFd_;  // eventfd, readable once aborted
  std::atomic<bool> aborted_{false};
  std::unique_ptr<Bootstrap> bootstrap_;
  // The transports (transports/registry.h): the communicator never names one.
  std::unique_ptr<TransportSet> transports_;
  // Channels 1..k-1 of a ring AllReduce split over BRAID_NCHANNELS rings (channel 0 is this
  // communicator's own connections); empty with one channel or with shared memory.
  std::vector<std::unique_ptr<Channel>> channels_;
  Doorbell* doorbell_ = nullptr;    // when a transport moves data through shared memory
  SharedWindow* window_ = nullptr;  // when every rank is on this host
  std::vector<std::unique_ptr<Connection>> conns_;
  Waiter waiter_;  // over conns_
  Connection* next_ = nullptr;
  Connection* prev_ = nullptr;
  std::vector<int> ring_;  // ring_[position] = rank: topology plan or BRAID_RING_FILE (topo/)
  int ringPos_ = 0;        // this rank's position in ring_
  std::vector<Connection*> byRank_;  // nullptr where not connected
  bool meshConnected_ = false;
  std::unique_ptr<char, void (*)(void*)> directScratch_{nullptr, nullptr};
  CostModel costModel_;
  LinkClass linkClass_ = LinkClass::kSocket;
  // Shapes (collective, power-of-two size class) already logged at INFO.
  std::vector<std::pair<int, int>> loggedShapes_;
  HostMemoryOps memory_;
  size_t sliceBytes_ = 0;  // scratch slice allocated (the largest chunk)
  // The last plan per collective: a repeated shape (a benchmark loop, a trainer's buckets)
  // skips the model, which costs microseconds on a path that takes a tenth of one.
  struct PlanCache {
    size_t bytes = SIZE_MAX;
    size_t count = 0;
    Choice choice;
  };
  std::array<PlanCache, 5> planCache_{};
  std::unique_ptr<char, void (*)(void*)> scratch_{nullptr, nullptr};
  uint64_t opSeq_ = 0;  // collectives started, for BRAID_CHECK messages

  mutable std::mutex stateMu_;
  Status failed_;
  std::atomic<bool> hasFailed_{false};  // failed_ is set (read without the lock)
  // Collectives since the bootstrap was last read for failure notices: reading it costs a
  // system call per link, so a collective reads it only every kRemoteCheckEvery calls (waits
  // that stall read it anyway).
  int sinceRemoteCheck_ = 0;
  static constexpr int kRemoteCheckEvery = 64;

  std::mutex execMu_;  // one operation at a time on the connections

  std::mutex queueMu_;
  std::condition_variable queueCv_;
  std::deque<std::shared_ptr<Request>> queue_;
  std::atomic<size_t> outstanding_{0};  // queued or running async operations (under queueMu_)
  bool stopping_ = false;
  std::thread progressThread_;
};

}  // namespace braid
