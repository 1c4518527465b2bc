#include "algo/direct.h"

#include <algorithm>
#include <vector>

#include "reduce/reduce.h"

namespace braid {

namespace {

// Two ranks, any size: stream the whole input to the peer in slices (all posted at once) and
// reduce each received slice as it lands, double-buffered.
Status directTwoRanks(AlgoContext& ctx, const char* in, char* out, size_t count, size_t es,
                      braidDataType_t type, braidRedOp_t op, size_t sliceBytes) {
  const int r = ctx.rank();
  Connection* peer = ctx.connectionTo(1 - r);
  MemoryOps& mem = ctx.memory();
  const size_t slice = std::max<size_t>(1, sliceBytes / es);
  const size_t nslices = (count + slice - 1) / slice;
  uint64_t firstSend = 0;
  for (size_t k = 0; k < nslices; ++k) {
    const size_t base = k * slice;
    const uint64_t t = peer->postSend(in + base * es, std::min(slice, count - base) * es);
    if (k == 0) firstSend = t;
  }
  char* tmp[2] = {ctx.scratch(0), ctx.scratch(1)};
  uint64_t recvTicket[2] = {0, 0};
  auto postRecv = [&](size_t k) {
    const size_t base = k * slice;
    recvTicket[k % 2] = peer->postRecv(tmp[k % 2], std::min(slice, count - base) * es);
  };
  postRecv(0);
  for (size_t k = 0; k < nslices; ++k) {
    if (k + 1 < nslices) postRecv(k + 1);
    BRAID_RETURN_IF_ERROR(ctx.waitRecv(peer, recvTicket[k % 2]));
    const size_t base = k * slice;
    const size_t m = std::min(slice, count - base);
    // In place, the slice must have left before its result overwrites it.
    if (in == out) BRAID_RETURN_IF_ERROR(ctx.waitSend(peer, firstSend + k));
    const char* mine = in + base * es;
    const char* a = r == 0 ? mine : tmp[k % 2];
    const char* b = r == 0 ? tmp[k % 2] : mine;
    mem.reduce(out + base * es, a, b, m, type, op, true, 2);
  }
  return ctx.waitSend(peer, firstSend + nslices - 1);
}

}  // namespace

Status directAllReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                       braidDataType_t type, braidRedOp_t op, size_t sliceBytes) {
  const int n = ctx.nranks();
  const int r = ctx.rank();
  const size_t es = dataTypeSize(type);
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  MemoryOps& mem = ctx.memory();
  if (reducedLocally(ctx, in, out, count, es, type, op)) return Status::ok();
  if (n == 2) return directTwoRanks(ctx, in, out, count, es, type, op, sliceBytes);
  const size_t bytes = count * es;
  if (bytes > kDirectMaxBytes) return internalError("direct AllReduce called for a large message");
  // Every input lands in its own slot of the small-message scratch (ours copied), then each
  // rank folds the slots in rank order.
  char* slots = ctx.directScratch();
  std::vector<uint64_t> sendTickets(static_cast<size_t>(n), 0);
  std::vector<uint64_t> recvTickets(static_cast<size_t>(n), 0);
  for (int p = 0; p < n; ++p) {
    if (p == r) continue;
    Connection* c = ctx.connectionTo(p);
    sendTickets[p] = c->postSend(in, bytes);
    recvTickets[p] = c->postRecv(slots + static_cast<size_t>(p) * kDirectMaxBytes, bytes);
  }
  mem.copy(slots + static_cast<size_t>(r) * kDirectMaxBytes, in, bytes);
  for (int p = 0; p < n; ++p) {
    if (p != r) BRAID_RETURN_IF_ERROR(ctx.waitRecv(ctx.connectionTo(p), recvTickets[p]));
  }
  for (int p = 0; p < n; ++p) {
    if (p != r) BRAID_RETURN_IF_ERROR(ctx.waitSend(ctx.connectionTo(p), sendTickets[p]));
  }
  auto slot = [&](int p) { return slots + static_cast<size_t>(p) * kDirectMaxBytes; };
  mem.reduce(out, slot(0), slot(1), count, type, op, n == 2, n);
  for (int p = 2; p < n; ++p) mem.reduce(out, out, slot(p), count, type, op, p == n - 1, n);
  return Status::ok();
}

}  // namespace braid
