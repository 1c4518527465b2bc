#include "algo/window_collectives.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "reduce/reduce.h"

namespace braid {

namespace {

enum Flag { kStaged = 0, kReduced = 1, kDone = 2, kAddress = 3 };

struct Stage {
  char* in;
  char* res;
};

// Window layout: the tagged-word area (two parities), a line for the address of the rank's
// input buffer (single-copy path), then the stages.
constexpr size_t kTaggedAreaBytes = 2 * 2 * kTaggedMaxBytes;
constexpr size_t kHeaderBytes = kTaggedAreaBytes + 128;

Stage stageOf(SharedWindow& w, int rank, uint64_t step) {
  const size_t bytes = windowStageBytes(w.bytes());
  char* base = w.data(rank) + kHeaderBytes + static_cast<size_t>(step % kWindowStages) * 2 * bytes;
  return {base, base + bytes};
}

std::atomic<uint64_t>& inputAddress(SharedWindow& w, int rank) {
  return *reinterpret_cast<std::atomic<uint64_t>*>(w.data(rank) + kTaggedAreaBytes);
}

std::atomic<uint64_t>* taggedWords(SharedWindow& w, int rank, uint32_t tag) {
  return reinterpret_cast<std::atomic<uint64_t>*>(w.data(rank) + (tag & 1) * 2 * kTaggedMaxBytes);
}

// Before writing step t's stage: every rank has finished with the step that used it last.
Status waitStageFree(AlgoContext& ctx, uint64_t step) {
  if (step <= static_cast<uint64_t>(kWindowStages)) return Status::ok();
  for (int p = 0; p < ctx.nranks(); ++p) {
    if (p != ctx.rank()) BRAID_RETURN_IF_ERROR(ctx.waitFlag(p, kDone, step - kWindowStages));
  }
  return Status::ok();
}

Status waitAll(AlgoContext& ctx, Flag which, uint64_t step) {
  for (int p = 0; p < ctx.nranks(); ++p) {
    if (p != ctx.rank()) BRAID_RETURN_IF_ERROR(ctx.waitFlag(p, which, step));
  }
  return Status::ok();
}

// Folds srcs[0..n) in order into out (out may alias srcs[0] but no other).
void fold(MemoryOps& mem, char* out, const char* const* srcs, int n, size_t count,
          braidDataType_t type, braidRedOp_t op) {
  mem.reduce(out, srcs[0], srcs[1], count, type, op, n == 2, n);
  for (int p = 2; p < n; ++p) mem.reduce(out, out, srcs[p], count, type, op, p == n - 1, n);
}

// Source pointers for a fold, without a heap allocation on the latency path.
class Sources {
 public:
  explicit Sources(int n) {
    if (n > kInline) heap_.resize(static_cast<size_t>(n));
  }
  const char** data() { return heap_.empty() ? inline_ : heap_.data(); }

