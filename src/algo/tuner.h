// The tuner: picks the algorithm, pipeline chunk size and channel count of each collective from
// its shape (collective, bytes, nranks) and an alpha-beta cost model of the links.
//
// Pure: a function of the shape, the cost parameters and the overrides, with no I/O, clocks or
// randomness, so every rank makes the same choice (the communicator feeds every rank rank 0's
// cost parameters) and unit tests can probe any cluster as data.
//
// Model, per link class (socket across hosts, loopback on one host, shm reserved):
//   alpha  latency of one step on the critical path (wire and wake-up), us,
//   o      CPU time per message (system calls and the kernel's network stack, which on one
//          machine runs on the sender's core), us; divided by the rank's CPU share s,
//   beta   us per byte on a rank's link (1 / bandwidth; sends and receives overlap),
//   gamma  us per byte of a local reduction.
// s, machine-wide, is the share of a core each rank gets: 1 when every rank has its own core,
// cores / ranks on an oversubscribed host. Time = steps on the critical path x alpha
// + messages each rank sends x o / s + bytes x beta and gamma. For b bytes on n ranks, chunk c
// (k = ceil(x / c) pipeline chunks of x):
//   ring AllReduce   2(n-1) steps per slab of n chunks, a message each (fewer when the count
//                    m < n leaves chunks empty: f = min(1, m / n)):
//                    2(n-1) slabs (alpha + f o/s) + 2(n-1)/n b beta + (n-1)/n b gamma
//   tree AllReduce   two trees, each half the data, pipelined over depth d = floor(log2 n): the
//                    first chunk goes up and down 2d hops, each hop two step latencies (every
//                    rank runs both trees' phases one after the other) and one half-chunk c'
//                    (fitted: the two children's sends overlap the hop's latency); the others
//                    follow one step each, whose four phases (up and down in
//                    both trees) wait on their receives in turn, so a step's eight half-chunk
//                    transfers barely overlap (measured: 8 c' beta per step on the namespace
//                    cluster); every chunk crosses each tree edge twice, 4(n-1)/n messages
//                    per rank:
//                    2d (2 alpha + c' beta) + (k - 1)(alpha + 8 c' beta) + 4(n-1)/n k o/s
//                    + b/2 gamma, k = ceil(b / 2 / c')
//   direct AllReduce one step, n-1 messages: alpha + (n-1) o/s + (n-1) b (beta + gamma)
//                    (mesh only; n == 2 or b <= kDirectMaxBytes)
//   rabenseifner AllReduce (mesh only): p = largest power of two <= n, x = n - p extra ranks
//                    folded in first (their whole input to a partner) and served last:
//                    2 log2(p) steps (+2 if x > 0), (p-1)/p b each way on the link, one message
//                    per slice: 2 log2(p) alpha + 1.3 (p-1)/p 2 b beta + (p-1)/p b gamma
//                    (1.3: its steps run one after the other, each on a connection that sat
//                    idle, where the ring streams; fitted on the namespace cluster)
//                    + [x > 0] (2 alpha + 2 b beta + b gamma) + messages x o/s
//   ring Broadcast   a chain of n-1 hops: (k + n - 2)(alpha + c beta) + k o/s
//   ring Reduce      the same chain with a reduction per hop: ... + c (beta + gamma)
//   tree Broadcast / Reduce (mesh only): a binary tree of depth d = floor(log2 n), each step a
//                    chunk to or from two children: (k + d - 1)(alpha + 2 c beta) + k o/s
//                    (Reduce: 2 c (beta + gamma))
//   ReduceScatter / AllGather (b per rank): ring only, (n-1) k (alpha + o/s) + (n-1) b beta
// Channels: choose() uses every channel the communicator connected (Shape::channels:
// BRAID_NCHANNELS rings where every pair talks TCP, src/comm/channel.h) for a ring AllReduce of
// at least kChannelMinBytes per channel, so every channel still pipelines; otherwise one.
// The default stays 1: striping one connection over 4 sockets gained nothing on loopback with
// 2 cores, and the ring fills 87% of the namespace cluster's links (docs/performance.md).
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include "core/status.h"

