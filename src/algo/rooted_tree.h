// Pipelined binary-tree Broadcast and Reduce: a heap-shaped binary tree over the ranks relabelled
// so that the root is label 0 (label v = (rank - root) mod n; children 2v+1, 2v+2; depth
// floor(log2 n)), the data moving in slices so that a slice travels down (or up) while the
// next follows: latency grows with log2(n) instead of the chain's n-1 hops. Needs connections
// between tree neighbours, which exist on mesh-connected communicators (n <= kMeshMaxRanks);
// the tuner offers it only there.
#pragma once

#include <cstddef>
#include <vector>

#include "algo/algo_context.h"
#include "braid/braid.h"

namespace braid {

struct RootedTreeLinks {
  int parent = -1;  // rank, or -1 at the root
  std::vector<int> children;
};
RootedTreeLinks rootedTreeLinks(int nranks, int rank, int root);

Status treeBroadcast(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                     braidDataType_t type, int root, size_t sliceBytes);
Status treeReduce(AlgoContext& ctx, const void* sendbuff, void* recvbuff, size_t count,
                  braidDataType_t type, braidRedOp_t op, int root, size_t sliceBytes);

}  // namespace braid
