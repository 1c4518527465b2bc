// Picks the AllReduce algorithm for a (size, nranks) shape. BRAID_ALGO forces one.
//
// Model (alpha-beta, per rank): ring = 2(n-1) steps, 2(n-1)/n x bytes on the wire;
// direct = 1 step, (n-1) x bytes, but every rank reduces the whole buffer. With two ranks
// direct moves the ring's bytes in one step and wins up to ~1 MiB, where reducing twice the
// data starts to cost more than the ring's second step. With more ranks it wins while the
// message is small enough that latency dominates.
#pragma once

#include <cstddef>
#include <string>

namespace braid {

enum class AllReduceAlgo { kRing, kDirect, kTree, kOneShot, kTwoShot };

const char* algoName(AllReduceAlgo algo);

// meshConnected: whether this communicator has a connection to every peer; sharedWindow:
// whether every rank shares this host's memory (the node-local oneshot / twoshot algorithms).
AllReduceAlgo chooseAllReduce(size_t bytes, int nranks, bool meshConnected, bool sharedWindow,
                              const std::string& forced);

// With a shared window: oneshot (every rank reduces everything, one round) up to this many
// bytes, twoshot (each reduces a slice, then gathers) beyond.
size_t oneshotMaxBytes(int nranks);

// The double binary tree (algo/tree.h) runs only when BRAID_ALGO=tree forces it: choosing it
// by default needs the per-link cost model and the cluster measurements of a later change.

// Largest communicator that connects every pair (so the direct algorithm is available).
constexpr int kMeshMaxRanks = 8;

}  // namespace braid
