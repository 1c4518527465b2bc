// Direct (one-shot) AllReduce: every rank sends its whole input to every other rank and each
// rank reduces all inputs itself, in one fixed order (rank 0, 1, ..., n-1) on every rank, so
// results are bitwise identical everywhere.
//
// One step instead of the ring's 2(n-1): the latency path for small messages. With two ranks
// it moves exactly the ring's bytes, and since no send waits for a receive, the sends stream
// without a gap: it is the bandwidth path for n == 2 as well. Needs a connection to every peer.
#pragma once

#include <cstddef>

#include "algo/algo_context.h"
#include "braid/braid.h"

namespace braid {

// Largest message (bytes) the direct algorithm handles for n > 2 (its scratch is sized for it).
constexpr size_t kDirectMaxBytes = size_t{64} << 10;

Status directAllReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                       braidDataType_t type, braidRedOp_t op, size_t sliceBytes);

}  // namespace braid
