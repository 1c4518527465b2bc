// Ring collectives, chunked and pipelined over the ring's Connections.
//
// AllReduce is reduce-scatter then all-gather; every element is reduced exactly once, by one
// rank, along one chain of the ring, and then copied to the others, so every rank ends with
// bitwise identical results. Large buffers are processed in slabs of nranks slices so sends of
// one step overlap receives of the next (socket buffers are the pipeline's FIFO).
//
// Broadcast is a pipelined chain from the root along the ring; Reduce is a pipelined chain
// ending at the root.
#pragma once

#include <cstddef>

#include "algo/algo_context.h"
#include "braid/braid.h"

namespace braid {

Status ringAllReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                     braidDataType_t type, braidRedOp_t op, size_t sliceBytes);
Status ringReduceScatter(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t recvcount,
                         braidDataType_t type, braidRedOp_t op, size_t sliceBytes);
Status ringAllGather(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t sendcount,
                     braidDataType_t type, size_t sliceBytes);
Status ringBroadcast(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                     braidDataType_t type, int root, size_t sliceBytes);
Status ringReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                  braidDataType_t type, braidRedOp_t op, int root, size_t sliceBytes);

}  // namespace braid
