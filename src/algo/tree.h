// Double binary tree AllReduce: half the data reduces up and broadcasts down each of two
// complementary binary trees (topo/double_tree.h), pipelined in slices: at step k every rank
// reduces slice k up both trees, then passes slice k - kLag down both, so several slices are in
// flight and latency grows with log2(n) rather than with n as on the ring. Each element is
// reduced once, along one tree, by its root's final fold, then copied down, so every rank ends
// with bitwise identical results. Every step runs its phases in one order on every rank (up 0,
// up 1, down 0, down 1), which keeps each connection's message order the same on both ends.
#pragma once

#include <cstddef>

#include "algo/algo_context.h"
#include "braid/braid.h"

namespace braid {

Status treeAllReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                     braidDataType_t type, braidRedOp_t op, size_t sliceBytes);

}  // namespace braid
