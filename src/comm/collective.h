// A collective call as a value: what the user asked for (collective, buffers, count, dtype, op,
// root, the memory space of the buffers and how completion is reported), checked in one place
// (checkCall) and then handed to the communicator, which picks the executor from the
// descriptor: inline on the calling thread for a blocking call, the progress thread for a
// request (braidIAllReduce). A new executor (a CUDA stream's, say) is a new Completion value
// and one case in Communicator::start, not a branch in every entry point.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "algo/tuner.h"
#include "braid/braid.h"
#include "core/status.h"

namespace braid {

// Where the buffers live. Host only for now; device memory will add a value here.
enum class MemorySpace { kHost };

// How the caller learns that the call finished, which decides the executor.
enum class Completion {
  kBlocking,  // returns when done: runs inline on the calling thread
  kRequest,   // returns at once with a Request: runs on the communicator's progress thread
};

// Largest buffer one call may name, in bytes. The algorithms split buffers as x * i / k with i
// and k at most a few hundred (ranks of a slab, channels); 2^56 bytes (64 PiB) leaves eight
// bits of headroom for those products, and is far beyond any memory a rank has.
constexpr size_t kMaxCallBytes = size_t{1} << 56;

struct CollectiveCall {
  Collective coll = Collective::kAllReduce;
  const void* sendbuff = nullptr;
  void* recvbuff = nullptr;
  // Elements as the C API counts them: the whole buffer for AllReduce, Broadcast and Reduce;
  // recvcount (per rank) for ReduceScatter; sendcount (per rank) for AllGather.
  size_t count = 0;
  // The raw values the caller passed: a C caller may pass any int as an enum, and loading an
  // out-of-range value as the C++ enum type is undefined, so they stay ints until checkCall
  // accepted them (then dataType() and redOp() are safe).
  int type = 0;
  int op = -1;    // braidRedOp_t, or -1 where the collective has none
  int root = -1;  // or -1 where the collective has none
  MemorySpace space = MemorySpace::kHost;
  braidStream_t stream = nullptr;  // must be NULL while only host memory is supported
  Completion completion = Completion::kBlocking;

  braidDataType_t dataType() const { return static_cast<braidDataType_t>(type); }
  braidRedOp_t redOp() const { return static_cast<braidRedOp_t>(op); }
};

// Whether the collective takes a reduction op / a root.
bool hasRedOp(Collective coll);
bool hasRoot(Collective coll);

// Byte sizes of the send and receive buffers on `rank` (0 where that rank does not use the
// buffer: a non-root's sendbuff in Broadcast, a non-root's recvbuff in Reduce). Valid only
// after checkCall accepted the call (no overflow).
size_t sendBytes(const CollectiveCall& call, int rank, int nranks);
size_t recvBytes(const CollectiveCall& call, int rank, int nranks);

// Every argument check of a collective call, in one place, pure (no communication, no I/O):
// dtype, op, root range, stream and memory space, a count too large (the bytes of either buffer
// overflowing size_t or exceeding kMaxCallBytes), NULL buffers with a nonzero count (a
// non-root's unused buffer may be NULL), and overlapping buffers: send and receive buffers may
// be the same memory exactly as the C API documents in place (the same pointer for AllReduce,
// Broadcast and Reduce; recvbuff at sendbuff + rank * recvcount for ReduceScatter; sendbuff at
// recvbuff + rank * sendcount for AllGather), any other overlap is braidInvalidArgument.
// `what` names the entry point in messages ("braidAllReduce").
Status checkCall(const char* what, const CollectiveCall& call, int rank, int nranks);

// Whether [a, a + aBytes) and [b, b + bBytes) share a byte (no wrap-around in the arithmetic).
bool rangesOverlap(const void* a, size_t aBytes, const void* b, size_t bBytes);

// "AllReduce(count 8, float32, sum, root 0)", for messages.
std::string describeCall(const CollectiveCall& call);

}  // namespace braid