 private:
  static constexpr int kInline = 16;
  const char* inline_[kInline] = {};
  std::vector<const char*> heap_;
};

// Small messages as tagged words: each 8-byte word carries 4 bytes of data and the operation's
// tag, written with one atomic store, so a reader polls the data itself and the message costs
// one cache-line transfer instead of a flag and then the data. A rank reuses a parity's words
// two operations later, by when every peer has read them: a peer wrote its own words of the
// operation in between only after it finished reading ours.
Status taggedAllReduce(AlgoContext& ctx, const char* in, char* out, size_t count, size_t es,
                       braidDataType_t type, braidRedOp_t op) {
  SharedWindow* w = ctx.window();
  const int n = ctx.nranks();
  const int me = ctx.rank();
  const size_t bytes = count * es;
  const size_t words = (bytes + 3) / 4;
  const uint32_t tag = w->nextTag();
  const uint64_t high = static_cast<uint64_t>(tag) << 32;
  std::atomic<uint64_t>* mine = taggedWords(*w, me, tag);
  // (Fixed-size copies for the whole words: a variable-size memcpy is a call per word.)
  const size_t full = bytes / 4;
  for (size_t i = 0; i < full; ++i) {
    uint32_t d;
    std::memcpy(&d, in + 4 * i, 4);
    mine[i].store(high | d, std::memory_order_relaxed);
  }
  if (full < words) {
    uint32_t d = 0;
    std::memcpy(&d, in + 4 * full, bytes - 4 * full);
    mine[full].store(high | d, std::memory_order_relaxed);
  }
  w->notify();
  char* tmp = ctx.scratch(0);
  Sources sources(n);
  const char** srcs = sources.data();
  for (int p = 0; p < n; ++p) {
    char* dst = tmp + static_cast<size_t>(p) * kTaggedMaxBytes;
    srcs[p] = dst;
    if (p == me) {
      // In place, the fold overwrites our input before reading it when we are not rank 0.
      if (in == out && me != 0) {
        ctx.memory().copy(dst, in, bytes);
      } else {
        srcs[p] = in;
      }
      continue;
    }
    std::atomic<uint64_t>* theirs = taggedWords(*w, p, tag);
    // Poll the last word only: the peer wrote its words in order, so (x86 stores being seen in
    // program order) the others are there too, and the reader does not pull each line back and
    // forth while the writer fills it. Each word's tag is still checked below.
    if ((theirs[words - 1].load(std::memory_order_acquire) >> 32) != tag)
      BRAID_RETURN_IF_ERROR(ctx.waitTagged(p, theirs[words - 1], tag));
    for (size_t i = 0; i < words; ++i) {
      uint64_t v = theirs[i].load(std::memory_order_acquire);
      if ((v >> 32) != tag) {
        BRAID_RETURN_IF_ERROR(ctx.waitTagged(p, theirs[i], tag));
        v = theirs[i].load(std::memory_order_acquire);
      }
      const auto d = static_cast<uint32_t>(v);
      if (i < full) {
        std::memcpy(dst + 4 * i, &d, 4);
      } else {
        std::memcpy(dst + 4 * i, &d, bytes - 4 * i);
      }
    }
  }
  fold(ctx.memory(), out, srcs, n, count, type, op);
  return Status::ok();
}

}  // namespace

size_t windowStageBytes(size_t windowBytes) {
  return (windowBytes - kHeaderBytes) / (2 * kWindowStages) / 128 * 128;
}

Status oneshotAllReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                        braidDataType_t type, braidRedOp_t op) {
  const size_t es = dataTypeSize(type);
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  if (reducedLocally(ctx, in, out, count, es, type, op)) return Status::ok();
  if (count * es <= kTaggedMaxBytes &&
      static_cast<size_t>(ctx.nranks()) * kTaggedMaxBytes <= ctx.scratchBytes()) {
    return taggedAllReduce(ctx, in, out, count, es, type, op);
  }
  SharedWindow* w = ctx.window();
  const int n = ctx.nranks();
  const int me = ctx.rank();
  MemoryOps& mem = ctx.memory();
  const size_t chunk = std::max<size_t>(1, windowStageBytes(w->bytes()) / es);
  const size_t nchunks = (count + chunk - 1) / chunk;
  const uint64_t first = w->reserveSteps(nchunks);
  Sources sources(n);
  const char** src = sources.data();
  for (size_t k = 0; k < nchunks; ++k) {
    const uint64_t step = first + k;
    const size_t base = k * chunk;
    const size_t m = std::min(chunk, count - base);
    BRAID_RETURN_IF_ERROR(waitStageFree(ctx, step));
    mem.copy(stageOf(*w, me, step).in, in + base * es, m * es);
    w->post(kStaged, step);
    BRAID_RETURN_IF_ERROR(waitAll(ctx, kStaged, step));
    for (int p = 0; p < n; ++p) src[p] = stageOf(*w, p, step).in;
    // From our staged copy too: in place, our input is what we are about to overwrite.
    fold(mem, out + base * es, src, n, m, type, op);
    w->post(kDone, step);
  }
  return Status::ok();
}

