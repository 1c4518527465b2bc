// The C entry points: check arguments before any communication, turn Status into
// braidResult_t, keep the last error string per communicator (and per thread for calls
// without one). No C++ exception crosses this boundary.
#include <pthread.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>

#include "bootstrap/env_init.h"
#include "bootstrap/wire.h"
#include "braid/braid.h"
#include "comm/collective.h"
#include "comm/communicator.h"
#include "core/config.h"
#include "core/datatype.h"
#include "core/log.h"
#include "core/socket_io.h"

#define BRAID_API __attribute__((visibility("default")))

namespace braid {
namespace {

// The error of the last call that had no communicator, per thread (the contract's
// braidGetLastError(NULL)).
thread_local std::string tlsLastError;

struct ErrorState {
  std::mutex mu;
  std::string text;
};

// How many times this process's ancestry forked since the library was loaded: a child of
// fork() sees one more than its parent did. A communicator remembers the count it was created
// under, so a child can tell that a communicator is its parent's (its sockets, shared memory
// and progress thread are the parent's, or gone) with one load per call instead of a getpid()
// system call. Process-wide by nature: fork() copies the whole process.
std::atomic<uint64_t> forkGeneration{0};

uint64_t currentForkGeneration() {
  static std::once_flag once;
  std::call_once(once, [] {
    pthread_atfork(nullptr, nullptr,
                   [] { forkGeneration.fetch_add(1, std::memory_order_relaxed); });
  });
  return forkGeneration.load(std::memory_order_relaxed);
}

}  // namespace
}  // namespace braid

struct braidComm {
  std::unique_ptr<braid::Communicator> impl;
  std::shared_ptr<braid::ErrorState> error = std::make_shared<braid::ErrorState>();
  // Calls in flight, so braidCommAbort from another thread frees nothing in use. An atomic,
  // not a mutex: every call pays for this guard, and a call never touches the communicator
  // after its decrement (abort polls for zero, then frees).
  std::atomic<int> activeCalls{0};
  // See forkGeneration: a communicator belongs to the process that created it.
  const uint64_t forkGeneration = braid::currentForkGeneration();
};

struct braidRequest {
  std::shared_ptr<braid::Request> request;
  std::shared_ptr<braid::ErrorState> error;
};

namespace braid {
namespace {

braidResult_t noComm(const Status& s) {
  tlsLastError = s.message();
  if (!s.isOk()) BRAID_INFO(-1, "%s", s.message().c_str());
  return s.code();
}

braidResult_t record(braidComm* comm, const Status& s) {
  if (!s.isOk()) {
    std::lock_guard<std::mutex> lock(comm->error->mu);
    comm->error->text = s.message();
  }
  return s.code();
}

Status checkOwnProcess(const char* what, const braidComm* comm) {
  if (comm->forkGeneration == forkGeneration.load(std::memory_order_relaxed)) return Status::ok();
  return invalidUsage(std::string(what) +
                      ": the communicator was created in another process (this process is a "
                      "child made by fork() after braidCommInit); create a new one here");
}

class CallGuard {
 public:
  explicit CallGuard(braidComm* comm)
      : comm_(comm), before_(comm_->activeCalls.fetch_add(1, std::memory_order_acq_rel)) {}
  // braidCommAbort frees the communicator as soon as it sees no active call: nothing here may
  // touch it after the decrement.
  ~CallGuard() { comm_->activeCalls.fetch_sub(1, std::memory_order_acq_rel); }
  CallGuard(const CallGuard&) = delete;
  CallGuard& operator=(const CallGuard&) = delete;

  // The contract: a communicator is used by one thread at a time (braidCommAbort excepted) and
  // only in the process that created it. A second call while one is in progress would
  // interleave two collectives' messages on the same connections, so it is refused before it
  // touches anything; the call in progress goes on unharmed.
  Status check(const char* what) const {
    BRAID_RETURN_IF_ERROR(checkOwnProcess(what, comm_));
    if (before_ != 0) {
      return invalidUsage(std::string(what) +
                          ": another call on this communicator is in progress (a communicator "
                          "is used by one thread at a time)");
    }
    return Status::ok();
  }

