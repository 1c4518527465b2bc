// The nccl-tests command line, measurement loop and table, independent of the library measured.
//
// braid-perf (Braid), mpi-perf (Open MPI) and gloo-perf (Gloo) each implement a Backend over
// host buffers and hand it to runBenchmark(), so the three print the identical table and their
// numbers can be read side by side (and next to NCCL's all_reduce_perf and friends).
//
// Semantics follow nccl-tests (github.com/NVIDIA/nccl-tests, src/common.cu): sizes, counts,
// in-place offsets, algbw/busbw, time averaging across ranks (-a), the check (-c) and the
// "Out of bounds values" / "Avg bus bandwidth" summary.
#ifndef BRAID_TOOLS_BRAID_PERF_PERF_HARNESS_H_
#define BRAID_TOOLS_BRAID_PERF_PERF_HARNESS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace braid::perf {

enum class Collective { kAllReduce, kReduceScatter, kAllGather, kBroadcast, kReduce };

// Same order and values as braidDataType_t (and ncclDataType_t).
enum class DataType {
  kInt8 = 0,
  kUint8 = 1,
  kInt32 = 2,
  kUint32 = 3,
  kInt64 = 4,
  kUint64 = 5,
  kHalf = 6,
  kFloat = 7,
  kDouble = 8,
  kBfloat16 = 9
};
inline constexpr int kNumDataTypes = 10;

// Same order and values as braidRedOp_t (and ncclRedOp_t).
enum class RedOp { kSum = 0, kProd = 1, kMax = 2, kMin = 3, kAvg = 4 };
inline constexpr int kNumRedOps = 5;

size_t dataTypeSize(DataType type);
const char* dataTypeName(DataType type);          // the C API's: int8 ... float16 float32 bfloat16
const char* redOpName(RedOp op);                  // sum prod max min avg
const char* collectiveName(Collective coll);      // allreduce, reducescatter, ...
const char* collectiveTestName(Collective coll);  // all_reduce_perf, reduce_scatter_perf, ...
bool collectiveHasOp(Collective coll);            // allreduce, reducescatter, reduce
bool collectiveHasRoot(Collective coll);          // broadcast, reduce
bool parseCollective(const std::string& name, Collective* coll);  // either naming
bool parseDataType(const std::string& name, DataType* type);      // also nccl aliases
bool parseRedOp(const std::string& name, RedOp* op);

// One collective call in NCCL's terms. count is the per-call count NCCL takes: elements for
// allreduce / broadcast / reduce, recvcount for reducescatter, sendcount for allgather.
// For in-place calls the pointers already sit at nccl-tests' in-place offsets (allgather:
// send == recv + rank * count; reducescatter: recv == send + rank * count; others send == recv).
struct CollectiveCall {
  Collective coll = Collective::kAllReduce;
  const void* send = nullptr;
  void* recv = nullptr;
  size_t count = 0;
  DataType type = DataType::kFloat;
  RedOp op = RedOp::kSum;
  int root = 0;  // broadcast and reduce only
  bool inPlace = false;
};

// What a measured library provides. Every call is collective (all ranks, same order) except
// rank(), nranks(), name(), description(), unsupportedReason(), allocate() and release().
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;  // "braid", "mpi", "gloo": used in -J output
  // One line printed (after "# ") above the table: library and version, transport, ...
  virtual std::string description() const { return name(); }
  virtual int rank() const = 0;
  virtual int nranks() const = 0;
  // Host memory for send / recv / expected buffers; zeroed. The default is 4 KiB aligned.
  virtual void* allocate(size_t bytes);
  virtual void release(void* ptr);
  // Empty when the backend can run this combination; otherwise why not (the harness skips it).
  virtual std::string unsupportedReason(Collective coll, DataType type, RedOp op) const {
    return {};
  }
  // True when the library binds buffers to a prepared operation (Gloo's algorithm objects),
  // so the first call on a buffer is a setup, not a collective. The harness then runs each
  // buffer offset it is about to time once, untimed, before timing (the offsets still rotate
  // between iterations as in nccl-tests).
  virtual bool bindsBuffers(Collective coll) const { return false; }
  // Runs one blocking collective: returns when call.recv holds the result.
  virtual bool run(const CollectiveCall& call) = 0;
  virtual bool barrier() = 0;
  // out receives nranks() * bytes: rank r's in at r * bytes. Used for timing and counters.
  virtual bool allGatherBytes(const void* in, size_t bytes, void* out) = 0;
  // Why the last failing call failed.
  virtual std::string lastError() const = 0;
};

inline constexpr size_t kDefaultBytes = 32u << 20;

