#include "algo/window_collectives.h"

#include <algorithm>
#include <vector>

#include "reduce/reduce.h"

namespace braid {

namespace {

enum Flag { kStaged = 0, kReduced = 1, kDone = 2 };

struct Stage {
  char* in;
  char* res;
};

Stage stageOf(SharedWindow& w, int rank, uint64_t step) {
  const size_t bytes = windowStageBytes(w.bytes());
  char* base = w.data(rank) + static_cast<size_t>(step % kWindowStages) * 2 * bytes;
  return {base, base + bytes};
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

}  // namespace

size_t windowStageBytes(size_t windowBytes) {
  return windowBytes / (2 * kWindowStages) / 128 * 128;
}

Status oneshotAllReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                        braidDataType_t type, braidRedOp_t op) {
  const size_t es = dataTypeSize(type);
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  if (reducedLocally(ctx, in, out, count, es, type, op)) return Status::ok();
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

Status twoshotAllReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                        braidDataType_t type, braidRedOp_t op) {
  const size_t es = dataTypeSize(type);
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  if (reducedLocally(ctx, in, out, count, es, type, op)) return Status::ok();
  SharedWindow* w = ctx.window();
  const int n = ctx.nranks();
  const int me = ctx.rank();
  MemoryOps& mem = ctx.memory();
  const size_t chunk = std::max<size_t>(1, windowStageBytes(w->bytes()) / es);
  const size_t nchunks = (count + chunk - 1) / chunk;
  const uint64_t first = w->reserveSteps(nchunks);
  // Slices in whole 64-byte units where possible, so the kernels see aligned vectors.
  const size_t unit = std::max<size_t>(1, 64 / es);
  Sources sources(n);
  const char** srcs = sources.data();
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
    // Stage what the others reduce: everything but our own slice.
    if (off(me) > 0) mem.copy(mine.in, src, off(me) * es);
    const size_t end = off(me) + len(me);
    if (end < m) mem.copy(mine.in + end * es, src + end * es, (m - end) * es);
    w->post(kStaged, step);
    BRAID_RETURN_IF_ERROR(waitAll(ctx, kStaged, step));
    if (len(me) > 0) {
      for (int p = 0; p < n; ++p) {
        srcs[p] = (p == me ? src : stageOf(*w, p, step).in) + off(me) * es;
      }
      char* res = mine.res + off(me) * es;
      fold(mem, res, srcs, n, len(me), type, op);
      mem.copy(out + (base + off(me)) * es, res, len(me) * es);
    }
    w->post(kReduced, step);
    for (int p = 0; p < n; ++p) {
      if (p == me) continue;
      BRAID_RETURN_IF_ERROR(ctx.waitFlag(p, kReduced, step));
      if (len(p) > 0) {
        mem.copy(out + (base + off(p)) * es, stageOf(*w, p, step).res + off(p) * es, len(p) * es);
      }
    }
    w->post(kDone, step);
  }
  return Status::ok();
}

}  // namespace braid