 private:
  braidComm* comm_;
  int before_;  // calls in progress when this one started
};

template <typename F>
braidResult_t guarded(braidComm* comm, F&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    Status s = systemError("out of memory");
    return comm ? record(comm, s) : noComm(s);
  } catch (const std::exception& e) {
    Status s = internalError(std::string("internal error: ") + e.what());
    return comm ? record(comm, s) : noComm(s);
  } catch (...) {
    Status s = internalError("internal error: unknown exception");
    return comm ? record(comm, s) : noComm(s);
  }
}

// A C caller may pass any int as an enum (say (braidDataType_t)42); in C++ loading such a value
// as the enum type is undefined, so entry points read the raw representation and validate it
// before it is ever used as the enum.
template <typename E>
int rawValue(const E& e) {
  static_assert(sizeof(E) == sizeof(int), "C enums are int-sized");
  int v;
  std::memcpy(&v, &e, sizeof(v));
  return v;
}

// Every collective entry point ends here: the call's arguments are checked in one place
// (checkCall, before any communication, so a bad call leaves the communicator usable), then
// the communicator runs it on the executor the descriptor names. `request` is the caller's
// out-parameter for Completion::kRequest, nullptr otherwise.
braidResult_t runCall(const char* what, braidComm* comm, const CollectiveCall& call,
                      braidRequest_t* request) {
  if (comm == nullptr) return noComm(invalidArgument(std::string(what) + ": comm is NULL"));
  CallGuard guard(comm);
  return guarded(comm, [&]() -> braidResult_t {
    if (Status u = guard.check(what); !u) return record(comm, u);
    const bool wantsRequest = call.completion == Completion::kRequest;
    if (wantsRequest) {
      if (request == nullptr)
        return record(comm, invalidArgument(std::string(what) + ": request is NULL"));
      *request = nullptr;
    }
    Status s = checkCall(what, call, comm->impl->rank(), comm->impl->nranks());
    if (!s) return record(comm, s);
    if (!wantsRequest) return record(comm, comm->impl->start(call));
    auto* req = new braidRequest;
    req->error = comm->error;
    s = comm->impl->start(call, &req->request);
    if (!s) {
      delete req;
      return record(comm, s);
    }
    *request = req;
    return braidSuccess;
  });
}

}  // namespace
}  // namespace braid

using namespace braid;

