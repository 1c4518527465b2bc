#include "algo/ring.h"

#include <algorithm>
#include <vector>

#include "reduce/reduce.h"

namespace braid {

namespace {

int mod(int a, int n) { return ((a % n) + n) % n; }

// The ring position of a rank (O(n); called once per rooted collective).
int positionOf(AlgoContext& ctx, int rank) {
  for (int p = 0; p < ctx.nranks(); ++p) {
    if (ctx.ringRank(p) == rank) return p;
  }
  return rank;
}

// Elements per pipeline slice (the tuner's chunk, which the caller passes as sliceBytes).
size_t sliceElems(size_t sliceBytes, size_t elemSize) {
  return std::max<size_t>(1, sliceBytes / elemSize);
}

// Waits until every send posted on conn so far has completed (buffers reusable).
Status drainSends(AlgoContext& ctx, Connection* conn, uint64_t lastTicket) {
  if (lastTicket == 0) return Status::ok();
  return ctx.waitSend(conn, lastTicket);
}

}  // namespace

Status ringAllReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                     braidDataType_t type, braidRedOp_t op, size_t sliceBytes) {
  const int n = ctx.nranks();
  // Chunks are numbered by ring position: the result covers the whole buffer, so any
  // numbering works as long as it follows the ring.
  const int r = ctx.ringPosition();
  const size_t es = dataTypeSize(type);
  MemoryOps& mem = ctx.memory();
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  if (reducedLocally(ctx, in, out, count, es, type, op)) return Status::ok();
  Connection* next = ctx.next();
  Connection* prev = ctx.prev();
  char* tmp = ctx.scratch(0);
  const size_t slab = sliceElems(sliceBytes, es) * static_cast<size_t>(n);
  const bool inPlace = in == out;
  uint64_t lastSend = 0;
  // rsSend[s]: ticket of the reduce-scatter send at step s of the current slab.
  std::vector<uint64_t> rsSend(static_cast<size_t>(n), 0);

  for (size_t base = 0; base < count; base += slab) {
    const size_t m = std::min(slab, count - base);
    const size_t per = m / static_cast<size_t>(n);
    const size_t rem = m % static_cast<size_t>(n);
    auto off = [&](int c) {
      return (base + static_cast<size_t>(c) * per + std::min(static_cast<size_t>(c), rem)) * es;
    };
    auto len = [&](int c) { return per + (static_cast<size_t>(c) < rem ? 1 : 0); };

    // Reduce-scatter: after step s, chunk r-s-1 holds the sum of s+2 ranks' inputs; after the
    // last step this rank owns the final value of chunk r+1.
    for (int s = 0; s < n - 1; ++s) {
      const int sc = mod(r - s, n);
      const int rc = mod(r - s - 1, n);
      rsSend[s] = 0;
      if (len(sc) > 0) {
        lastSend = next->postSend((s == 0 ? in : out) + off(sc), len(sc) * es);
        rsSend[s] = lastSend;
      }
      if (len(rc) > 0) {
        const uint64_t t = prev->postRecv(tmp, len(rc) * es);
        BRAID_RETURN_IF_ERROR(ctx.waitRecv(prev, t));
        mem.reduce(out + off(rc), tmp, in + off(rc), len(rc), type, op, s == n - 2, n);
      }
    }
    for (int s = 0; s < n - 1; ++s) {
      const int sc = mod(r + 1 - s, n);
      const int rc = mod(r - s, n);
      if (len(sc) > 0) lastSend = next->postSend(out + off(sc), len(sc) * es);
      // The all-gather's step s receives into chunk r-s, which the reduce-scatter's step s sent
      // from (out, or for s == 0 the input, the same memory in place): that send must be gone.
      if ((s > 0 || inPlace) && rsSend[s] != 0)
        BRAID_RETURN_IF_ERROR(ctx.waitSend(next, rsSend[s]));
      if (len(rc) > 0) {
        const uint64_t t = prev->postRecv(out + off(rc), len(rc) * es);
        BRAID_RETURN_IF_ERROR(ctx.waitRecv(prev, t));
      }
    }
  }
  return drainSends(ctx, next, lastSend);
}

Status ringReduceScatter(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t recvcount,
                         braidDataType_t type, braidRedOp_t op, size_t sliceBytes) {
  const int n = ctx.nranks();
  // r is the ring position; the output layout is by rank, so chunk c (a position) lives at
  // rank ringRank(c)'s offset.
  const int r = ctx.ringPosition();
  const size_t es = dataTypeSize(type);
  MemoryOps& mem = ctx.memory();
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  if (reducedLocally(ctx, in, out, recvcount, es, type, op)) return Status::ok();
  Connection* next = ctx.next();
  Connection* prev = ctx.prev();
  char* tmp = ctx.scratch(0);
  char* acc[2] = {ctx.scratch(1), ctx.scratch(2)};
  uint64_t accSend[2] = {0, 0};
  uint64_t lastSend = 0;
  const size_t slice = sliceElems(sliceBytes, es);
  auto chunk = [&](const char* buf, int c, size_t base) {
    return buf + (static_cast<size_t>(ctx.ringRank(c)) * recvcount + base) * es;
  };

  for (size_t base = 0; base < recvcount; base += slice) {
    const size_t m = std::min(slice, recvcount - base);
    const size_t bytes = m * es;
    // Chunk r-s-1 is sent at step s, so the last received chunk (step n-2) is chunk r.
    for (int s = 0; s < n - 1; ++s) {
      const int rc = mod(r - s - 2, n);
      if (s == 0) {
        lastSend = next->postSend(chunk(in, mod(r - 1, n), base), bytes);
      } else {
        lastSend = next->postSend(acc[(s - 1) % 2], bytes);
        accSend[(s - 1) % 2] = lastSend;
      }
      const uint64_t t = prev->postRecv(tmp, bytes);
      BRAID_RETURN_IF_ERROR(ctx.waitRecv(prev, t));
      if (s == n - 2) {
        mem.reduce(out + base * es, tmp, chunk(in, r, base), m, type, op, true, n);
      } else {
        char* dst = acc[s % 2];
        if (accSend[s % 2] != 0) BRAID_RETURN_IF_ERROR(ctx.waitSend(next, accSend[s % 2]));
        mem.reduce(dst, tmp, chunk(in, rc, base), m, type, op, false, n);
      }
    }
  }
  return drainSends(ctx, next, lastSend);
}

