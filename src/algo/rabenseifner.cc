#include "algo/rabenseifner.h"

#include <algorithm>
#include <string>
#include <vector>

#include "reduce/reduce.h"

namespace braid {

namespace {

Status peer(AlgoContext& ctx, int rank, Connection** out) {
  *out = ctx.connectionTo(rank);
  if (*out == nullptr)
    return internalError("rabenseifner AllReduce: no connection to rank " + std::to_string(rank));
  return Status::ok();
}

// Receives `m` elements from `conn` in slices into scratch and folds each into dst:
// dst = mine (op) received, while sending `m` elements of `send` (may be nullptr) to `conn` in
// slices of the same sizes. Waits for the sends before returning.
Status exchangeAndReduce(AlgoContext& ctx, Connection* conn, const char* send, size_t sendCount,
                         const char* mine, char* dst, size_t m, size_t es, braidDataType_t type,
                         braidRedOp_t op, bool last, size_t slice) {
  uint64_t lastSend = 0;
  for (size_t base = 0; send != nullptr && base < sendCount; base += slice)
    lastSend = conn->postSend(send + base * es, std::min(slice, sendCount - base) * es);
  const size_t nslices = (m + slice - 1) / slice;
  char* buf[2] = {ctx.scratch(0), ctx.scratch(1)};
  uint64_t ticket[2] = {0, 0};
  auto post = [&](size_t k) {
    const size_t base = k * slice;
    ticket[k % 2] = conn->postRecv(buf[k % 2], std::min(slice, m - base) * es);
  };
  if (nslices > 0) post(0);
  for (size_t k = 0; k < nslices; ++k) {
    if (k + 1 < nslices) post(k + 1);
    BRAID_RETURN_IF_ERROR(ctx.waitRecv(conn, ticket[k % 2]));
    const size_t base = k * slice;
    ctx.memory().reduce(dst + base * es, mine + base * es, buf[k % 2], std::min(slice, m - base),
                        type, op, last, ctx.nranks());
  }
  if (lastSend != 0) BRAID_RETURN_IF_ERROR(ctx.waitSend(conn, lastSend));
  return Status::ok();
}

}  // namespace

Status rabenseifnerAllReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                             braidDataType_t type, braidRedOp_t op, size_t sliceBytes) {
  const int n = ctx.nranks();
  const int r = ctx.rank();
  const size_t es = dataTypeSize(type);
  const char* in = static_cast<const char*>(sendbuff);
  char* out = static_cast<char*>(recvbuff);
  if (reducedLocally(ctx, in, out, count, es, type, op)) return Status::ok();
  int p = 1;
  while (p * 2 <= n) p *= 2;
  const int extra = n - p;
  const size_t slice = std::max<size_t>(1, sliceBytes / es);

  // Fold the extra ranks in: even ranks below 2 * extra hand their input to the next rank.
  bool haveOut = false;  // whether out holds this rank's partial sums yet
  if (r < 2 * extra) {
    Connection* partner = nullptr;
    if (r % 2 == 0) {
      BRAID_RETURN_IF_ERROR(peer(ctx, r + 1, &partner));
      uint64_t lastSend = 0;
      for (size_t base = 0; base < count; base += slice)
        lastSend = partner->postSend(in + base * es, std::min(slice, count - base) * es);
      // In place, the input must have left before the result lands on it.
      if (in == out) BRAID_RETURN_IF_ERROR(ctx.waitSend(partner, lastSend));
      const uint64_t t = partner->postRecv(out, count * es);
      BRAID_RETURN_IF_ERROR(ctx.waitRecv(partner, t));
      return ctx.waitSend(partner, lastSend);
    }
    BRAID_RETURN_IF_ERROR(peer(ctx, r - 1, &partner));
    BRAID_RETURN_IF_ERROR(
        exchangeAndReduce(ctx, partner, nullptr, 0, in, out, count, es, type, op, false, slice));
    haveOut = true;
  }
  const int vr = r < 2 * extra ? r / 2 : r - extra;
  auto realRank = [&](int v) { return v < extra ? 2 * v + 1 : v + extra; };

  // Reduce-scatter by recursive halving: the window [lo, hi) halves at every step.
  size_t lo = 0;
  size_t hi = count;
  struct Step {
    size_t lo, mid, hi;  // the window before the step and where it split
    bool keptLow;
  };
  std::vector<Step> steps;  // for the all-gather
  for (int dist = p / 2; dist >= 1; dist /= 2) {
    Connection* partner = nullptr;
    BRAID_RETURN_IF_ERROR(peer(ctx, realRank(vr ^ dist), &partner));
    const size_t mid = lo + (hi - lo) / 2;
    const bool keepLow = (vr & dist) == 0;
    steps.push_back({lo, mid, hi, keepLow});
    const size_t keepLo = keepLow ? lo : mid;
    const size_t keepHi = keepLow ? mid : hi;
    const size_t sendLo = keepLow ? mid : lo;
    const size_t sendHi = keepLow ? hi : mid;
    const char* src = haveOut ? out : in;
    BRAID_RETURN_IF_ERROR(exchangeAndReduce(ctx, partner, src + sendLo * es, sendHi - sendLo,
                                            src + keepLo * es, out + keepLo * es, keepHi - keepLo,
                                            es, type, op, dist == 1, slice));
    haveOut = true;
    lo = keepLo;
    hi = keepHi;
  }

  // All-gather by recursive doubling: swap windows with the same partners in reverse.
  for (int dist = 1, i = static_cast<int>(steps.size()) - 1; dist < p; dist *= 2, --i) {
    Connection* partner = nullptr;
    BRAID_RETURN_IF_ERROR(peer(ctx, realRank(vr ^ dist), &partner));
    const Step& st = steps[static_cast<size_t>(i)];
    // Ours is [lo, hi), one half of the step's window; the partner holds the other half.
    const size_t theirLo = st.keptLow ? st.mid : st.lo;
    const size_t theirHi = st.keptLow ? st.hi : st.mid;
    uint64_t s = 0;
    if (hi > lo) s = partner->postSend(out + lo * es, (hi - lo) * es);
    if (theirHi > theirLo) {
      const uint64_t t = partner->postRecv(out + theirLo * es, (theirHi - theirLo) * es);
      BRAID_RETURN_IF_ERROR(ctx.waitRecv(partner, t));
    }
    if (s != 0) BRAID_RETURN_IF_ERROR(ctx.waitSend(partner, s));
    lo = st.lo;
    hi = st.hi;
  }

  // Hand the result to the folded-in partner.
  if (r < 2 * extra) {
    Connection* partner = nullptr;
    BRAID_RETURN_IF_ERROR(peer(ctx, r - 1, &partner));
    const uint64_t s = partner->postSend(out, count * es);
    BRAID_RETURN_IF_ERROR(ctx.waitSend(partner, s));
  }
  return Status::ok();
}

}  // namespace braid
