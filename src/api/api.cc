// The C entry points: check arguments before any communication, turn Status into
// braidResult_t, keep the last error string per communicator (and per thread for calls
// without one). No C++ exception crosses this boundary.
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
#include "comm/communicator.h"
#include "core/config.h"
#include "core/log.h"
#include "core/socket_io.h"
#include "reduce/reduce.h"

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

}  // namespace
}  // namespace braid

struct braidComm {
  std::unique_ptr<braid::Communicator> impl;
  std::shared_ptr<braid::ErrorState> error = std::make_shared<braid::ErrorState>();
  // Calls in flight, so braidCommAbort from another thread frees nothing in use. An atomic,
  // not a mutex: every call pays for this guard, and a call never touches the communicator
  // after its decrement (abort polls for zero, then frees).
  std::atomic<int> activeCalls{0};
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

class CallGuard {
 public:
  explicit CallGuard(braidComm* comm) : comm_(comm) {
    comm_->activeCalls.fetch_add(1, std::memory_order_acq_rel);
  }
  // braidCommAbort frees the communicator as soon as it sees no active call: nothing here may
  // touch it after the decrement.
  ~CallGuard() { comm_->activeCalls.fetch_sub(1, std::memory_order_acq_rel); }
  CallGuard(const CallGuard&) = delete;
  CallGuard& operator=(const CallGuard&) = delete;

 private:
  braidComm* comm_;
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

// Argument checks shared by the collectives. 'what' names the call in messages.
Status checkCommon(const char* what, braidComm* comm, int type, braidStream_t stream) {
  if (!isValidDataType(type)) {
    return invalidArgument(std::string(what) + ": invalid datatype " + std::to_string(type));
  }
  if (stream != nullptr) {
    return invalidArgument(std::string(what) +
                           ": stream must be NULL: this build supports host buffers only");
  }
  (void)comm;
  return Status::ok();
}

Status checkOp(const char* what, int op) {
  if (!isValidRedOp(op)) {
    return invalidArgument(std::string(what) + ": invalid reduction op " + std::to_string(op));
  }
  return Status::ok();
}

// type must have passed checkCommon.
Status checkBytes(const char* what, size_t count, size_t multiplier, int type, size_t* bytes) {
  size_t es = dataTypeSize(static_cast<braidDataType_t>(type));
  if (count != 0 && (count > SIZE_MAX / multiplier || count * multiplier > SIZE_MAX / es)) {
    return invalidArgument(std::string(what) + ": count " + std::to_string(count) +
                           " is too large");
  }
  *bytes = count * multiplier * es;
  return Status::ok();
}

bool overlaps(const void* a, size_t aBytes, const void* b, size_t bBytes) {
  auto x = reinterpret_cast<uintptr_t>(a);
  auto y = reinterpret_cast<uintptr_t>(b);
  return x < y + bBytes && y < x + aBytes;
}

Status checkRoot(const char* what, int root, int nranks) {
  if (root < 0 || root >= nranks) {
    return invalidArgument(std::string(what) + ": root " + std::to_string(root) +
                           " is out of range [0, " + std::to_string(nranks) + ")");
  }
  return Status::ok();
}

Status nullBuffer(const char* what, const char* name) {
  return invalidArgument(std::string(what) + ": " + name + " is NULL with a nonzero count");
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
  return guarded(nullptr, [&]() -> braidResult_t {
    delete comm;
    return braidSuccess;
  });
}

BRAID_API braidResult_t braidCommAbort(braidComm_t comm) {
  if (comm == nullptr) return noComm(invalidArgument("braidCommAbort: comm is NULL"));
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
  if (!isValidDataType(datatype)) {
    return record(comm, invalidArgument(std::string(what) + ": invalid datatype " +
                                        std::to_string(static_cast<int>(datatype))));
  }
  const std::string line = describeChoice(comm->impl->tuning(
      static_cast<braid::Collective>(collective), count * dataTypeSize(datatype), count));
  const size_t n = std::min(line.size(), textBytes - 1);
  line.copy(text, n);
  text[n] = '\0';
  return braidSuccess;
}

BRAID_API braidResult_t braidAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                                       braidDataType_t datatype, braidRedOp_t op, braidComm_t comm,
                                       braidStream_t stream) {
  const char* what = "braidAllReduce";
  if (comm == nullptr) return noComm(invalidArgument(std::string(what) + ": comm is NULL"));
  CallGuard guard(comm);
  return guarded(comm, [&]() -> braidResult_t {
    size_t bytes = 0;
    Status s = checkCommon(what, comm, rawValue(datatype), stream);
    if (s) s = checkOp(what, rawValue(op));
    if (s) s = checkBytes(what, count, 1, rawValue(datatype), &bytes);
    if (s && count > 0 && sendbuff == nullptr) s = nullBuffer(what, "sendbuff");
    if (s && count > 0 && recvbuff == nullptr) s = nullBuffer(what, "recvbuff");
    if (s && sendbuff != recvbuff && overlaps(sendbuff, bytes, recvbuff, bytes)) {
      s = invalidArgument(std::string(what) +
                          ": sendbuff and recvbuff overlap without being equal");
    }
    if (s) s = comm->impl->allReduce(sendbuff, recvbuff, count, datatype, op);
    return record(comm, s);
  });
}

BRAID_API braidResult_t braidReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                                           braidDataType_t datatype, braidRedOp_t op,
                                           braidComm_t comm, braidStream_t stream) {
  const char* what = "braidReduceScatter";
  if (comm == nullptr) return noComm(invalidArgument(std::string(what) + ": comm is NULL"));
  CallGuard guard(comm);
  return guarded(comm, [&]() -> braidResult_t {
    const int n = comm->impl->nranks();
    size_t outBytes = 0;
    size_t inBytes = 0;
    Status s = checkCommon(what, comm, rawValue(datatype), stream);
    if (s) s = checkOp(what, rawValue(op));
    if (s) s = checkBytes(what, recvcount, 1, rawValue(datatype), &outBytes);
    if (s) s = checkBytes(what, recvcount, static_cast<size_t>(n), rawValue(datatype), &inBytes);
    if (s && recvcount > 0 && sendbuff == nullptr) s = nullBuffer(what, "sendbuff");
    if (s && recvcount > 0 && recvbuff == nullptr) s = nullBuffer(what, "recvbuff");
    if (s && recvcount > 0) {
      const char* inPlace =
          static_cast<const char*>(sendbuff) + outBytes * static_cast<size_t>(comm->impl->rank());
      if (recvbuff != inPlace && overlaps(sendbuff, inBytes, recvbuff, outBytes)) {
        s = invalidArgument(
            std::string(what) +
            ": recvbuff overlaps sendbuff but is not at this rank's offset (in place)");
      }
    }
    if (s) s = comm->impl->reduceScatter(sendbuff, recvbuff, recvcount, datatype, op);
    return record(comm, s);
  });
}

