// One checked call of each collective, run inside a rank of RunRanks(): fills inputs, calls the
// public C API, checks every element against the reference, checks that the send buffer was not
// modified (out of place) and that nothing was written outside the buffers, and reports a hash
// of the result so that the parent can check bitwise identity across ranks.
#ifndef BRAID_TESTS_INTEGRATION_COLLECTIVES_H_
#define BRAID_TESTS_INTEGRATION_COLLECTIVES_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "braid/braid.h"
#include "data.h"
#include "harness.h"

namespace braidtest {

// What a rank that is not the root passes where the root's buffer is ignored (Broadcast's
// sendbuff, Reduce's recvbuff).
enum class NonRootBuffer { kNull, kBuffer, kSameAsOther };

struct CollCase {
  braidDataType_t dt = braidFloat32;
  braidRedOp_t op = braidSum;
  size_t count = 0;  // AllReduce / Broadcast / Reduce: count; ReduceScatter: recvcount;
                     // AllGather: sendcount
  bool in_place = false;
  int root = 0;
  uint64_t seed = 1;
  NonRootBuffer non_root = NonRootBuffer::kBuffer;
  size_t misalign_elems = 0;   // data pointers offset by this many elements from 8-byte alignment
  size_t misalign_bytes = 0;   // and by this many more bytes (odd addresses: 1, 3, 7)
  bool random_floats = false;  // AllReduce only: inexact float sums; checks identity + tolerance
};

std::string Describe(const char* coll, const CollCase& c, int nranks);

void CheckedAllReduce(RankContext& ctx, const CollCase& c);
void CheckedReduceScatter(RankContext& ctx, const CollCase& c);
void CheckedAllGather(RankContext& ctx, const CollCase& c);
void CheckedBroadcast(RankContext& ctx, const CollCase& c);
void CheckedReduce(RankContext& ctx, const CollCase& c);

// A plain float32 sum AllReduce of `count` elements (with comm's own rank and size), checked;
// used to show that a communicator
// is still usable.
void SanityAllReduce(RankContext& ctx, braidComm_t comm, size_t count, uint64_t seed,
                     const std::string& what);

}  // namespace braidtest

#endif  // BRAID_TESTS_INTEGRATION_COLLECTIVES_H_