Status ringAllGather(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t sendcount,
                     braidDataType_t type, size_t sliceBytes) {
  const int n = ctx.nranks();
  const int r = ctx.ringPosition();  // the output layout is by rank: position c -> ringRank(c)
  const size_t es = dataTypeSize(type);
  char* out = static_cast<char*>(recvbuff);
  if (sendcount == 0) return Status::ok();
  const size_t chunkBytes = sendcount * es;
  ctx.memory().copy(out + static_cast<size_t>(ctx.rank()) * chunkBytes, sendbuff, chunkBytes);
  if (n == 1) return Status::ok();
  Connection* next = ctx.next();
  Connection* prev = ctx.prev();
  const size_t slice = sliceElems(sliceBytes, es);
  uint64_t lastSend = 0;
  for (size_t base = 0; base < sendcount; base += slice) {
    const size_t bytes = std::min(slice, sendcount - base) * es;
    for (int s = 0; s < n - 1; ++s) {
      const size_t sendOff =
          static_cast<size_t>(ctx.ringRank(mod(r - s, n))) * chunkBytes + base * es;
      const size_t recvOff =
          static_cast<size_t>(ctx.ringRank(mod(r - s - 1, n))) * chunkBytes + base * es;
      lastSend = next->postSend(out + sendOff, bytes);
      const uint64_t t = prev->postRecv(out + recvOff, bytes);
      BRAID_RETURN_IF_ERROR(ctx.waitRecv(prev, t));
    }
  }
  return drainSends(ctx, next, lastSend);
}

Status ringBroadcast(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                     braidDataType_t type, int root, size_t sliceBytes) {
  const int n = ctx.nranks();
  // 0 = root, n-1 = end of the chain (ring positions counted from the root's)
  const int pos = n > 1 ? mod(ctx.ringPosition() - positionOf(ctx, root), n) : 0;
  const size_t es = dataTypeSize(type);
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  if (count == 0) return Status::ok();
  if (pos == 0) ctx.memory().copy(out, in, count * es);
  if (n == 1) return Status::ok();
  Connection* next = ctx.next();
  Connection* prev = ctx.prev();
  const size_t slice = sliceElems(sliceBytes, es);
  uint64_t lastSend = 0;
  for (size_t base = 0; base < count; base += slice) {
    const size_t bytes = std::min(slice, count - base) * es;
    const size_t off = base * es;
    if (pos == 0) {
      lastSend = next->postSend(in + off, bytes);
      continue;
    }
    const uint64_t t = prev->postRecv(out + off, bytes);
    BRAID_RETURN_IF_ERROR(ctx.waitRecv(prev, t));
    if (pos != n - 1) lastSend = next->postSend(out + off, bytes);
  }
  return drainSends(ctx, next, lastSend);
}

Status ringReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                  braidDataType_t type, braidRedOp_t op, int root, size_t sliceBytes) {
  const int n = ctx.nranks();
  // The chain runs pos 1, 2, ..., n-1, then 0 (root), in ring positions counted from the root's.
  const int pos = n > 1 ? mod(ctx.ringPosition() - positionOf(ctx, root), n) : 0;
  const size_t es = dataTypeSize(type);
  MemoryOps& mem = ctx.memory();
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  if (reducedLocally(ctx, in, out, count, es, type, op)) return Status::ok();
  Connection* next = ctx.next();
  Connection* prev = ctx.prev();
  char* tmp = ctx.scratch(0);
  char* acc[2] = {ctx.scratch(1), ctx.scratch(2)};
  uint64_t accSend[2] = {0, 0};
  uint64_t lastSend = 0;
  const size_t slice = sliceElems(sliceBytes, es);
  size_t k = 0;
  for (size_t base = 0; base < count; base += slice, ++k) {
    const size_t m = std::min(slice, count - base);
    const size_t off = base * es;
    if (pos == 1) {
      lastSend = next->postSend(in + off, m * es);
      continue;
    }
    const uint64_t t = prev->postRecv(tmp, m * es);
    BRAID_RETURN_IF_ERROR(ctx.waitRecv(prev, t));
    if (pos == 0) {
      mem.reduce(out + off, tmp, in + off, m, type, op, true, n);
    } else {
      const size_t slot = k % 2;
      if (accSend[slot] != 0) BRAID_RETURN_IF_ERROR(ctx.waitSend(next, accSend[slot]));
      mem.reduce(acc[slot], tmp, in + off, m, type, op, false, n);
      lastSend = next->postSend(acc[slot], m * es);
      accSend[slot] = lastSend;
    }
  }
  return drainSends(ctx, next, lastSend);
}

}  // namespace braid