BRAID_API braidResult_t braidAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                                       braidDataType_t datatype, braidComm_t comm,
                                       braidStream_t stream) {
  const char* what = "braidAllGather";
  if (comm == nullptr) return noComm(invalidArgument(std::string(what) + ": comm is NULL"));
  CallGuard guard(comm);
  return guarded(comm, [&]() -> braidResult_t {
    const int n = comm->impl->nranks();
    size_t inBytes = 0;
    size_t outBytes = 0;
    Status s = checkCommon(what, comm, rawValue(datatype), stream);
    if (s) s = checkBytes(what, sendcount, 1, rawValue(datatype), &inBytes);
    if (s) s = checkBytes(what, sendcount, static_cast<size_t>(n), rawValue(datatype), &outBytes);
    if (s && sendcount > 0 && sendbuff == nullptr) s = nullBuffer(what, "sendbuff");
    if (s && sendcount > 0 && recvbuff == nullptr) s = nullBuffer(what, "recvbuff");
    if (s && sendcount > 0) {
      const char* inPlace =
          static_cast<const char*>(recvbuff) + inBytes * static_cast<size_t>(comm->impl->rank());
      if (sendbuff != inPlace && overlaps(sendbuff, inBytes, recvbuff, outBytes)) {
        s = invalidArgument(
            std::string(what) +
            ": sendbuff overlaps recvbuff but is not at this rank's offset (in place)");
      }
    }
    if (s) s = comm->impl->allGather(sendbuff, recvbuff, sendcount, datatype);
    return record(comm, s);
  });
}

