#include "comm/communicator.h"

#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "algo/direct.h"
#include "algo/double_tree.h"
#include "algo/rabenseifner.h"
#include "algo/ring.h"
#include "algo/rooted_tree.h"
#include "algo/tree.h"
#include "algo/tuner.h"
#include "algo/window_collectives.h"
#include "core/clock.h"
#include "core/log.h"
#include "reduce/reduce.h"
#include "topo/comm_ring.h"
#include "transports/socket/socket_transport.h"

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
  BRAID_RETURN_IF_ERROR(Bootstrap::create(bp, &bootstrap_));

  // Scratch for the pipelines, allocated once: never resized per message.
  sliceBytes_ = (config_.chunkBytes + 63) / 64 * 64;
  void* mem = std::aligned_alloc(64, sliceBytes_ * kScratchSlots);
  if (mem == nullptr) return systemError("cannot allocate scratch buffers");
  scratch_ = std::unique_ptr<char, void (*)(void*)>(static_cast<char*>(mem), std::free);

  // The ring order: BRAID_RING_FILE or the topology plan, the same on every rank.
  BRAID_RETURN_IF_ERROR(topo::communicatorRing(bootstrap_.get(), &ring_));
  ringPos_ = static_cast<int>(std::find(ring_.begin(), ring_.end(), rank_) - ring_.begin());
  const int nextRank = ring_[static_cast<size_t>((ringPos_ + 1) % nranks_)];
  const int prevRank = ring_[static_cast<size_t>((ringPos_ + nranks_ - 1) % nranks_)];

  byRank_.assign(static_cast<size_t>(nranks_), nullptr);
  if (nranks_ > 1) {
    // Shared memory between the ranks of each host (collective over all ranks, consistent:
    // every rank of a host ends with the segment or every one without it).
    BRAID_RETURN_IF_ERROR(ShmTransport::create(bootstrap_.get(), config_, &shm_));
    if (shm_) {
      node_ = shm_->node();
      window_ = shm_->window();
      // Busy-wait only where the host has a core per local rank; oversubscribed ranks yield
      // at once so the rank they wait for can run. (The host's CPUs, not this process's
      // affinity: ranks pinned to a core each are not oversubscribed.)
      cpu_set_t set;
      CPU_ZERO(&set);
      const long online = sysconf(_SC_NPROCESSORS_ONLN);
      const int mine = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
      const int cpus = std::max(mine, static_cast<int>(online > 0 ? online : 1));
      spinPause_ = node_->nlocal() <= cpus ? 4000 : 0;
      // Then yield for about a millisecond before sleeping: a peer a little behind (a
      // benchmark's check, a trainer's uneven step) costs no futex wake-up (~50 us on a VM),
      // and a yield hands the core to any rank that shares it.
      yieldRounds_ = 2000;
    }
    transport_ = std::make_unique<SocketTransport>(bootstrap_.get(), config_, abortFd_.get());
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
    BRAID_RETURN_IF_ERROR(connectPeers(peers));
    next_ = byRank_[static_cast<size_t>(nextRank)];
    prev_ = byRank_[static_cast<size_t>(prevRank)];
    if (config_.nchannels > 1 && !shm_) BRAID_RETURN_IF_ERROR(connectChannels(nextRank, prevRank));
    if (meshConnected_ && nranks_ > 2) {
      void* d = std::aligned_alloc(64, kDirectMaxBytes * static_cast<size_t>(nranks_));
      if (d == nullptr) return systemError("cannot allocate scratch buffers");
      directScratch_ = std::unique_ptr<char, void (*)(void*)>(static_cast<char*>(d), std::free);
    }
  }
  BRAID_RETURN_IF_ERROR(initTuner());
  BRAID_INFO(rank_,
             "communicator ready: rank %d of %d, ring %d -> %d -> %d, %d peer(s) over shm, "
             "%d over sockets (%d per peer and direction)%s, slice %zu bytes, timeout %lld ms",
             rank_, nranks_, prevRank, rank_, nextRank,
             shm_ ? static_cast<int>(shm_->localRanks().size()) - 1 : 0,
             static_cast<int>(std::count_if(conns_.begin(), conns_.end(),
                                            [](const auto& c) { return !c->usesSharedMemory(); })),
             config_.socketNsocks, window_ != nullptr ? ", shared window" : "", sliceBytes_,
             static_cast<long long>(config_.timeoutMs));
  return Status::ok();
}

Status Communicator::connectChannels(int nextRank, int prevRank) {
  std::vector<int> neighbours{nextRank};
  if (prevRank != nextRank) neighbours.push_back(prevRank);
  std::vector<std::vector<std::unique_ptr<Connection>>> extra;
  // Every rank must be done accepting the first round: a hello of this round reaching a rank
  // still in the first would be dropped as a stranger.
  BRAID_RETURN_IF_ERROR(bootstrap_->barrier());
  BRAID_RETURN_IF_ERROR(static_cast<SocketTransport*>(transport_.get())
                            ->connectChannels(neighbours, config_.nchannels - 1, &extra));
  Channel::Params p;
  p.rank = rank_;
  p.nranks = nranks_;
  p.ringPosition = ringPos_;
  p.ring = ring_;
  p.timeoutMs = config_.timeoutMs;
  p.abortFd = abortFd_.get();
  p.sliceBytes = sliceBytes_;
  for (auto& conns : extra) {
    std::unique_ptr<Channel> ch;
    BRAID_RETURN_IF_ERROR(Channel::create(p, std::move(conns), &ch));
    channels_.push_back(std::move(ch));
  }
  return Status::ok();
}

