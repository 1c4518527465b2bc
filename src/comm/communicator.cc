#include "comm/communicator.h"

#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "algo/direct.h"
#include "algo/rabenseifner.h"
#include "algo/ring.h"
#include "algo/rooted_tree.h"
#include "algo/tree.h"
#include "algo/tuner.h"
#include "algo/window_collectives.h"
#include "comm/comm_ring.h"
#include "core/clock.h"
#include "core/log.h"
#include "reduce/reduce.h"
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
  callSliceBytes_ = sliceBytes_;

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

Status Communicator::channelsAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                                       braidDataType_t type, braidRedOp_t op) {
  const size_t es = dataTypeSize(type);
  const size_t k = channels_.size() + 1;
  // Contiguous parts in whole 64-byte units, so every channel's kernels see aligned vectors.
  const size_t unit = std::max<size_t>(1, 64 / es);
  const size_t units = (count + unit - 1) / unit;
  auto off = [&](size_t c) { return std::min(count, (units * c / k) * unit); };
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  for (size_t c = 1; c < k; ++c) {
    Channel& ch = *channels_[c - 1];
    ch.setCallSlice(callSliceBytes_);
    const size_t o = off(c);
    const size_t len = off(c + 1) - o;
    ch.start([=](AlgoContext& ctx) {
      return ringAllReduce(ctx, in + o * es, out + o * es, len, type, op);
    });
  }
  Status first = ringAllReduce(*this, in, out, off(1), type, op);
  if (!first) {
    for (auto& ch : channels_) ch->cancel();
  }
  // Every channel must be done with the buffers before returning, failed or not.
  for (auto& ch : channels_) {
    Status s = ch->wait();
    if (!s && first) {
      first = s;
      for (auto& other : channels_) other->cancel();
    }
  }
  return first;
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

namespace {

std::string describeOp(const OpDesc& d) {
  std::string s =
      std::string(d.name) + "(count " + std::to_string(d.count) + ", " + dataTypeName(d.type);
  if (d.op >= 0) s += std::string(", ") + redOpName(static_cast<braidRedOp_t>(d.op));
  if (d.root >= 0) s += ", root " + std::to_string(d.root);
  return s + ")";
}

// The wire form of an OpDesc for BRAID_CHECK.
struct OpWire {
  uint64_t seq;
  uint64_t count;
  int32_t coll;  // hash of the name's first characters is enough: names are fixed strings
  int32_t type;
  int32_t op;
  int32_t root;
};

int32_t collId(const char* name) {
  uint32_t h = 0;  // unsigned: wraps without undefined behaviour
  for (const char* p = name; *p != '\0'; ++p) h = h * 31u + static_cast<unsigned char>(*p);
  return static_cast<int32_t>(h);
}

}  // namespace

Status Communicator::checkAgreement(const OpDesc& desc) {
  OpWire mine{opSeq_,  desc.count, collId(desc.name), static_cast<int32_t>(desc.type),
              desc.op, desc.root};
  std::vector<uint8_t> all;
  BRAID_RETURN_IF_ERROR(bootstrap_->allgather(&mine, sizeof(mine), &all));
  std::vector<OpWire> table(static_cast<size_t>(nranks_));
  std::memcpy(table.data(), all.data(), all.size());
  std::string diffs;
  for (int r = 0; r < nranks_; ++r) {
    const OpWire& o = table[static_cast<size_t>(r)];
    if (std::memcmp(&o, &mine, sizeof(o)) == 0) continue;
    std::string what;
    if (o.seq != mine.seq)
      what = "it is at collective #" + std::to_string(o.seq);
    else if (o.coll != mine.coll)
      what = "it called a different collective";
    else {
      const bool typeOk = isValidDataType(o.type);
      what = "it called " + std::string(desc.name) + "(count " + std::to_string(o.count) + ", " +
             (typeOk ? dataTypeName(static_cast<braidDataType_t>(o.type)) : "?") +
             (o.op >= 0 && isValidRedOp(o.op)
                  ? std::string(", ") + redOpName(static_cast<braidRedOp_t>(o.op))
                  : std::string()) +
             (o.root >= 0 ? ", root " + std::to_string(o.root) : std::string()) + ")";
    }
    if (diffs.size() < 600) diffs += "; rank " + std::to_string(r) + ": " + what;
  }
  if (diffs.empty()) return Status::ok();
  return invalidUsage("rank " + std::to_string(rank_) + ": collective #" + std::to_string(opSeq_) +
                      " does not match across ranks (BRAID_CHECK): this rank called " +
                      describeOp(desc) + diffs);
}

Status Communicator::execute(const OpDesc& desc, FunctionRef<Status()> body) {
  if (hasFailed_.load(std::memory_order_acquire)) return health();
  if (aborted_.load()) {
    Status s = remoteError("rank " + std::to_string(rank_) + ": the communicator was aborted");
    fail(s, false);
    return s;
  }
  if (nranks_ > 1) {
    // Only reported failures stop an operation from starting; a rank that left without a
    // goodbye fails an operation only when that operation stops moving (see comm/waiter.h).
    Status remote;
    if (++sinceRemoteCheck_ >= kRemoteCheckEvery || config_.checkCollectives) {
      sinceRemoteCheck_ = 0;
      remote = bootstrap_->checkRemote();
    }
    if (!remote) {
      Status s =
          remote.withContext("rank " + std::to_string(rank_) + ": " + desc.name + " not started: ");
      fail(s, false);
      return s;
    }
    if (config_.checkCollectives) {
      Status agree = checkAgreement(desc);
      ++opSeq_;
      // A mismatch is found before any data moves: every rank reports it and the communicator
      // stays usable. Failing to exchange the descriptors is a real failure.
      if (agree.code() == braidInvalidUsage) return agree;
      if (!agree) {
        fail(agree.withContext("rank " + std::to_string(rank_) + ": BRAID_CHECK: "), true);
        return health();
      }
    }
  }
  Status s = body();
  if (!s) {
    Status remote = nranks_ > 1 ? bootstrap_->checkRemote() : Status::ok();
    bool fromRemote = !remote.isOk();
    std::string context = "rank " + std::to_string(rank_) + ": " + desc.name + " of " +
                          std::to_string(desc.count) + " x " + dataTypeName(desc.type) +
                          " failed: ";
    // A failure notice names the culprit better than our broken link to a neighbour does.
    Status err = fromRemote && s.code() != braidTimeout ? remote.withContext(context)
                                                        : s.withContext(context);
    fail(err, !fromRemote);
    return err;
  }
  return s;
}

Status Communicator::runBlocking(const OpDesc& desc, FunctionRef<Status()> body) {
  if (outstanding_.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(queueMu_);
    queueCv_.wait(lock, [&] { return outstanding_ == 0; });
  }
  std::lock_guard<std::mutex> exec(execMu_);
  return execute(desc, body);
}

Status Communicator::runAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                                  braidDataType_t type, braidRedOp_t op) {
  const Choice choice = plan(Collective::kAllReduce, count * dataTypeSize(type), count);
  if (choice.algo == Algo::kOneShot)
    return oneshotAllReduce(*this, sendbuff, recvbuff, count, type, op);
  if (choice.algo == Algo::kTwoShot)
    return twoshotAllReduce(*this, sendbuff, recvbuff, count, type, op);
  if (choice.algo == Algo::kDirect)
    return directAllReduce(*this, sendbuff, recvbuff, count, type, op);
  if (choice.algo == Algo::kTree) return treeAllReduce(*this, sendbuff, recvbuff, count, type, op);
  if (choice.algo == Algo::kRabenseifner)
    return rabenseifnerAllReduce(*this, sendbuff, recvbuff, count, type, op);
  if (choice.nchannels > 1) return channelsAllReduce(sendbuff, recvbuff, count, type, op);
  return ringAllReduce(*this, sendbuff, recvbuff, count, type, op);
}

