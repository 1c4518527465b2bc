// Planning: facts in, rings and trees out. Pure and deterministic: no I/O, no randomness, no
// dependence on hash-map order, so every rank that holds the same facts computes the same plan,
// and tests can feed it any machine.
//
// A ring is only as fast as its slowest hop, so orders are chosen to maximize the bottleneck
// bandwidth (then the sum, to break ties), exactly by enumeration up to kExactMaxNodes nodes and
// with a max-bottleneck greedy start improved by 2-opt beyond.
#pragma once

#include <string>
#include <vector>

#include "topo/system.h"

namespace braid::topo {

// bw[a][b]: GB/s (or any unit) for traffic a -> b; the diagonal is ignored.
using BwMatrix = std::vector<std::vector<double>>;

constexpr int kExactMaxNodes = 9;

// The smallest bw along the cycle ring[0] -> ring[1] -> ... -> ring[0].
double ringBottleneck(const BwMatrix& bw, const std::vector<int>& ring);
// A cycle through every node maximizing the bottleneck (then the sum); starts at node 0.
std::vector<int> bestRing(const BwMatrix& bw);
// A path through every node whose two ends attach to an outside endpoint (a NIC), maximizing the
// bottleneck counting endBw[first] and endBw[last] as hops; entry first, exit last.
std::vector<int> bestPath(const BwMatrix& bw, const std::vector<double>& endBw);

// Where a rank runs: a host (index into ClusterInput::hosts) and the device it drives there
// (a node of that host's System; -1: the host's CPU only).
struct RankPlace {
  int host = 0;
  int node = -1;
};

struct ClusterInput {
  std::vector<System> hosts;
  std::vector<RankPlace> ranks;
  int maxChannels = 4;
};

struct Channel {
  std::vector<int> ring;      // ranks in ring order
  std::vector<int> nic;       // per host: the NIC node this channel leaves through, or -1
  double bottleneckGBps = 0;  // predicted: the slowest hop (network hops use the NICs' speed)
};

struct Plan {
  std::vector<std::vector<int>> hostRanks;  // per host, its ranks in channel 0's order
  std::vector<Channel> channels;
  // The double binary trees: per tree, each rank's parent (-1 at the root). Across hosts a
  // double binary tree over hosts (each host represented by its first rank in channel 0);
  // within a host a chain along channel 0's order.
  std::vector<int> treeParent[2];
};

Plan planCluster(const ClusterInput& in);

// The plan from host identities alone (what every rank of a communicator knows): ranks grouped
// by host, hosts in order of their lowest rank, rank order within a host.
std::vector<int> planByHost(const std::vector<std::string>& hostIds);

}  // namespace braid::topo
