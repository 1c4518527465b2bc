#include "comm/communicator.h"

#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "algo/direct.h"
#include "algo/tuner.h"
#include "comm/comm_ring.h"
#include "core/clock.h"
#include "core/log.h"
#include "topo/double_tree.h"

namespace braid {

Status Communicator::create(const CommParams& params, std::unique_ptr<Communicator>* out) {
  std::unique_ptr<Communicator> comm(new Communicator(params));
  Status s = comm->init(params);
  if (!s) return s;
  *out = std::move(comm);
  return Status::ok();
}

Status Communicator::init(const CommParams& params) {
  BRAID_RETURN_IF_ERROR(Config::fromEnv(&config_));
  BRAID_RETURN_IF_ERROR(checkTransportName(config_.transport));
  abortFd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!abortFd_.valid()) return systemError(errnoMessage("eventfd", errno));

  BootstrapParams bp;
  bp.rank = rank_;
  bp.nranks = nranks_;
  bp.root = params.root;
  bp.secret = params.secret;
  bp.timeoutMs = config_.timeoutMs;
  bp.ifname = config_.socketIfname;
  bp.family = config_.socketFamily;
  bp.abortFd = abortFd_.get();
  bp.hostId = config_.hostId;
  BRAID_RETURN_IF_ERROR(Bootstrap::create(bp, &bootstrap_));

  // Scratch for the pipelines, allocated once: never resized per message.
  sliceBytes_ = (config_.chunkBytes + 63) / 64 * 64;
  void* mem = std::aligned_alloc(64, sliceBytes_ * kScratchSlots);
  if (mem == nullptr) return systemError("cannot allocate scratch buffers");
  scratch_ = std::unique_ptr<char, void (*)(void*)>(static_cast<char*>(mem), std::free);

  // The ring order: BRAID_RING_FILE or the topology plan, the same on every rank.
  BRAID_RETURN_IF_ERROR(communicatorRing(bootstrap_.get(), config_, &ring_));
  ringPos_ = static_cast<int>(std::find(ring_.begin(), ring_.end(), rank_) - ring_.begin());
  const int nextRank = ring_[static_cast<size_t>((ringPos_ + 1) % nranks_)];
  const int prevRank = ring_[static_cast<size_t>((ringPos_ + nranks_ - 1) % nranks_)];

  byRank_.assign(static_cast<size_t>(nranks_), nullptr);
  waiter_.configure(waitParams(), &conns_);
  if (nranks_ > 1) {
    // Every transport of the registry (collective over all ranks: shared memory decides per
    // host, consistently on every rank of it).
    BRAID_RETURN_IF_ERROR(TransportSet::create(bootstrap_.get(), config_, &transports_));
    doorbell_ = transports_->doorbell();
    window_ = transports_->window();
    waiter_.configure(waitParams(), &conns_);
    // Small communicators connect every pair (the direct algorithm needs it); large ones only
    // their ring neighbours.
    meshConnected_ = nranks_ <= kMeshMaxRanks;
    std::vector<int> peers;
    if (meshConnected_) {
      for (int p = 0; p < nranks_; ++p) {
        if (p != rank_) peers.push_back(p);
      }
    } else {
      // Ring neighbours and the double binary tree's parents and children.
      peers = doubleTreePeers(nranks_, rank_);
      for (int p : {nextRank, prevRank}) {
        if (std::find(peers.begin(), peers.end(), p) == peers.end()) peers.push_back(p);
      }
    }
    BRAID_RETURN_IF_ERROR(transports_->connect(peers, &conns_));
    for (auto& c : conns_) byRank_[static_cast<size_t>(c->peer())] = c.get();
    next_ = byRank_[static_cast<size_t>(nextRank)];
    prev_ = byRank_[static_cast<size_t>(prevRank)];
    if (config_.nchannels > 1) BRAID_RETURN_IF_ERROR(connectChannels(nextRank, prevRank));
    if (meshConnected_ && nranks_ > 2) {
      void* d = std::aligned_alloc(64, kDirectMaxBytes * static_cast<size_t>(nranks_));
      if (d == nullptr) return systemError("cannot allocate scratch buffers");
      directScratch_ = std::unique_ptr<char, void (*)(void*)>(static_cast<char*>(d), std::free);
    }
  }
  BRAID_RETURN_IF_ERROR(initTuner());
  BRAID_INFO(rank_,
             // (benchmarks/compare reads "N peer(s) over shm, M over sockets" off this line.)
             "communicator ready: rank %d of %d, ring %d -> %d -> %d, %d peer(s) over shm, "
             "%d over sockets (%d per peer and direction), %zu channel(s)%s, slice %zu bytes, "
             "timeout %lld ms",
             rank_, nranks_, prevRank, rank_, nextRank,
             static_cast<int>(std::count_if(conns_.begin(), conns_.end(),
                                            [](const auto& c) { return c->usesSharedMemory(); })),
             static_cast<int>(std::count_if(conns_.begin(), conns_.end(),
                                            [](const auto& c) { return !c->usesSharedMemory(); })),
             config_.socketNsocks, channels_.size() + 1,
             window_ != nullptr ? ", shared window" : "", sliceBytes_,
             static_cast<long long>(config_.timeoutMs));
  return Status::ok();
}

