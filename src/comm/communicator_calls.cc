// The communicator's side of a collective call (comm/collective.h): the executors (inline for
// blocking calls, the progress thread for requests), the state checks and failure handling
// around every call, BRAID_CHECK, and the dispatch of a planned call to its algorithm. Kept
// apart from communicator.cc (set-up, connections, waits, failure) so the two change
// independently.
#include <algorithm>
#include <cstring>
#include <system_error>

#include "algo/ring.h"
#include "comm/communicator.h"
#include "comm/dispatch.h"
#include "core/datatype.h"

namespace braid {

Status Communicator::start(const CollectiveCall& call, std::shared_ptr<Request>* request) {
  switch (call.completion) {
    case Completion::kBlocking:
      return runInline(call);
    case Completion::kRequest:
      return enqueue(call, request);
  }
  return internalError("unknown completion " + std::to_string(static_cast<int>(call.completion)));
}

Status Communicator::runInline(const CollectiveCall& call) {
  if (outstanding_.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(queueMu_);
    queueCv_.wait(lock, [&] { return outstanding_ == 0; });
  }
  std::lock_guard<std::mutex> exec(execMu_);
  return execute(call);
}

Status Communicator::enqueue(const CollectiveCall& call, std::shared_ptr<Request>* out) {
  if (out == nullptr) return internalError("a queued collective needs a request");
  auto req = std::make_shared<Request>([this, call] { return execute(call); });
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

Status Communicator::dispatch(const CollectiveCall& call) {
  const Choice choice = plan(call.coll, call.count * dataTypeSize(call.dataType()), call.count);
  const size_t slice = sliceFor(choice);
  if (choice.nchannels > 1) return channelsAllReduce(call, slice);
  return runAlgorithm(*this, call, choice.algo, slice);
}

Status Communicator::channelsAllReduce(const CollectiveCall& call, size_t sliceBytes) {
  const braidDataType_t type = call.dataType();
  const braidRedOp_t op = call.redOp();
  const size_t count = call.count;
  const size_t es = dataTypeSize(type);
  const size_t k = channels_.size() + 1;
  // Contiguous parts in whole 64-byte units, so every channel's kernels see aligned vectors.
  const size_t unit = std::max<size_t>(1, 64 / es);
  const size_t units = (count + unit - 1) / unit;
  auto off = [&](size_t c) { return std::min(count, (units * c / k) * unit); };
  const char* in = static_cast<const char*>(call.sendbuff);
  char* out = static_cast<char*>(call.recvbuff);
  for (size_t c = 1; c < k; ++c) {
    Channel& ch = *channels_[c - 1];
    const size_t o = off(c);
    const size_t len = off(c + 1) - o;
    ch.start([=](AlgoContext& ctx) {
      return ringAllReduce(ctx, in + o * es, out + o * es, len, type, op, sliceBytes);
    });
  }
  Status first = ringAllReduce(*this, in, out, off(1), type, op, sliceBytes);
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

namespace {

// The wire form of a call for BRAID_CHECK (what every rank must agree on).
struct OpWire {
  uint64_t seq;
  uint64_t count;
  int32_t coll;
  int32_t type;
  int32_t op;    // -1 where the collective has none
  int32_t root;  // -1 where the collective has none
};

OpWire wireOf(const CollectiveCall& call, uint64_t seq) {
  return {seq,
          call.count,
          static_cast<int32_t>(call.coll),
          call.type,
          hasRedOp(call.coll) ? call.op : -1,
          hasRoot(call.coll) ? call.root : -1};
}

// What another rank called, for the mismatch message.
std::string describeWire(const OpWire& o) {
  CollectiveCall call;
  call.coll = static_cast<Collective>(o.coll);
  call.count = o.count;
  call.type = o.type;
  call.op = o.op;
  call.root = o.root;
  return describeCall(call);
}

bool isCollective(int32_t coll) {
  return coll >= 0 && coll <= static_cast<int32_t>(Collective::kReduce);
}

}  // namespace

Status Communicator::checkAgreement(const CollectiveCall& call) {
  const OpWire mine = wireOf(call, opSeq_);
  std::vector<uint8_t> all;
  BRAID_RETURN_IF_ERROR(bootstrap_->allgather(&mine, sizeof(mine), &all));
  std::vector<OpWire> table(static_cast<size_t>(nranks_));
  std::memcpy(table.data(), all.data(), all.size());
  std::string diffs;
  for (int r = 0; r < nranks_; ++r) {
    const OpWire& o = table[static_cast<size_t>(r)];
    if (std::memcmp(&o, &mine, sizeof(o)) == 0) continue;
    std::string what;
    if (o.seq != mine.seq) {
      what = "it is at collective #" + std::to_string(o.seq);
    } else if (!isCollective(o.coll)) {
      what = "it called an unknown collective";
    } else {
      what = "it called " + describeWire(o);
    }
    if (diffs.size() < 600) diffs += "; rank " + std::to_string(r) + ": " + what;
  }
  if (diffs.empty()) return Status::ok();
  return invalidUsage("rank " + std::to_string(rank_) + ": collective #" + std::to_string(opSeq_) +
                      " does not match across ranks (BRAID_CHECK): this rank called " +
                      describeCall(call) + diffs);
}

Status Communicator::execute(const CollectiveCall& call) {
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
      Status s = remote.withContext("rank " + std::to_string(rank_) + ": " +
                                    collectiveName(call.coll) + " not started: ");
      fail(s, false);
      return s;
    }
    if (config_.checkCollectives) {
      Status agree = checkAgreement(call);
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
  Status s = dispatch(call);
  if (!s) {
    Status remote = nranks_ > 1 ? bootstrap_->checkRemote() : Status::ok();
    bool fromRemote = !remote.isOk();
    std::string context = "rank " + std::to_string(rank_) + ": " + collectiveName(call.coll) +
                          " of " + std::to_string(call.count) + " x " +
                          dataTypeName(call.dataType()) + " failed: ";
    // A failure notice names the culprit better than our broken link to a neighbour does.
    Status err = fromRemote && s.code() != braidTimeout ? remote.withContext(context)
                                                        : s.withContext(context);
    fail(err, !fromRemote);
    return err;
  }
  return s;
}

}  // namespace braid