Status Communicator::connectPeers(const std::vector<int>& peers) {
  std::vector<int> local;
  std::vector<int> remote;
  for (int p : peers) (shm_ && shm_->isLocal(p) ? local : remote).push_back(p);
  if (!local.empty()) BRAID_RETURN_IF_ERROR(shm_->connect(local, &conns_));
  if (!remote.empty()) BRAID_RETURN_IF_ERROR(transport_->connect(remote, &conns_));
  for (auto& c : conns_) byRank_[static_cast<size_t>(c->peer())] = c.get();
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
  // A wait asleep on the shared-memory doorbell (node_ is set once, before any collective).
  if (!was && node_ != nullptr) node_->wakeSelf();
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

template <typename Done, typename What>
Status Communicator::waitUntil(Done done, What what) {
  int64_t lastMove = nowMs();
  // Spin briefly before sleeping: a reply that is microseconds away is not worth a sleep and a
  // wake-up. Over shared memory with a core per rank, busy-wait first (the reply is a cache
  // line away); then yield each round, which lets a peer that shares this core (oversubscribed
  // ranks, a busy trainer) run at once.
  const int yieldRounds = yieldRounds_;
  int spins = 0;
  for (;;) {
    bool moved = false;
    for (auto& c : conns_) {
      Status s = c->progress(&moved);
      if (!s) return s;
    }
    if (done()) return Status::ok();
    if (moved) {
      lastMove = nowMs();
      spins = 0;
      continue;
    }
    if (++spins < spinPause_ + yieldRounds && !aborted_.load(std::memory_order_relaxed)) {
      if (spins < spinPause_) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      } else {
        sched_yield();
      }
      continue;
    }
    spins = 0;
    const int64_t now = nowMs();
    if (aborted_.load(std::memory_order_relaxed)) return remoteError("aborted by braidCommAbort");
    int64_t left = lastMove + config_.timeoutMs - now;
    if (left <= 0) {
      return timeoutError(std::string("no progress for ") + std::to_string(config_.timeoutMs) +
                          " ms (BRAID_TIMEOUT_MS) " + what());
    }
    // A rank left without a goodbye: while data still moves this collective may complete (its
    // bytes were sent before it exited); once nothing moves for a moment, give up naming it.
    const Status& gone = bootstrap_->peerGone();
    if (!gone.isOk()) {
      const int64_t graceLeft =
          lastMove + std::min<int64_t>(kPeerGoneGraceMs, config_.timeoutMs) - now;
      if (graceLeft <= 0) return gone;
      left = std::min(left, graceLeft);
    }
    pollfds_.clear();
    for (auto& c : conns_) c->appendPollFds(&pollfds_);
    const size_t socketFds = pollfds_.size();
    bool shmWait = false;
    if (node_ != nullptr) {
      shmWait = window_ != nullptr;  // (window waits are always on shared memory)
      for (auto& c : conns_) shmWait = shmWait || (c->usesSharedMemory() && c->pending());
    }
    uint32_t doorbell = 0;
    if (shmWait) {
      // Announce the sleep, then look once more: a publisher that missed the announcement
      // published before it, so this look sees its data.
      doorbell = node_->beginSleep();
      for (auto& c : conns_) {
        Status s = c->progress(&moved);
        if (!s) {
          node_->endSleep();
          return s;
        }
      }
      if (moved || done()) {
        node_->endSleep();
        continue;
      }
      // Sockets pending as well: poll them, waking every millisecond for shared memory.
      // Otherwise sleep on the doorbell, waking now and then for the bootstrap's notices.
      left = std::min<int64_t>(left, socketFds > 0 ? 1 : 20);
    }
    const size_t firstBootstrap = pollfds_.size();
    bootstrap_->appendPollFds(&pollfds_);
    pollfds_.push_back({abortFd_.get(), POLLIN, 0});
    const bool futexSleep = shmWait && socketFds == 0;
    int rc = ::poll(pollfds_.data(), pollfds_.size(),
                    futexSleep ? 0 : static_cast<int>(std::min<int64_t>(left, 1 << 30)));
    if (rc < 0 && errno != EINTR) {
      if (shmWait) node_->endSleep();
      return systemError(errnoMessage("poll", errno));
    }
    if (futexSleep && rc == 0) {
      node_->sleep(doorbell, left);
    } else if (shmWait) {
      node_->endSleep();
    }
    for (size_t i = firstBootstrap; i + 1 < pollfds_.size(); ++i) {
      if (pollfds_[i].revents != 0) {
        Status s = bootstrap_->checkRemote();
        if (!s) return s;
        break;
      }
    }
  }
}

Status Communicator::waitTicket(Connection* conn, bool send, uint64_t ticket) {
  return waitUntil(
      [&] { return (send ? conn->sendsDone() : conn->recvsDone()) >= ticket; },
      [&] { return std::string(send ? "sending to " : "receiving from ") + conn->description(); });
}

Status Communicator::waitTagged(int rank, const std::atomic<uint64_t>& word, uint32_t tag) {
  return waitUntil([&] { return (word.load(std::memory_order_acquire) >> 32) == tag; },
                   [&] {
                     return "waiting for rank " + std::to_string(rank) + " (pid " +
                            std::to_string(node_->pidOf(rank)) + ") over shared memory";
                   });
}

Status Communicator::waitFlag(int rank, int which, uint64_t atLeast) {
  std::atomic<uint64_t>& f = window_->flag(rank, which);
  if (f.load(std::memory_order_acquire) >= atLeast) return Status::ok();
  return waitUntil([&] { return f.load(std::memory_order_acquire) >= atLeast; },
                   [&] {
                     return "waiting for rank " + std::to_string(rank) + " (pid " +
                            std::to_string(node_->pidOf(rank)) + ") over shared memory";
                   });
}

}  // namespace braid