namespace {

// twoshot with every rank receiving the result (root < 0), or only root (Reduce).
Status twoshot(AlgoContext& ctx, const char* in, char* out, size_t count, braidDataType_t type,
               braidRedOp_t op, int root) {
  const size_t es = dataTypeSize(type);
  SharedWindow* w = ctx.window();
  const int n = ctx.nranks();
  const int me = ctx.rank();
  const bool receives = root < 0 || root == me;
  MemoryOps& mem = ctx.memory();
  const size_t chunk = std::max<size_t>(1, windowStageBytes(w->bytes()) / es);
  const size_t nchunks = (count + chunk - 1) / chunk;
  const uint64_t first = w->reserveSteps(nchunks);
  // Large results go to memory around the caches (the slots stay cached); small ones stay in
  // the cache, where the caller will read them.
  const bool stream = count * es >= kStreamingMinBytes;
  auto copyOut = [&](char* dst, const char* from, size_t bytes) {
    if (stream) {
      mem.copyStreaming(dst, from, bytes);
    } else {
      mem.copy(dst, from, bytes);
    }
  };
  // Slices in whole 64-byte units where possible, so the kernels see aligned vectors.
  const size_t unit = std::max<size_t>(1, 64 / es);
  Sources sources(n);
  const char** srcs = sources.data();
  // Single copy: every rank reads its slice of the others' inputs straight from their
  // buffers (their addresses go through the window), instead of each rank staging its input
  // for the others. Worth its system calls for large messages only.
  // (The others' parts of a slice must fit the input slot.)
  const size_t sliceMax = ((chunk / unit) / static_cast<size_t>(n) + 1) * unit;
  const bool single = w->canReadRemote() && count * es >= kSingleCopyMinBytes &&
                      static_cast<size_t>(n - 1) * sliceMax <= chunk;
  std::vector<uint64_t> peerInput;
  if (single) {
    inputAddress(*w, me).store(reinterpret_cast<uintptr_t>(in), std::memory_order_relaxed);
    w->post(kAddress, first);
    BRAID_RETURN_IF_ERROR(waitAll(ctx, kAddress, first));
    peerInput.resize(static_cast<size_t>(n));
    for (int p = 0; p < n; ++p) {
      peerInput[static_cast<size_t>(p)] = inputAddress(*w, p).load(std::memory_order_relaxed);
    }
  }
  for (size_t k = 0; k < nchunks; ++k) {
    const uint64_t step = first + k;
    const size_t base = k * chunk;
    const size_t m = std::min(chunk, count - base);
    const size_t units = (m + unit - 1) / unit;
    auto off = [&](int p) {
      const size_t per = units / static_cast<size_t>(n);
      const size_t rem = units % static_cast<size_t>(n);
      const size_t u = static_cast<size_t>(p) * per + std::min(static_cast<size_t>(p), rem);
      return std::min(m, u * unit);
    };
    auto len = [&](int p) { return (p + 1 < n ? off(p + 1) : m) - off(p); };
    BRAID_RETURN_IF_ERROR(waitStageFree(ctx, step));
    const Stage mine = stageOf(*w, me, step);
    const char* src = in + base * es;
    if (single) {
      // Read the others' parts of our slice straight from their buffers into our input slot.
      for (int p = 0, i = 0; p < n; ++p) {
        if (p == me) {
          srcs[p] = src + off(me) * es;
          continue;
        }
        char* dst = mine.in + static_cast<size_t>(i++) * len(me) * es;
        if (len(me) > 0) {
          BRAID_RETURN_IF_ERROR(
              w->readRemote(p, dst, peerInput[p] + (base + off(me)) * es, len(me) * es));
        }
        srcs[p] = dst;
      }
    } else {
      // Stage what the others reduce: everything but our own slice.
      if (off(me) > 0) mem.copy(mine.in, src, off(me) * es);
      const size_t end = off(me) + len(me);
      if (end < m) mem.copy(mine.in + end * es, src + end * es, (m - end) * es);
      w->post(kStaged, step);
      BRAID_RETURN_IF_ERROR(waitAll(ctx, kStaged, step));
      for (int p = 0; p < n; ++p) {
        srcs[p] = (p == me ? src : stageOf(*w, p, step).in) + off(me) * es;
      }
    }
    if (len(me) > 0) {
      char* res = mine.res + off(me) * es;
      fold(mem, res, srcs, n, len(me), type, op);
      if (receives) copyOut(out + (base + off(me)) * es, res, len(me) * es);
    }
    w->post(kReduced, step);
    for (int p = 0; p < n && receives; ++p) {
      if (p == me) continue;
      BRAID_RETURN_IF_ERROR(ctx.waitFlag(p, kReduced, step));
      if (len(p) > 0) {
        copyOut(out + (base + off(p)) * es, stageOf(*w, p, step).res + off(p) * es, len(p) * es);
      }
    }
    w->post(kDone, step);
  }
  // Our input must stay untouched until every rank has read its slices of it: a rank that
  // gathered everyone's results knows; a Reduce's non-root does not, so it waits.
  if (single && !receives) BRAID_RETURN_IF_ERROR(waitAll(ctx, kReduced, first + nchunks - 1));
  return Status::ok();
}

}  // namespace

Status twoshotAllReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                        braidDataType_t type, braidRedOp_t op) {
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  if (reducedLocally(ctx, in, out, count, dataTypeSize(type), type, op)) return Status::ok();
  return twoshot(ctx, in, out, count, type, op, -1);
}

Status windowReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                    braidDataType_t type, braidRedOp_t op, int root) {
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  if (count == 0) return Status::ok();
  return twoshot(ctx, in, out, count, type, op, root);
}