extern "C" {

BRAID_API const char* braidGetErrorString(braidResult_t result) {
  switch (result) {
    case braidSuccess:
      return "no error";
    case braidUnhandledCudaError:
      return "unhandled CUDA error";
    case braidSystemError:
      return "system error (a system call, memory or the network failed)";
    case braidInternalError:
      return "internal error (a bug in Braid)";
    case braidInvalidArgument:
      return "invalid argument";
    case braidInvalidUsage:
      return "invalid usage";
    case braidRemoteError:
      return "remote error (a peer failed or a connection was lost)";
    case braidInProgress:
      return "operation in progress";
    case braidTimeout:
      return "timeout (no progress within BRAID_TIMEOUT_MS)";
  }
  return "unknown result code";
}

BRAID_API const char* braidGetLastError(braidComm_t comm) {
  if (comm == nullptr) return tlsLastError.c_str();
  // A copy per thread: threads may ask at once (a waiter thread and the caller, say), and the
  // string stays valid until this thread's next braidGetLastError.
  thread_local std::string copy;
  std::lock_guard<std::mutex> lock(comm->error->mu);
  copy = comm->error->text;
  return copy.c_str();
}

BRAID_API braidResult_t braidGetVersion(int* version) {
  if (version == nullptr) return noComm(invalidArgument("braidGetVersion: version is NULL"));
  *version = BRAID_VERSION_CODE;
  return braidSuccess;
}

BRAID_API braidResult_t braidGetUniqueId(braidUniqueId* uniqueId) {
  return guarded(nullptr, [&]() -> braidResult_t {
    if (uniqueId == nullptr) return noComm(invalidArgument("braidGetUniqueId: uniqueId is NULL"));
    Config config;
    Status s = Config::fromEnv(&config);
    if (!s) return noComm(s.withContext("braidGetUniqueId: "));
    UniqueIdContents id;
    std::string ifname;
    s = chooseLocalAddress(config.socketIfname, config.socketFamily, nullptr, &id.root, &ifname);
    if (!s) return noComm(s.withContext("braidGetUniqueId: "));
    // A port that is free now and outside the kernel's ephemeral range, so no socket's
    // automatic port can take it before rank 0 binds it in braidCommInitRank (possibly in
    // another process after fork()).
    SocketAddress bound;
    s = pickRootPort(id.root, &bound);
    if (!s) return noComm(s.withContext("braidGetUniqueId: "));
    id.root = bound;
    s = randomSecret(&id.secret);
    if (!s) return noComm(s.withContext("braidGetUniqueId: "));
    encodeUniqueId(id, uniqueId);
    BRAID_INFO(-1, "unique id: root %s (%s)", bound.toString().c_str(), ifname.c_str());
    tlsLastError.clear();
    return braidSuccess;
  });
}

static braidResult_t initComm(braidComm_t* comm, const CommParams& params) {
  std::unique_ptr<Communicator> impl;
  Status s = Communicator::create(params, &impl);
  if (!s) {
    std::string msg = s.message();
    if (msg.compare(0, 5, "rank ") != 0)
      s = s.withContext("rank " + std::to_string(params.rank) + ": ");
    return noComm(s.withContext("braidCommInit failed: "));
  }
  auto* c = new braidComm;
  c->impl = std::move(impl);
  *comm = c;
  tlsLastError.clear();
  return braidSuccess;
}

BRAID_API braidResult_t braidCommInitRank(braidComm_t* comm, int nranks, braidUniqueId commId,
                                          int rank) {
  return guarded(nullptr, [&]() -> braidResult_t {
    if (comm == nullptr) return noComm(invalidArgument("braidCommInitRank: comm is NULL"));
    *comm = nullptr;
    if (nranks < 1)
      return noComm(invalidArgument("braidCommInitRank: nranks " + std::to_string(nranks) +
                                    " must be at least 1"));
    UniqueIdContents id;
    Status s = decodeUniqueId(commId, &id);
    if (!s) return noComm(s.withContext("braidCommInitRank: "));
    if (rank < 0 || rank >= nranks) {
      BootstrapParams report;
      report.rank = rank;
      report.nranks = nranks;
      report.root = id.root;
      report.secret = id.secret;
      Config config;
      if (Config::fromEnv(&config).isOk()) {
        report.timeoutMs = config.timeoutMs;
        report.hostId = config.hostId;
      }
      Bootstrap::reportInvalidRank(report);
      return noComm(invalidArgument("braidCommInitRank: rank " + std::to_string(rank) +
                                    " is out of range for nranks " + std::to_string(nranks)));
    }
    CommParams params;
    params.nranks = nranks;
    params.rank = rank;
    params.root = id.root;
    params.secret = id.secret;
    return initComm(comm, params);
  });
}

BRAID_API braidResult_t braidCommInitFromEnv(braidComm_t* comm) {
  return guarded(nullptr, [&]() -> braidResult_t {
    if (comm == nullptr) return noComm(invalidArgument("braidCommInitFromEnv: comm is NULL"));
    *comm = nullptr;
    LaunchInfo info;
    Status s = detectLaunch(&info);
    if (!s) return noComm(s);
    BRAID_INFO(info.rank, "init from %s environment: rank %d of %d, root %s%s",
               info.launcher.c_str(), info.rank, info.nranks, info.root.toString().c_str(),
               info.authenticated ? "" : " (no BRAID_SECRET: rendezvous is not authenticated)");
    CommParams params;
    params.nranks = info.nranks;
    params.rank = info.rank;
    params.root = info.root;
    params.secret = info.secret;
    return initComm(comm, params);
  });
}

BRAID_API braidResult_t braidCommDestroy(braidComm_t comm) {
  if (comm == nullptr) return noComm(invalidArgument("braidCommDestroy: comm is NULL"));
  // In a child of fork() the communicator's connections and shared memory are the parent's:
  // tearing them down here would break the parent's communicator, so nothing is touched.
  if (Status u = checkOwnProcess("braidCommDestroy", comm); !u) return record(comm, u);
  return guarded(nullptr, [&]() -> braidResult_t {
    delete comm;
    return braidSuccess;
  });
}

BRAID_API braidResult_t braidCommAbort(braidComm_t comm) {
  if (comm == nullptr) return noComm(invalidArgument("braidCommAbort: comm is NULL"));
  if (Status u = checkOwnProcess("braidCommAbort", comm); !u) return record(comm, u);
  return guarded(nullptr, [&]() -> braidResult_t {
    comm->impl->abort();
    // Calls in flight fail fast once aborted; wait for them to leave.
    while (comm->activeCalls.load(std::memory_order_acquire) != 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    delete comm;
    return braidSuccess;
  });
}

BRAID_API braidResult_t braidCommCount(const braidComm_t comm, int* count) {
  if (comm == nullptr) return noComm(invalidArgument("braidCommCount: comm is NULL"));
  if (count == nullptr) return record(comm, invalidArgument("braidCommCount: count is NULL"));
  *count = comm->impl->nranks();
  return braidSuccess;
}

BRAID_API braidResult_t braidCommUserRank(const braidComm_t comm, int* rank) {
  if (comm == nullptr) return noComm(invalidArgument("braidCommUserRank: comm is NULL"));
  if (rank == nullptr) return record(comm, invalidArgument("braidCommUserRank: rank is NULL"));
  *rank = comm->impl->rank();
  return braidSuccess;
}

BRAID_API braidResult_t braidCommDescribeTuning(braidComm_t comm, int collective, size_t count,
                                                braidDataType_t datatype, char* text,
                                                size_t textBytes) {
  const char* what = "braidCommDescribeTuning";
  if (comm == nullptr) return noComm(invalidArgument(std::string(what) + ": comm is NULL"));
  if (text == nullptr || textBytes == 0) {
    return record(comm, invalidArgument(std::string(what) + ": text is NULL or textBytes is 0"));
  }
  if (collective < 0 || collective > static_cast<int>(braid::Collective::kReduce)) {
    return record(comm, invalidArgument(std::string(what) + ": collective " +
                                        std::to_string(collective) + " is not 0..4"));
  }
  if (!isValidDataType(rawValue(datatype))) {
    return record(comm, invalidArgument(std::string(what) + ": invalid datatype " +
                                        std::to_string(rawValue(datatype))));
  }
  // The same limit as the collectives' (checkCall): no byte count wraps around.
  const size_t es = dataTypeSize(datatype);
  if (count > kMaxCallBytes / es) {
    return record(comm, invalidArgument(std::string(what) + ": count " + std::to_string(count) +
                                        " is too large"));
  }
  const std::string line = describeChoice(
      comm->impl->tuning(static_cast<braid::Collective>(collective), count * es, count));
  const size_t n = std::min(line.size(), textBytes - 1);
  line.copy(text, n);
  text[n] = '\0';
  return braidSuccess;
}

BRAID_API braidResult_t braidAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                                       braidDataType_t datatype, braidRedOp_t op, braidComm_t comm,
                                       braidStream_t stream) {
  return runCall("braidAllReduce", comm,
                 {.coll = Collective::kAllReduce,
                  .sendbuff = sendbuff,
                  .recvbuff = recvbuff,
                  .count = count,
                  .type = rawValue(datatype),
                  .op = rawValue(op),
                  .stream = stream},
                 nullptr);
}

BRAID_API braidResult_t braidReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                                           braidDataType_t datatype, braidRedOp_t op,
                                           braidComm_t comm, braidStream_t stream) {
  return runCall("braidReduceScatter", comm,
                 {.coll = Collective::kReduceScatter,
                  .sendbuff = sendbuff,
                  .recvbuff = recvbuff,
                  .count = recvcount,
                  .type = rawValue(datatype),
                  .op = rawValue(op),
                  .stream = stream},
                 nullptr);
}