Status Communicator::allReduce(const void* sendbuff, void* recvbuff, size_t count,
                               braidDataType_t type, braidRedOp_t op) {
  return runBlocking({"AllReduce", count, type, op, -1},
                     [&] { return runAllReduce(sendbuff, recvbuff, count, type, op); });
}

Status Communicator::reduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                                   braidDataType_t type, braidRedOp_t op) {
  return runBlocking({"ReduceScatter", recvcount, type, op, -1}, [&] {
    if (plan(Collective::kReduceScatter, recvcount * dataTypeSize(type), recvcount).algo ==
        Algo::kWindow)
      return windowReduceScatter(*this, sendbuff, recvbuff, recvcount, type, op);
    return ringReduceScatter(*this, sendbuff, recvbuff, recvcount, type, op);
  });
}

Status Communicator::allGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                               braidDataType_t type) {
  return runBlocking({"AllGather", sendcount, type, -1, -1}, [&] {
    if (plan(Collective::kAllGather, sendcount * dataTypeSize(type), sendcount).algo ==
        Algo::kWindow)
      return windowAllGather(*this, sendbuff, recvbuff, sendcount, type);
    return ringAllGather(*this, sendbuff, recvbuff, sendcount, type);
  });
}

Status Communicator::broadcast(const void* sendbuff, void* recvbuff, size_t count,
                               braidDataType_t type, int root) {
  return runBlocking({"Broadcast", count, type, -1, root}, [&] {
    const Algo algo = plan(Collective::kBroadcast, count * dataTypeSize(type), count).algo;
    if (algo == Algo::kWindow) return windowBroadcast(*this, sendbuff, recvbuff, count, type, root);
    if (algo == Algo::kTree) return treeBroadcast(*this, sendbuff, recvbuff, count, type, root);
    return ringBroadcast(*this, sendbuff, recvbuff, count, type, root);
  });
}