BRAID_API braidResult_t braidBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                                       braidDataType_t datatype, int root, braidComm_t comm,
                                       braidStream_t stream) {
  const char* what = "braidBroadcast";
  if (comm == nullptr) return noComm(invalidArgument(std::string(what) + ": comm is NULL"));
  CallGuard guard(comm);
  return guarded(comm, [&]() -> braidResult_t {
    size_t bytes = 0;
    const bool isRoot = comm->impl->rank() == root;
    Status s = checkCommon(what, comm, rawValue(datatype), stream);
    if (s) s = checkRoot(what, root, comm->impl->nranks());
    if (s) s = checkBytes(what, count, 1, rawValue(datatype), &bytes);
    if (s && count > 0 && isRoot && sendbuff == nullptr)
      s = nullBuffer(what, "sendbuff (on the root)");
    if (s && count > 0 && recvbuff == nullptr) s = nullBuffer(what, "recvbuff");
    if (s && isRoot && sendbuff != recvbuff && overlaps(sendbuff, bytes, recvbuff, bytes)) {
      s = invalidArgument(std::string(what) +
                          ": sendbuff and recvbuff overlap without being equal");
    }
    if (s) s = comm->impl->broadcast(isRoot ? sendbuff : nullptr, recvbuff, count, datatype, root);
    return record(comm, s);
  });
}

BRAID_API braidResult_t braidReduce(const void* sendbuff, void* recvbuff, size_t count,
                                    braidDataType_t datatype, braidRedOp_t op, int root,
                                    braidComm_t comm, braidStream_t stream) {
  const char* what = "braidReduce";
  if (comm == nullptr) return noComm(invalidArgument(std::string(what) + ": comm is NULL"));
  CallGuard guard(comm);
  return guarded(comm, [&]() -> braidResult_t {
    size_t bytes = 0;
    const bool isRoot = comm->impl->rank() == root;
    Status s = checkCommon(what, comm, rawValue(datatype), stream);
    if (s) s = checkOp(what, rawValue(op));
    if (s) s = checkRoot(what, root, comm->impl->nranks());
    if (s) s = checkBytes(what, count, 1, rawValue(datatype), &bytes);
    if (s && count > 0 && sendbuff == nullptr) s = nullBuffer(what, "sendbuff");
    if (s && count > 0 && isRoot && recvbuff == nullptr)
      s = nullBuffer(what, "recvbuff (on the root)");
    if (s && isRoot && sendbuff != recvbuff && overlaps(sendbuff, bytes, recvbuff, bytes)) {
      s = invalidArgument(std::string(what) +
                          ": sendbuff and recvbuff overlap without being equal");
    }
    if (s) s = comm->impl->reduce(sendbuff, isRoot ? recvbuff : nullptr, count, datatype, op, root);
    return record(comm, s);
  });
}

BRAID_API braidResult_t braidIAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                                        braidDataType_t datatype, braidRedOp_t op, braidComm_t comm,
                                        braidRequest_t* request) {
  const char* what = "braidIAllReduce";
  if (comm == nullptr) return noComm(invalidArgument(std::string(what) + ": comm is NULL"));
  CallGuard guard(comm);
  return guarded(comm, [&]() -> braidResult_t {
    if (request == nullptr)
      return record(comm, invalidArgument(std::string(what) + ": request is NULL"));
    *request = nullptr;
    size_t bytes = 0;
    Status s = checkCommon(what, comm, rawValue(datatype), nullptr);
    if (s) s = checkOp(what, rawValue(op));
    if (s) s = checkBytes(what, count, 1, rawValue(datatype), &bytes);
    if (s && count > 0 && sendbuff == nullptr) s = nullBuffer(what, "sendbuff");
    if (s && count > 0 && recvbuff == nullptr) s = nullBuffer(what, "recvbuff");
    if (s && sendbuff != recvbuff && overlaps(sendbuff, bytes, recvbuff, bytes)) {
      s = invalidArgument(std::string(what) +
                          ": sendbuff and recvbuff overlap without being equal");
    }
    if (!s) return record(comm, s);
    auto* req = new braidRequest;
    req->error = comm->error;
    s = comm->impl->allReduceAsync(sendbuff, recvbuff, count, datatype, op, &req->request);
    if (!s) {
      delete req;
      return record(comm, s);
    }
    *request = req;
    return braidSuccess;
  });
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