BRAID_API braidResult_t braidAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                                       braidDataType_t datatype, braidComm_t comm,
                                       braidStream_t stream) {
  return runCall("braidAllGather", comm,
                 {.coll = Collective::kAllGather,
                  .sendbuff = sendbuff,
                  .recvbuff = recvbuff,
                  .count = sendcount,
                  .type = rawValue(datatype),
                  .stream = stream},
                 nullptr);
}

BRAID_API braidResult_t braidBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                                       braidDataType_t datatype, int root, braidComm_t comm,
                                       braidStream_t stream) {
  return runCall("braidBroadcast", comm,
                 {.coll = Collective::kBroadcast,
                  .sendbuff = sendbuff,
                  .recvbuff = recvbuff,
                  .count = count,
                  .type = rawValue(datatype),
                  .root = root,
                  .stream = stream},
                 nullptr);
}

BRAID_API braidResult_t braidReduce(const void* sendbuff, void* recvbuff, size_t count,
                                    braidDataType_t datatype, braidRedOp_t op, int root,
                                    braidComm_t comm, braidStream_t stream) {
  return runCall("braidReduce", comm,
                 {.coll = Collective::kReduce,
                  .sendbuff = sendbuff,
                  .recvbuff = recvbuff,
                  .count = count,
                  .type = rawValue(datatype),
                  .op = rawValue(op),
                  .root = root,
                  .stream = stream},
                 nullptr);
}

BRAID_API braidResult_t braidIAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                                        braidDataType_t datatype, braidRedOp_t op, braidComm_t comm,
                                        braidRequest_t* request) {
  return runCall("braidIAllReduce", comm,
                 {.coll = Collective::kAllReduce,
                  .sendbuff = sendbuff,
                  .recvbuff = recvbuff,
                  .count = count,
                  .type = rawValue(datatype),
                  .op = rawValue(op),
                  .completion = Completion::kRequest},
                 request);
}

BRAID_API braidResult_t braidTest(braidRequest_t request, int* done) {
  if (request == nullptr) return noComm(invalidArgument("braidTest: request is NULL"));
  if (done == nullptr) return noComm(invalidArgument("braidTest: done is NULL"));
  *done = request->request->done() ? 1 : 0;
  return braidSuccess;
}

BRAID_API braidResult_t braidWait(braidRequest_t request) {
  if (request == nullptr) return noComm(invalidArgument("braidWait: request is NULL"));
  Status s = request->request->wait();
  if (!s.isOk()) {
    std::lock_guard<std::mutex> lock(request->error->mu);
    request->error->text = s.message();
    tlsLastError = s.message();
  }
  delete request;
  return s.code();
}

}  // extern "C"
