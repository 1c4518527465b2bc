// C entry points of the gradient synchronizer (braidGradSync*). The work is in
// src/gradsync/grad_sync.cc, which reaches the communicator only through the public C API.
// No C++ exception crosses this boundary.
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>

#include "braid/braid.h"
#include "gradsync/grad_sync.h"

#define BRAID_API __attribute__((visibility("default")))

struct braidGradSync {
  std::unique_ptr<braid::GradSync> impl;
  std::string lastErrorCopy;  // what braidGradSyncGetLastError hands out
};

namespace {

// The last error of a gradsync call that had no synchronizer, per thread.
thread_local std::string tlsGradSyncError;

braidResult_t noHandle(braidResult_t code, const std::string& message) {
  tlsGradSyncError = message;
  return code;
}

// The enum's bits as an int, without loading an out-of-range enum value (UB that UBSan reports).
int rawValue(const braidDataType_t& e) {
  static_assert(sizeof(braidDataType_t) == sizeof(int), "C enums are int-sized");
  int v;
  std::memcpy(&v, &e, sizeof(v));
  return v;
}

template <typename F>
braidResult_t guarded(braidGradSync* gs, const char* what, F&& body) {
  try {
    gs->impl->clearError();
    return body();
  } catch (const std::bad_alloc&) {
    return gs->impl->fail(braidSystemError, std::string(what) + ": out of memory");
  } catch (const std::exception& e) {
    return gs->impl->fail(braidInternalError, std::string(what) + ": " + e.what());
  } catch (...) {
    return gs->impl->fail(braidInternalError, std::string(what) + ": unknown exception");
  }
}

}  // namespace

extern "C" {

BRAID_API braidResult_t braidGradSyncCreate(braidGradSync_t* gradSync, braidComm_t comm,
                                            size_t bucketBytes, int flags) {
  const char* what = "braidGradSyncCreate";
  if (gradSync == nullptr) {
    return noHandle(braidInvalidArgument, std::string(what) + ": gradSync is NULL");
  }
  *gradSync = nullptr;
  if (comm == nullptr) return noHandle(braidInvalidArgument, std::string(what) + ": comm is NULL");
  if ((flags & ~(BRAID_GRADSYNC_BF16 | BRAID_GRADSYNC_SUM)) != 0) {
    return noHandle(braidInvalidArgument,
                    std::string(what) + ": unknown flags " + std::to_string(flags) +
                        " (known: BRAID_GRADSYNC_BF16 = 1, BRAID_GRADSYNC_SUM = 2)");
  }
  int nranks = 0;
  if (braidCommCount(comm, &nranks) != braidSuccess) {
    const char* e = braidGetLastError(comm);
    return noHandle(braidInvalidUsage,
                    std::string(what) + ": the communicator is not usable: " + (e ? e : ""));
  }
  try {
    auto gs = std::make_unique<braidGradSync>();
    gs->impl = std::make_unique<braid::GradSync>(comm, bucketBytes, flags);
    *gradSync = gs.release();
    return braidSuccess;
  } catch (const std::bad_alloc&) {
    return noHandle(braidSystemError, std::string(what) + ": out of memory");
  } catch (...) {
    return noHandle(braidInternalError, std::string(what) + ": unknown exception");
  }
}

BRAID_API braidResult_t braidGradSyncRegister(braidGradSync_t gradSync, void* grad, size_t count,
                                              braidDataType_t datatype, int* index) {
  const char* what = "braidGradSyncRegister";
  if (gradSync == nullptr) {
    return noHandle(braidInvalidArgument, std::string(what) + ": gradSync is NULL");
  }
  const int raw = rawValue(datatype);
  return guarded(gradSync, what,
                 [&] { return gradSync->impl->registerGrad(grad, count, raw, index); });
}

BRAID_API braidResult_t braidGradSyncFinalize(braidGradSync_t gradSync) {
  const char* what = "braidGradSyncFinalize";
  if (gradSync == nullptr) {
    return noHandle(braidInvalidArgument, std::string(what) + ": gradSync is NULL");
  }
  return guarded(gradSync, what, [&] { return gradSync->impl->finalize(); });
}

BRAID_API braidResult_t braidGradSyncMarkReady(braidGradSync_t gradSync, int index,
                                               const void* grad) {
  const char* what = "braidGradSyncMarkReady";
  if (gradSync == nullptr) {
    return noHandle(braidInvalidArgument, std::string(what) + ": gradSync is NULL");
  }
  return guarded(gradSync, what, [&] { return gradSync->impl->markReady(index, grad); });
}

BRAID_API braidResult_t braidGradSyncWait(braidGradSync_t gradSync) {
  const char* what = "braidGradSyncWait";
  if (gradSync == nullptr) {
    return noHandle(braidInvalidArgument, std::string(what) + ": gradSync is NULL");
  }
  return guarded(gradSync, what, [&] { return gradSync->impl->wait(); });
}

BRAID_API braidResult_t braidGradSyncGetBucketCount(braidGradSync_t gradSync, int* buckets) {
  const char* what = "braidGradSyncGetBucketCount";
  if (gradSync == nullptr) {
    return noHandle(braidInvalidArgument, std::string(what) + ": gradSync is NULL");
  }
  return guarded(gradSync, what, [&] { return gradSync->impl->bucketCount(buckets); });
}

BRAID_API braidResult_t braidGradSyncDestroy(braidGradSync_t gradSync) {
  if (gradSync == nullptr) return braidSuccess;
  braidResult_t r = braidSuccess;
  std::string message;
  try {
    r = gradSync->impl->drain();
    if (r != braidSuccess) message = gradSync->impl->lastError();
  } catch (...) {
    r = braidInternalError;
    message = "braidGradSyncDestroy: unknown exception";
  }
  delete gradSync;
  if (r != braidSuccess) return noHandle(r, message);
  return braidSuccess;
}

BRAID_API const char* braidGradSyncGetLastError(braidGradSync_t gradSync) {
  if (gradSync == nullptr) return tlsGradSyncError.c_str();
  try {
    gradSync->lastErrorCopy = gradSync->impl->lastError();
  } catch (...) {
    return "out of memory";
  }
  return gradSync->lastErrorCopy.c_str();
}

}  // extern "C"
