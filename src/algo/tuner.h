// The tuner: picks the algorithm, pipeline chunk size and channel count of each collective from
// its shape (collective, bytes, nranks) and an alpha-beta cost model of the links.
//
// Pure: a function of the shape, the cost parameters and the overrides, with no I/O, clocks or
// randomness, so every rank makes the same choice (the communicator feeds every rank rank 0's
// cost parameters) and unit tests can probe any cluster as data.
//
// Model, per link class (socket across hosts, loopback on one host, shm reserved):
//   alpha  latency of one pipeline step (a message between two ranks, including the wake-up),
//   beta   seconds per byte on a rank's link (1 / bandwidth; sends and receives overlap),
//   gamma  seconds per byte of a local reduction.
// Per algorithm, for b bytes on n ranks with chunk c (k = ceil(x / c) pipeline chunks of x):
//   ring AllReduce   2(n-1) steps per slab of n chunks: 2(n-1) * slabs * alpha
//                    + 2(n-1)/n * b * beta + (n-1)/n * b * gamma
//   tree AllReduce   two trees, each half the data, pipelined over depth d = floor(log2 n):
//                    (k + 2d + 2) steps of alpha + 4 c' beta (an interior rank moves four
//                    half-chunks c' per step), k = ceil(b / 2 / c'), plus b/2 * gamma
//   direct AllReduce one step: alpha + (n-1) b beta + (n-1) b gamma (mesh only; n == 2 or
//                    b <= kDirectMaxBytes)
//   ring Broadcast   a chain of n-1 hops: (k + n - 2) * (alpha + c beta)
//   ring Reduce      the same chain with a reduction per hop: (k + n - 2) * (alpha + c (beta +
//                    gamma))
//   ReduceScatter / AllGather: ring only ((n-1) steps, (n-1)/n * b * n on the wire).
// Channels: the model has the term (one channel's copy and stream rate) but this build runs
// every collective on one channel, so nchannels is always 1 (docs/architecture.md).
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include "core/status.h"

namespace braid {

enum class Collective { kAllReduce, kReduceScatter, kAllGather, kBroadcast, kReduce };
enum class Algo { kRing, kTree, kDirect };
enum class LinkClass { kSocket, kLoopback, kShm };
constexpr int kLinkClasses = 3;

const char* collectiveName(Collective coll);
const char* algoName(Algo algo);
const char* linkClassName(LinkClass link);

struct LinkCost {
  double alphaUs = 0;       // per pipeline step
  double gbPerS = 0;        // link bandwidth (1 / beta), GB/s (1e9 bytes)
  double reduceGbPerS = 0;  // local reduction (1 / gamma), GB/s of output
};

struct CostModel {
  std::array<LinkCost, kLinkClasses> link{};
  const LinkCost& of(LinkClass c) const { return link[static_cast<size_t>(c)]; }
  LinkCost& of(LinkClass c) { return link[static_cast<size_t>(c)]; }
  // Built-in defaults (measured on this project's machines; docs/performance.md).
  static CostModel defaults();
};

// Parses a cost file (BRAID_TUNER_FILE). Format, one entry a line, '#' starts a comment:
//   <link class> <alpha_us> <bandwidth_GB/s> [<reduce_GB/s>]
// where link class is socket, loopback or shm; entries not listed keep the values of *model.
// Errors name file:line.
Status parseCostModel(const std::string& text, const std::string& fileName, CostModel* model);
Status loadCostModel(const std::string& path, CostModel* model);

struct Shape {
  Collective coll = Collective::kAllReduce;
  size_t bytes = 0;
  int nranks = 1;
  bool meshConnected = false;  // a connection to every peer (the direct algorithm needs it)
  LinkClass link = LinkClass::kSocket;
};

struct Overrides {
  std::string algo;       // BRAID_ALGO: "", ring, tree, direct
  size_t chunkBytes = 0;  // BRAID_CHUNK_BYTES, 0 = the tuner's choice
};

struct Choice {
  Algo algo = Algo::kRing;
  size_t chunkBytes = 0;
  int nchannels = 1;
  double predictedUs = 0;
  bool forcedAlgo = false;  // BRAID_ALGO picked it
};

// Whether `algo` can run `shape` at all (direct needs the mesh and a small message or two
// ranks; tree exists for AllReduce; everything has a ring).
bool algoAvailable(Algo algo, const Shape& shape);

// Predicted time in microseconds of `algo` with chunk `chunkBytes` (assumes algoAvailable).
double predictUs(const LinkCost& cost, Algo algo, const Shape& shape, size_t chunkBytes);

// The choice for one shape. maxChunkBytes bounds the chunk (the scratch slices the
// communicator allocated); a forced algorithm that cannot run falls back to ring.
Choice choose(const CostModel& model, const Shape& shape, const Overrides& overrides,
              size_t maxChunkBytes);

// One line for logs and braid-perf: "tree, chunk 256 KiB, 1 channel, predicted 123.4 us".
std::string describeChoice(const Choice& choice);

// Largest communicator that connects every pair (so the direct algorithm is available).
constexpr int kMeshMaxRanks = 8;

}  // namespace braid