struct Options {
  Collective coll = Collective::kAllReduce;
  bool collFromArgv0 = false;
  size_t minBytes = kDefaultBytes;
  size_t maxBytes = kDefaultBytes;
  size_t stepBytes = 1u << 20;
  size_t stepFactor = 1;
  int iters = 20;
  int warmupIters = 1;
  int aggIters = 1;
  int runCycles = 1;  // 0: forever
  int check = 1;      // number of checked iterations; 0 disables the check
  int average = 1;    // 0 rank 0, 1 average, 2 min, 3 max
  int blocking = 0;   // accepted, ignored: host collectives always block
  int graph = 0;      // accepted, ignored
  int reportCpuTime = 0;
  int nThreads = 1;
  int nGpus = 1;
  int type = static_cast<int>(DataType::kFloat);  // -1: all
  int op = static_cast<int>(RedOp::kSum);         // -1: all
  int root = 0;                                   // -1: all
  std::string outputFile;                         // -J: .json, or .csv
  std::string program = "braid-perf";
};

enum class ParseResult { kOk, kHelp, kError };

// Parses nccl-tests' flags plus --coll. argv[0]'s basename (all_reduce_perf, ...) picks the
// collective unless --coll is given. On kError, *error says why.
ParseResult parseOptions(int argc, char** argv, Options* opts, std::string* error);
std::string usage(const std::string& program);

// Removes "--name value" / "--name=value" from argv (for driver-specific options, before
// parseOptions). Returns whether it was there; the value goes to *value.
bool takeLongOption(int* argc, char** argv, const std::string& name, std::string* value);

// Runs the benchmark and prints the table on rank 0. Returns the process exit status: 0;
// kExitWrong when a check found wrong values (or every combination was skipped); kExitFailed
// when a collective failed (peers may be stuck: a driver may abort the job).
inline constexpr int kExitWrong = 1;
inline constexpr int kExitFailed = 3;
int runBenchmark(Backend& backend, const Options& opts);

// ---- Pieces exposed for the tests and the peer drivers ---------------------------------------

// nccl-tests' getCollByteCount: element counts for a size of count elements of eltSize bytes.
struct CollCounts {
  size_t sendCount = 0;
  size_t recvCount = 0;
  size_t paramCount = 0;  // the count passed to the collective, and printed
  size_t sendInplaceOffset = 0;
  size_t recvInplaceOffset = 0;
};
CollCounts collCounts(Collective coll, size_t count, size_t eltSize, int nranks);
// nccl-tests' getBw: GB/s (1e9 bytes) for paramCount elements in seconds.
void bandwidth(Collective coll, size_t paramCount, size_t eltSize, double seconds, int nranks,
               double* algBw, double* busBw);
// The sizes scanned: minBytes, then *factor or +step, while <= maxBytes.
std::vector<size_t> sizeSequence(const Options& opts);
// "32M", "1K", "8" -> bytes (K, M, G are powers of 1024); -1 when malformed.
double parseSize(const std::string& text);
// nccl-tests' getFloatStr: value right-aligned in width, precision chosen to fit.
std::string formatFloat(double value, int width);

// Reduction kernels on host memory, used by peers for ops or types they lack natively.
// inout[i] = inout[i] op in[i]; half and bfloat16 go through float.
void reduceInto(void* inout, const void* in, size_t count, DataType type, RedOp op);
// out[i] = a[i] op b[i] (any of the three may alias).
void reduce3(void* out, const void* a, const void* b, size_t count, DataType type, RedOp op);
// buf[i] /= nranks: integers truncate toward zero, half / bfloat16 divide in float.
void divideByRanks(void* buf, size_t count, DataType type, int nranks);

float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);  // round to nearest even
float bfloat16ToFloat(uint16_t b);
uint16_t floatToBfloat16(float f);  // round to nearest even

// The check's data: rank's input, and what a rank must hold after the collective.
// Inputs are small non-negative integers chosen so every result is exact in every type.
void fillInput(void* buf, size_t count, DataType type, Collective coll, RedOp op, int rank,
               int nranks, uint64_t seed);
// Expected content of the checked region (counts.recvCount elements) on rank: on a non-root
// rank, reduce must leave recv as it was (zeros, or the rank's own input when in place).
void fillExpected(void* buf, const CollCounts& counts, DataType type, Collective coll, RedOp op,
                  int root, bool inPlace, int rank, int nranks, uint64_t seed);
// Number of elements whose bytes differ.
int64_t countWrong(const void* got, const void* expected, size_t count, DataType type);

}  // namespace braid::perf

#endif  // BRAID_TOOLS_BRAID_PERF_PERF_HARNESS_H_