namespace braid {

enum class Collective { kAllReduce, kReduceScatter, kAllGather, kBroadcast, kReduce };
// kOneShot / kTwoShot: the node-local AllReduce over a shared window; kWindow: the other
// collectives over it (algo/window_collectives.h).
enum class Algo { kRing, kTree, kDirect, kRabenseifner, kOneShot, kTwoShot, kWindow };
enum class LinkClass { kSocket, kLoopback, kShm };
constexpr int kLinkClasses = 3;

const char* collectiveName(Collective coll);
const char* algoName(Algo algo);
const char* linkClassName(LinkClass link);

struct LinkCost {
  double alphaUs = 0;       // per pipeline step
  double gbPerS = 0;        // link bandwidth (1 / beta), GB/s (1e9 bytes)
  double reduceGbPerS = 0;  // local reduction (1 / gamma), GB/s of output
  double msgUs = 0;         // CPU per message (o), us
};

struct CostModel {
  std::array<LinkCost, kLinkClasses> link{};
  // Share of a core per rank (s): 0 = derive it (the communicator uses cores / ranks on rank
  // 0's host, at most 1); a cost file may set it (cpu_share), e.g. for a simulated cluster.
  double cpuShare = 0;
  const LinkCost& of(LinkClass c) const { return link[static_cast<size_t>(c)]; }
  LinkCost& of(LinkClass c) { return link[static_cast<size_t>(c)]; }
  // Built-in defaults (measured on this project's machines; docs/performance.md).
  static CostModel defaults();
};

// Parses a cost file (BRAID_TUNER_FILE). Format, one entry a line, '#' starts a comment:
//   <link class> <alpha_us> <bandwidth_GB/s> [<reduce_GB/s> [<msg_us>]]
//   cpu_share <fraction of a core per rank, (0, 1]>
// where link class is socket, loopback or shm; entries not listed keep the values of *model.
// Errors name file:line.
Status parseCostModel(const std::string& text, const std::string& fileName, CostModel* model);
Status loadCostModel(const std::string& path, CostModel* model);

struct Shape {
  Collective coll = Collective::kAllReduce;
  size_t bytes = 0;
  size_t count = 0;  // elements; 0 = unknown (taken as bytes)
  int nranks = 1;
  bool meshConnected = false;  // a connection to every peer (the direct algorithm needs it)
  LinkClass link = LinkClass::kSocket;
  bool sharedWindow = false;  // every rank on one host, sharing memory
  // Independent rings connected for this communicator (1 unless BRAID_NCHANNELS > 1 over
  // sockets); the choice uses all of them or one.
  int channels = 1;
};

// A ring AllReduce splits over the channels only with at least this many bytes per channel.
constexpr size_t kChannelMinBytes = size_t{256} << 10;

// With a shared window: oneshot (every rank reduces everything, one round) up to this many
// bytes, twoshot (each reduces a slice, then gathers) beyond. A measured crossover (pinned
// ranks, docs/performance.md), not the model's.
size_t oneshotMaxBytes(int nranks);

struct Overrides {
  std::string algo;       // BRAID_ALGO: "", ring, tree, direct, rabenseifner
  size_t chunkBytes = 0;  // BRAID_CHUNK_BYTES, 0 = the tuner's choice
};

struct Choice {
  Algo algo = Algo::kRing;
  size_t chunkBytes = 0;
  int nchannels = 1;
  double predictedUs = 0;
  bool forcedAlgo = false;  // BRAID_ALGO picked it
  // BRAID_ALGO named an algorithm that cannot run this shape, and the ring runs instead; the
  // description says so (a forced algorithm never falls back silently).
  std::string unavailableAlgo;
};

// Whether `algo` can run `shape` at all (direct needs the mesh and a small message or two
// ranks; tree exists for AllReduce, and for Broadcast and Reduce on a mesh; everything has a
// ring).
bool algoAvailable(Algo algo, const Shape& shape);

// Predicted time in microseconds of `algo` with chunk `chunkBytes` (assumes algoAvailable).
double predictUs(const LinkCost& cost, double cpuShare, Algo algo, const Shape& shape,
                 size_t chunkBytes);

// The choice for one shape. maxChunkBytes bounds the chunk (the scratch slices the
// communicator allocated); a forced algorithm that cannot run falls back to ring.
Choice choose(const CostModel& model, const Shape& shape, const Overrides& overrides,
              size_t maxChunkBytes);

// One line for logs and braid-perf: "tree, chunk 256 KiB, 1 channel, predicted 123.4 us".
std::string describeChoice(const Choice& choice);

// Largest communicator that connects every pair (so the direct algorithm is available).
constexpr int kMeshMaxRanks = 8;

}  // namespace braid
