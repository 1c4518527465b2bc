// What a collective algorithm sees of its communicator: its place in the ring, Connections to
// its neighbours, scratch memory, the memory operations, and a way to wait. Algorithms know
// nothing about transports, threads or the C API.
#pragma once

#include <cstddef>
#include <cstdint>

#include "algo/memory_ops.h"
#include "core/status.h"
#include "transports/shared_window.h"
#include "transports/transport.h"

namespace braid {

class AlgoContext {
 public:
  static constexpr int kScratchSlots = 8;

  virtual ~AlgoContext() = default;
  virtual int rank() const = 0;
  virtual int nranks() const = 0;
  // The ring order (topology plan or BRAID_RING_FILE): this rank's position in the ring, and
  // the rank at a position. next() leads to ringRank(ringPosition() + 1). Identity by default.
  virtual int ringPosition() const { return rank(); }
  virtual int ringRank(int position) const { return position; }
  virtual Connection* next() = 0;
  virtual Connection* prev() = 0;
  // A connection to any rank, or nullptr when there is none (only ring neighbours are
  // connected on large communicators).
  virtual Connection* connectionTo(int rank) = 0;
  // nranks x kDirectMaxBytes of scratch for the direct algorithm (nullptr when unavailable).
  virtual char* directScratch() = 0;
  // Blocks until the ticket completes, the connection breaks, the communicator is aborted, or
  // nothing moves for the timeout; the error names the peer.
  virtual Status waitSend(Connection* conn, uint64_t ticket) = 0;
  virtual Status waitRecv(Connection* conn, uint64_t ticket) = 0;
  // kScratchSlots scratch buffers of scratchBytes() each (64-byte aligned). A pipelined
  // algorithm's slice for one call (the tuner's chunk) is an argument of the algorithm, at most
  // scratchBytes().
  virtual size_t scratchBytes() const = 0;
  virtual char* scratch(int slot) = 0;
  virtual MemoryOps& memory() = 0;
  // Memory shared by every rank (all on one host), or nullptr.
  virtual SharedWindow* window() = 0;
  // Blocks until rank's counter `which` reaches atLeast, under the same rules as waitRecv
  // (abort, failure notices, timeout naming the rank).
  virtual Status waitFlag(int rank, int which, uint64_t atLeast) = 0;
  // Blocks until the high half of `word` (in rank's window) equals tag, same rules.
  virtual Status waitTagged(int rank, const std::atomic<uint64_t>& word, uint32_t tag) = 0;
};

// The reductions' trivial cases: nothing to do (count 0), or a single rank, whose result is its
// own input (finished: avg divides by 1). Returns true when it handled the call.
inline bool reducedLocally(AlgoContext& ctx, const void* in, void* out, size_t count,
                           size_t elemSize, braidDataType_t type, braidRedOp_t op) {
  if (count == 0) return true;
  if (ctx.nranks() > 1) return false;
  ctx.memory().copy(out, in, count * elemSize);
  ctx.memory().finish(out, count, type, op, 1);
  return true;
}

}  // namespace braid