Status windowReduceScatter(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t recvcount,
                           braidDataType_t type, braidRedOp_t op) {
  const size_t es = dataTypeSize(type);
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  if (recvcount == 0) return Status::ok();
  SharedWindow* w = ctx.window();
  const int n = ctx.nranks();
  const int me = ctx.rank();
  MemoryOps& mem = ctx.memory();
  // A step stages a piece of every rank's block: n pieces per input slot.
  const size_t piece =
      std::max<size_t>(1, windowStageBytes(w->bytes()) / static_cast<size_t>(n) / es);
  const size_t nsteps = (recvcount + piece - 1) / piece;
  const uint64_t first = w->reserveSteps(nsteps);
  Sources sources(n);
  const char** srcs = sources.data();
  for (size_t k = 0; k < nsteps; ++k) {
    const uint64_t step = first + k;
    const size_t base = k * piece;
    const size_t m = std::min(piece, recvcount - base);
    BRAID_RETURN_IF_ERROR(waitStageFree(ctx, step));
    // Every block's piece, our own too: in place, our output is our own block of the input,
    // so the fold must read a copy of it.
    char* slot = stageOf(*w, me, step).in;
    for (int b = 0; b < n; ++b) {
      mem.copy(slot + static_cast<size_t>(b) * m * es,
               in + (static_cast<size_t>(b) * recvcount + base) * es, m * es);
    }
    w->post(kStaged, step);
    BRAID_RETURN_IF_ERROR(waitAll(ctx, kStaged, step));
    for (int p = 0; p < n; ++p) {
      srcs[p] = stageOf(*w, p, step).in + static_cast<size_t>(me) * m * es;
    }
    fold(mem, out + base * es, srcs, n, m, type, op);
    w->post(kDone, step);
  }
  return Status::ok();
}

Status windowAllGather(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t sendcount,
                       braidDataType_t type) {
  const size_t es = dataTypeSize(type);
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  if (sendcount == 0) return Status::ok();
  SharedWindow* w = ctx.window();
  const int n = ctx.nranks();
  const int me = ctx.rank();
  MemoryOps& mem = ctx.memory();
  const size_t chunk = std::max<size_t>(1, windowStageBytes(w->bytes()) / es);
  const size_t nsteps = (sendcount + chunk - 1) / chunk;
  const uint64_t first = w->reserveSteps(nsteps);
  const bool stream = sendcount * es * static_cast<size_t>(n) >= kStreamingMinBytes;
  // Our own block first (in place it is already there).
  mem.copy(out + static_cast<size_t>(me) * sendcount * es, in, sendcount * es);
  for (size_t k = 0; k < nsteps; ++k) {
    const uint64_t step = first + k;
    const size_t base = k * chunk;
    const size_t m = std::min(chunk, sendcount - base);
    BRAID_RETURN_IF_ERROR(waitStageFree(ctx, step));
    mem.copy(stageOf(*w, me, step).in, in + base * es, m * es);
    w->post(kStaged, step);
    for (int p = 0; p < n; ++p) {
      if (p == me) continue;
      BRAID_RETURN_IF_ERROR(ctx.waitFlag(p, kStaged, step));
      char* dst = out + (static_cast<size_t>(p) * sendcount + base) * es;
      if (stream) {
        mem.copyStreaming(dst, stageOf(*w, p, step).in, m * es);
      } else {
        mem.copy(dst, stageOf(*w, p, step).in, m * es);
      }
    }
    w->post(kDone, step);
  }
  return Status::ok();
}

Status windowBroadcast(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                       braidDataType_t type, int root) {
  const size_t es = dataTypeSize(type);
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  if (count == 0) return Status::ok();
  SharedWindow* w = ctx.window();
  const int me = ctx.rank();
  MemoryOps& mem = ctx.memory();
  const size_t chunk = std::max<size_t>(1, windowStageBytes(w->bytes()) / es);
  const size_t nsteps = (count + chunk - 1) / chunk;
  const uint64_t first = w->reserveSteps(nsteps);
  const bool stream = count * es >= kStreamingMinBytes;
  if (me == root) mem.copy(out, in, count * es);
  for (size_t k = 0; k < nsteps; ++k) {
    const uint64_t step = first + k;
    const size_t base = k * chunk;
    const size_t m = std::min(chunk, count - base);
    if (me == root) {
      BRAID_RETURN_IF_ERROR(waitStageFree(ctx, step));
      mem.copy(stageOf(*w, me, step).in, in + base * es, m * es);
      w->post(kStaged, step);
    } else {
      BRAID_RETURN_IF_ERROR(ctx.waitFlag(root, kStaged, step));
      if (stream) {
        mem.copyStreaming(out + base * es, stageOf(*w, root, step).in, m * es);
      } else {
        mem.copy(out + base * es, stageOf(*w, root, step).in, m * es);
      }
    }
    w->post(kDone, step);
  }
  return Status::ok();
}

}  // namespace braid
