// Recursive halving-doubling (Rabenseifner) AllReduce: reduce-scatter by recursive halving
// (log2 p steps; at each, partners at distance p/2, p/4, ..., 1 swap the halves of their
// current window and keep one, reduced), then all-gather by recursive doubling (the same
// partners in reverse, each sending its window straight into the other's output). Moves the
// ring's 2(p-1)/p of the bytes per rank in 2 log2(p) steps instead of 2(n-1).
//
// For n that is not a power of two, p = the largest power of two <= n and r = n - p: ranks
// 0, 2, ..., 2r-2 first send their input to the next (odd) rank, which folds it in, sit out,
// and receive the result at the end. Every element is reduced to its final value once, on one
// rank (the owner of its final window; avg divides there), and copied everywhere else, so all
// ranks end with bitwise identical results. Needs a connection to every peer (mesh-connected
// communicators, n <= kMeshMaxRanks).
#pragma once

#include <cstddef>

#include "algo/algo_context.h"
#include "braid/braid.h"

namespace braid {

Status rabenseifnerAllReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                             braidDataType_t type, braidRedOp_t op, size_t sliceBytes);

}  // namespace braid
