#include "gradsync/grad_sync.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core/datatype.h"
#include "core/half.h"

namespace braid {
namespace {

std::string hexPtr(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%p", p);
  return buf;
}

std::string mib(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

void packBf16(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = half_detail::floatToBfloat16Inline(src[i]);
}

void unpackBf16(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = half_detail::bfloat16ToFloatInline(src[i]);
}

uint64_t fnvMix(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xffu;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

GradSync::GradSync(braidComm_t comm, size_t bucketBytes, int flags)
    : comm_(comm),
      bucketBytes_(bucketBytes == 0 ? BRAID_GRADSYNC_DEFAULT_BUCKET_BYTES : bucketBytes),
      flags_(flags),
      op_((flags & BRAID_GRADSYNC_SUM) ? braidSum : braidAvg) {}

GradSync::~GradSync() { drain(); }

braidResult_t GradSync::fail(braidResult_t code, const std::string& message) {
  lastError_ = message;
  return code;
}

std::string GradSync::commError() const {
  const char* e = braidGetLastError(comm_);
  return e != nullptr ? e : "";
}

std::string GradSync::bucketName(int b) const {
  const Bucket& bk = buckets_[static_cast<size_t>(b)];
  return "bucket " + std::to_string(b) + " (" + std::to_string(bk.grads.size()) + " " +
         dataTypeName(bk.gradDtype) + " gradients, " + mib(bk.bytes) + ")";
}

braidResult_t GradSync::registerGrad(void* grad, size_t count, int rawDtype, int* index) {
  const char* what = "braidGradSyncRegister";
  if (finalized_) {
    return fail(braidInvalidUsage,
                std::string(what) +
                    ": the layout is already final (registration ends at the first MarkReady, "
                    "GetBucketCount or Finalize); create a new synchronizer for new buffers");
  }
  if (!isValidDataType(rawDtype)) {
    return fail(braidInvalidArgument,
                std::string(what) + ": invalid datatype " + std::to_string(rawDtype));
  }
  const auto dtype = static_cast<braidDataType_t>(rawDtype);
  if (count > 0 && grad == nullptr) {
    return fail(braidInvalidArgument,
                std::string(what) + ": grad is NULL with count " + std::to_string(count));
  }
  const size_t size = dataTypeSize(dtype);
  if (count > SIZE_MAX / size / 2) {
    return fail(braidInvalidArgument,
                std::string(what) + ": count " + std::to_string(count) + " is too large");
  }
  if (grads_.size() >= static_cast<size_t>(INT32_MAX)) {
    return fail(braidInvalidUsage, std::string(what) + ": too many gradients");
  }
  Grad g;
  g.ptr = grad;
  g.count = count;
  g.dtype = dtype;
  g.bytes = count * size;
  grads_.push_back(g);
  if (index != nullptr) *index = static_cast<int>(grads_.size() - 1);
  return braidSuccess;
}

braidResult_t GradSync::finalize() {
  if (finalized_) return braidSuccess;
  const char* what = "braidGradSyncFinalize";
  // Overlapping registrations would be reduced twice (or corrupted by the packing).
  std::vector<int> byAddr;
  for (size_t i = 0; i < grads_.size(); ++i) {
    if (grads_[i].bytes > 0) byAddr.push_back(static_cast<int>(i));
  }
  std::sort(byAddr.begin(), byAddr.end(), [&](int a, int b) {
    return reinterpret_cast<uintptr_t>(grads_[static_cast<size_t>(a)].ptr) <
           reinterpret_cast<uintptr_t>(grads_[static_cast<size_t>(b)].ptr);
  });
  for (size_t k = 1; k < byAddr.size(); ++k) {
    const Grad& a = grads_[static_cast<size_t>(byAddr[k - 1])];
    const Grad& b = grads_[static_cast<size_t>(byAddr[k])];
    if (reinterpret_cast<uintptr_t>(a.ptr) + a.bytes > reinterpret_cast<uintptr_t>(b.ptr)) {
      return fail(braidInvalidUsage,
                  std::string(what) + ": gradients " + std::to_string(byAddr[k - 1]) + " and " +
                      std::to_string(byAddr[k]) + " overlap in memory (" + hexPtr(a.ptr) + ", " +
                      std::to_string(a.bytes) + " bytes, and " + hexPtr(b.ptr) + ")");
    }
  }

  // Buckets in reverse registration order, one gradient dtype each, closing at bucketBytes_.
  const bool bf16 = (flags_ & BRAID_GRADSYNC_BF16) != 0;
  std::vector<Bucket> buckets;
  for (size_t k = grads_.size(); k-- > 0;) {
    Grad& g = grads_[k];
    const bool fits = !buckets.empty() && buckets.back().gradDtype == g.dtype &&
                      buckets.back().bytes < bucketBytes_;
    if (!fits) {
      buckets.emplace_back();
      buckets.back().gradDtype = g.dtype;
      buckets.back().wireDtype = (bf16 && g.dtype == braidFloat32) ? braidBfloat16 : g.dtype;
    }
    Bucket& bk = buckets.back();
    g.bucket = static_cast<int>(buckets.size() - 1);
    g.offset = bk.count;
    bk.grads.push_back(static_cast<int>(k));
    bk.count += g.count;
    bk.bytes += g.bytes;
  }
  for (Bucket& bk : buckets) {
    // In place when the wire dtype is the gradients' and they tile one range of memory.
    std::vector<int> members;
    for (int i : bk.grads) {
      if (grads_[static_cast<size_t>(i)].bytes > 0) members.push_back(i);
    }
    std::sort(members.begin(), members.end(), [&](int a, int b) {
      return reinterpret_cast<uintptr_t>(grads_[static_cast<size_t>(a)].ptr) <
             reinterpret_cast<uintptr_t>(grads_[static_cast<size_t>(b)].ptr);
    });
    bool contiguous = bk.wireDtype == bk.gradDtype && !members.empty();
    for (size_t k = 1; contiguous && k < members.size(); ++k) {
      const Grad& a = grads_[static_cast<size_t>(members[k - 1])];
      const Grad& b = grads_[static_cast<size_t>(members[k])];
      contiguous = static_cast<const char*>(a.ptr) + a.bytes == static_cast<const char*>(b.ptr);
    }
    if (contiguous) {
      bk.inPlace = true;
      bk.base = grads_[static_cast<size_t>(members.front())].ptr;
    } else if (bk.count > 0) {
      const size_t wireBytes = bk.count * dataTypeSize(bk.wireDtype);
      bk.flat.reset(new uint64_t[(wireBytes + 7) / 8]);
      bk.base = bk.flat.get();
    }
    bk.pending = static_cast<int>(bk.grads.size());
  }
  buckets_ = std::move(buckets);
  finalized_ = true;
  braidResult_t r = checkLayoutAcrossRanks();
  if (r != braidSuccess) {
    finalized_ = false;
    buckets_.clear();
    return r;
  }
  return braidSuccess;
}

braidResult_t GradSync::checkLayoutAcrossRanks() {
  uint64_t h = 1469598103934665603ull;
  h = fnvMix(h, grads_.size());
  for (const Grad& g : grads_) {
    h = fnvMix(h, g.count);
    h = fnvMix(h, static_cast<uint64_t>(g.dtype));
  }
  h = fnvMix(h, bucketBytes_);
  h = fnvMix(h, static_cast<uint64_t>(flags_));
  uint64_t mx[2] = {h, buckets_.size()};
  uint64_t mn[2] = {h, buckets_.size()};
  braidResult_t r = braidAllReduce(mx, mx, 2, braidUint64, braidMax, comm_, nullptr);
  if (r == braidSuccess) r = braidAllReduce(mn, mn, 2, braidUint64, braidMin, comm_, nullptr);
  if (r != braidSuccess) {
    return fail(r,
                "braidGradSyncFinalize: checking the layout across ranks failed: " + commError());
  }
  if (mx[0] != mn[0] || mx[1] != mn[1]) {
    return fail(braidInvalidUsage,
                "braidGradSyncFinalize: the gradient layout differs across ranks (every rank "
                "must register the same counts and dtypes in the same order, with the same "
                "bucket size and flags); this rank has " +
                    std::to_string(grads_.size()) + " gradients in " +
                    std::to_string(buckets_.size()) + " buckets");
  }
  return braidSuccess;
}

braidResult_t GradSync::bucketCount(int* buckets) {
  if (buckets == nullptr) {
    return fail(braidInvalidArgument, "braidGradSyncGetBucketCount: buckets is NULL");
  }
  braidResult_t r = finalize();
  if (r != braidSuccess) return r;
  *buckets = static_cast<int>(buckets_.size());
  return braidSuccess;
}

braidResult_t GradSync::markReady(int index, const void* grad) {
  const char* what = "braidGradSyncMarkReady";
  if (index < 0 || static_cast<size_t>(index) >= grads_.size()) {
    return fail(braidInvalidArgument, std::string(what) + ": index " + std::to_string(index) +
                                          " is out of range (" + std::to_string(grads_.size()) +
                                          " gradients registered)");
  }
  Grad& g = grads_[static_cast<size_t>(index)];
  if (grad != nullptr && grad != g.ptr) {
    return fail(braidInvalidUsage,
                std::string(what) + ": gradient " + std::to_string(index) + " was registered at " +
                    hexPtr(g.ptr) + " but is marked at " + hexPtr(grad) +
                    "; gradient buffers must not move after registration (create a new "
                    "synchronizer for new buffers)");
  }
  if (g.ready) {
    return fail(braidInvalidUsage,
                std::string(what) + ": gradient " + std::to_string(index) +
                    " was already marked ready in this step (braidGradSyncWait ends a step)");
  }
  braidResult_t r = finalize();
  if (r != braidSuccess) return r;
  if (stepError_ != braidSuccess) return fail(stepError_, stepErrorText_);
  g.ready = true;
  ++marked_;
  Bucket& bk = buckets_[static_cast<size_t>(g.bucket)];
  --bk.pending;
  while (nextLaunch_ < static_cast<int>(buckets_.size()) &&
         buckets_[static_cast<size_t>(nextLaunch_)].pending == 0) {
    r = launch(nextLaunch_++);
    if (r != braidSuccess) return r;
  }
  return pollFinished();
}

braidResult_t GradSync::launch(int b) {
  Bucket& bk = buckets_[static_cast<size_t>(b)];
  if (bk.count == 0) {
    bk.state = BucketState::kDone;
    return braidSuccess;
  }
  if (!bk.inPlace) {
    auto* flat = reinterpret_cast<unsigned char*>(bk.flat.get());
    const size_t wsize = dataTypeSize(bk.wireDtype);
    for (int i : bk.grads) {
      const Grad& g = grads_[static_cast<size_t>(i)];
      if (g.count == 0) continue;
      if (bk.wireDtype != bk.gradDtype) {
        packBf16(static_cast<const float*>(g.ptr),
                 reinterpret_cast<uint16_t*>(flat + g.offset * wsize), g.count);
      } else {
        std::memcpy(flat + g.offset * wsize, g.ptr, g.bytes);
      }
    }
  }
  braidResult_t r =
      braidIAllReduce(bk.base, bk.base, bk.count, bk.wireDtype, op_, comm_, &bk.request);
  if (r != braidSuccess) {
    bk.request = nullptr;
    stepError_ = r;
    stepErrorText_ = "braidGradSyncMarkReady: starting the AllReduce of " + bucketName(b) +
                     " failed: " + commError();
    return fail(r, stepErrorText_);
  }
  bk.state = BucketState::kInFlight;
  return braidSuccess;
}

braidResult_t GradSync::finish(int b) {
  Bucket& bk = buckets_[static_cast<size_t>(b)];
  if (bk.state != BucketState::kInFlight) return braidSuccess;
  braidResult_t r = braidWait(bk.request);
  bk.request = nullptr;
  bk.state = BucketState::kDone;
  if (r != braidSuccess) {
    if (stepError_ == braidSuccess) {
      stepError_ = r;
      stepErrorText_ = "the AllReduce of " + bucketName(b) + " failed: " + commError();
    }
    return r;
  }
  if (!bk.inPlace) {
    const auto* flat = reinterpret_cast<const unsigned char*>(bk.flat.get());
    const size_t wsize = dataTypeSize(bk.wireDtype);
    for (int i : bk.grads) {
      const Grad& g = grads_[static_cast<size_t>(i)];
      if (g.count == 0) continue;
      if (bk.wireDtype != bk.gradDtype) {
        unpackBf16(reinterpret_cast<const uint16_t*>(flat + g.offset * wsize),
                   static_cast<float*>(g.ptr), g.count);
      } else {
        std::memcpy(g.ptr, flat + g.offset * wsize, g.bytes);
      }
    }
  }
  return braidSuccess;
}

braidResult_t GradSync::pollFinished() {
  // Unpack buckets that are already done (requests complete in issue order), so Wait has
  // less left to do. Never blocks.
  while (nextFinish_ < nextLaunch_) {
    Bucket& bk = buckets_[static_cast<size_t>(nextFinish_)];
    if (bk.state == BucketState::kInFlight) {
      int done = 0;
      if (braidTest(bk.request, &done) != braidSuccess || done == 0) break;
      braidResult_t r = finish(nextFinish_);
      if (r != braidSuccess) return fail(r, "braidGradSyncMarkReady: " + stepErrorText_);
    }
    ++nextFinish_;
  }
  return braidSuccess;
}

braidResult_t GradSync::wait() {
  const char* what = "braidGradSyncWait";
  braidResult_t r = finalize();
  if (r != braidSuccess) return r;
  if (stepError_ == braidSuccess && static_cast<size_t>(marked_) != grads_.size()) {
    std::string missing;
    int shown = 0;
    for (size_t i = 0; i < grads_.size(); ++i) {
      if (grads_[i].ready) continue;
      if (shown < 8) missing += (shown ? ", " : "") + std::to_string(i);
      ++shown;
    }
    if (shown > 8) missing += ", ...";
    return fail(braidInvalidUsage,
                std::string(what) + ": " + std::to_string(shown) + " of " +
                    std::to_string(grads_.size()) + " gradients were not marked ready (" + missing +
                    "); mark every gradient (zeros for unused ones) before waiting");
  }
  braidResult_t first = stepError_;
  std::string firstText = stepErrorText_;
  for (int b = nextFinish_; b < static_cast<int>(buckets_.size()); ++b) {
    r = finish(b);
    if (r != braidSuccess && first == braidSuccess) {
      first = r;
      firstText = stepErrorText_;
    }
  }
  resetStep();
  if (first != braidSuccess) {
    const std::string prefix = std::string(what) + ": ";
    return fail(first, firstText.rfind(prefix, 0) == 0 ? firstText : prefix + firstText);
  }
  return braidSuccess;
}

void GradSync::resetStep() {
  for (Grad& g : grads_) g.ready = false;
  for (Bucket& bk : buckets_) {
    bk.pending = static_cast<int>(bk.grads.size());
    bk.state = BucketState::kFilling;
    bk.request = nullptr;
  }
  nextLaunch_ = 0;
  nextFinish_ = 0;
  marked_ = 0;
  stepError_ = braidSuccess;
  stepErrorText_.clear();
}

braidResult_t GradSync::drain() {
  braidResult_t first = braidSuccess;
  for (Bucket& bk : buckets_) {
    if (bk.state == BucketState::kInFlight && bk.request != nullptr) {
      braidResult_t r = braidWait(bk.request);
      if (r != braidSuccess && first == braidSuccess) {
        first = r;
        lastError_ = "braidGradSyncDestroy: a reduction in flight failed: " + commError();
      }
      bk.request = nullptr;
      bk.state = BucketState::kDone;
    }
  }
  return first;
}

}  // namespace braid