Waiter::Params Communicator::waitParams() const {
  Waiter::Params w;
  w.timeoutMs = config_.timeoutMs;
  w.aborted = &aborted_;
  w.abortFd = abortFd_.get();
  w.failures = nranks_ > 1 ? bootstrap_.get() : nullptr;
  w.doorbell = doorbell_;
  w.sharedWindow = window_ != nullptr;
  if (doorbell_ != nullptr) {
    // Busy-wait only where the host has a core per local rank; oversubscribed ranks yield
    // at once so the rank they wait for can run. (The host's CPUs, not this process's
    // affinity: ranks pinned to a core each are not oversubscribed.)
    cpu_set_t set;
    CPU_ZERO(&set);
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    const int mine = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
    const int cpus = std::max(mine, static_cast<int>(online > 0 ? online : 1));
    w.spinPause = doorbell_->sharers() <= cpus ? 4000 : 0;
    // Then yield for about a millisecond before sleeping: a peer a little behind (a
    // benchmark's check, a trainer's uneven step) costs no futex wake-up (~50 us on a VM),
    // and a yield hands the core to any rank that shares it.
    w.yieldRounds = 2000;
  }
  // Channels' threads read the failure source too, and one may read a notice off the fds
  // before another polls them: each looks at the recorded state at least this often.
  if (config_.nchannels > 1) w.failureLookMs = 100;
  return w;
}

Status Communicator::connectChannels(int nextRank, int prevRank) {
  std::vector<int> neighbours{nextRank};
  if (prevRank != nextRank) neighbours.push_back(prevRank);
  // Channels only where one transport that offers them reaches both ring neighbours, on every
  // rank: one rank's ring can run over shared memory while another's is all TCP, and the
  // channels' set-up round is collective.
  Transport* t = nullptr;
  Transport* other = nullptr;
  BRAID_RETURN_IF_ERROR(transports_->choose(nextRank, &t));
  BRAID_RETURN_IF_ERROR(transports_->choose(prevRank, &other));
  const uint8_t mine = t == other && t->offersChannels() ? 1 : 0;
  std::vector<uint8_t> all;
  BRAID_RETURN_IF_ERROR(bootstrap_->allgather(&mine, 1, &all));
  if (std::find(all.begin(), all.end(), 0) != all.end()) return Status::ok();
  std::vector<std::vector<std::unique_ptr<Connection>>> extra;
  // Every rank must be done accepting the first round: a hello of this round reaching a rank
  // still in the first would be dropped as a stranger.
  BRAID_RETURN_IF_ERROR(bootstrap_->barrier());
  BRAID_RETURN_IF_ERROR(t->connectChannels(neighbours, config_.nchannels - 1, &extra));
  Channel::Params p;
  p.rank = rank_;
  p.nranks = nranks_;
  p.ringPosition = ringPos_;
  p.ring = ring_;
  p.sliceBytes = sliceBytes_;
  p.wait = waitParams();
  for (auto& conns : extra) {
    std::unique_ptr<Channel> ch;
    BRAID_RETURN_IF_ERROR(Channel::create(p, std::move(conns), &ch));
    channels_.push_back(std::move(ch));
  }
  return Status::ok();
}

Communicator::~Communicator() {
  // Let queued async work finish (each operation is bounded by the timeout, and fails fast
  // once the communicator has failed or been aborted).
  {
    std::unique_lock<std::mutex> lock(queueMu_);
    queueCv_.wait(lock, [&] { return outstanding_ == 0; });
    stopping_ = true;
  }
  queueCv_.notify_all();
  if (progressThread_.joinable()) progressThread_.join();
  std::lock_guard<std::mutex> exec(execMu_);
  if (bootstrap_) bootstrap_->sayGoodbye();
  for (auto& c : conns_) c->close();
}

Status Communicator::health() const {
  if (!hasFailed_.load(std::memory_order_acquire)) return Status::ok();
  std::lock_guard<std::mutex> lock(stateMu_);
  return failed_;
}

void Communicator::abort() {
  bool was = aborted_.exchange(true);
  if (!was && abortFd_.valid()) {
    uint64_t one = 1;
    ssize_t ignored = write(abortFd_.get(), &one, sizeof(one));
    (void)ignored;
  }
  // A wait asleep on the shared-memory doorbell (set once, before any collective).
  if (!was && doorbell_ != nullptr) doorbell_->wakeSelf();
}

void Communicator::fail(const Status& status, bool tellOthers) {
  {
    std::lock_guard<std::mutex> lock(stateMu_);
    if (!failed_.isOk()) return;
    failed_ = status;
    hasFailed_.store(true, std::memory_order_release);
  }
  BRAID_WARN(rank_, "%s", status.message().c_str());
  if (tellOthers && bootstrap_) bootstrap_->notifyFailure(status.message());
  // Closing makes our neighbours fail at once instead of waiting for their timeout. (The
  // channels' threads are idle here: a collective waits for all of them before it returns.)
  for (auto& c : conns_) c->close();
  for (auto& ch : channels_) ch->close();
}

Status Communicator::waitTagged(int rank, const std::atomic<uint64_t>& word, uint32_t tag) {
  return waiter_.until(
      [&] { return (word.load(std::memory_order_acquire) >> 32) == tag; },
      [&] { return "waiting for " + bootstrap_->describe(rank) + " over shared memory"; });
}

Status Communicator::waitFlag(int rank, int which, uint64_t atLeast) {
  std::atomic<uint64_t>& f = window_->flag(rank, which);
  if (f.load(std::memory_order_acquire) >= atLeast) return Status::ok();
  return waiter_.until(
      [&] { return f.load(std::memory_order_acquire) >= atLeast; },
      [&] { return "waiting for " + bootstrap_->describe(rank) + " over shared memory"; });
}

}  // namespace braid