Status Communicator::reduce(const void* sendbuff, void* recvbuff, size_t count,
                            braidDataType_t type, braidRedOp_t op, int root) {
  return runBlocking({"Reduce", count, type, op, root}, [&] {
    const Algo algo = plan(Collective::kReduce, count * dataTypeSize(type), count).algo;
    if (algo == Algo::kWindow)
      return windowReduce(*this, sendbuff, recvbuff, count, type, op, root);
    if (algo == Algo::kTree) return treeReduce(*this, sendbuff, recvbuff, count, type, op, root);
    return ringReduce(*this, sendbuff, recvbuff, count, type, op, root);
  });
}

Status Communicator::allReduceAsync(const void* sendbuff, void* recvbuff, size_t count,
                                    braidDataType_t type, braidRedOp_t op,
                                    std::shared_ptr<Request>* out) {
  auto req = std::make_shared<Request>([this, sendbuff, recvbuff, count, type, op] {
    return execute({"AllReduce", count, type, op, -1},
                   [&] { return runAllReduce(sendbuff, recvbuff, count, type, op); });
  });
  {
    std::lock_guard<std::mutex> lock(queueMu_);
    if (stopping_) return invalidUsage("the communicator is being destroyed");
    if (!progressThread_.joinable()) {
      try {
        progressThread_ = std::thread([this] { progressLoop(); });
      } catch (const std::system_error& e) {
        return systemError(std::string("cannot start the progress thread: ") + e.what());
      }
    }
    queue_.push_back(req);
    ++outstanding_;
  }
  queueCv_.notify_all();
  *out = std::move(req);
  return Status::ok();
}

void Communicator::progressLoop() {
  for (;;) {
    std::shared_ptr<Request> req;
    {
      std::unique_lock<std::mutex> lock(queueMu_);
      queueCv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      req = queue_.front();
      queue_.pop_front();
    }
    Status result;
    {
      std::lock_guard<std::mutex> exec(execMu_);
      result = req->work()();
    }
    req->complete(result);
    {
      std::lock_guard<std::mutex> lock(queueMu_);
      --outstanding_;
    }
    queueCv_.notify_all();
  }
}

}  // namespace braid
