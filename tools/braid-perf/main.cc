// braid-perf: nccl-tests' table for Braid over host buffers.
//
//   braid-run -n 2 braid-perf -b 8 -e 256M -f 4           (allreduce)
//   braid-run -n 2 braid-perf --coll allgather -b 8 -e 1G -f 2
//   braid-run -n 2 all_reduce_perf -d all -o all             (symlink: the collective from argv[0])
//   braid-run -n 8 braid-perf -b 8 -e 16M -f 4 --show-algo 1  (first print the tuner's picks)
//
// Uses the public C API only (braidCommInitFromEnv, braidAllReduce, ...), host buffers, stream
// NULL. The launcher's environment (BRAID_RANK, BRAID_NRANKS, BRAID_ROOT_ADDR, ...) is read by
// braidCommInitFromEnv, not here.
#include <braid/braid.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "perf_harness.h"

namespace braid::perf {
namespace {

class BraidBackend : public Backend {
 public:
  BraidBackend(braidComm_t comm, int rank, int nranks)
      : comm_(comm), rank_(rank), nranks_(nranks) {}

  std::string name() const override { return "braid"; }

  std::string description() const override {
    int version = 0;
    braidGetVersion(&version);
    char text[256];
    const char* transport = std::getenv("BRAID_TRANSPORT");
    const char* algo = std::getenv("BRAID_ALGO");
    std::snprintf(text, sizeof(text), "Braid %d.%d.%d (headers %d.%d.%d) transport %s algo %s",
                  version / 10000, version / 100 % 100, version % 100, BRAID_MAJOR, BRAID_MINOR,
                  BRAID_PATCH, transport != nullptr && *transport != '\0' ? transport : "auto",
                  algo != nullptr && *algo != '\0' ? algo : "auto");
    return text;
  }

  int rank() const override { return rank_; }
  int nranks() const override { return nranks_; }

  bool run(const CollectiveCall& call) override {
    const auto type = static_cast<braidDataType_t>(call.type);
    const auto op = static_cast<braidRedOp_t>(call.op);
    braidResult_t res = braidSuccess;
    switch (call.coll) {
      case Collective::kAllReduce:
        res = braidAllReduce(call.send, call.recv, call.count, type, op, comm_, nullptr);
        break;
      case Collective::kReduceScatter:
        res = braidReduceScatter(call.send, call.recv, call.count, type, op, comm_, nullptr);
        break;
      case Collective::kAllGather:
        res = braidAllGather(call.send, call.recv, call.count, type, comm_, nullptr);
        break;
      case Collective::kBroadcast:
        res = braidBroadcast(call.send, call.recv, call.count, type, call.root, comm_, nullptr);
        break;
      case Collective::kReduce:
        res = braidReduce(call.send, call.recv, call.count, type, op, call.root, comm_, nullptr);
        break;
    }
    return check(res);
  }

  bool barrier() override {
    barrierWord_ = 0;
    return check(
        braidAllReduce(&barrierWord_, &barrierWord_, 1, braidInt32, braidSum, comm_, nullptr));
  }

  bool allGatherBytes(const void* in, size_t bytes, void* out) override {
    return check(braidAllGather(in, out, bytes, braidUint8, comm_, nullptr));
  }

  std::string lastError() const override { return lastError_; }

 private:
  bool check(braidResult_t res) {
    if (res == braidSuccess) return true;
    const char* detail = braidGetLastError(comm_);
    lastError_ = std::string(braidGetErrorString(res)) +
                 (detail != nullptr && *detail != '\0' ? std::string(": ") + detail : "");
    return false;
  }

  braidComm_t comm_;
  int rank_;
  int nranks_;
  int barrierWord_ = 0;
  std::string lastError_;
};

// --show-algo 1: rank 0 prints, before the table, what the tuner picks for each size of the
// sweep (braidCommDescribeTuning; the same choice every rank makes for that call).
void printTuning(braidComm_t comm, const Options& opts, int nranks) {
  const DataType type = opts.type < 0 ? DataType::kFloat : static_cast<DataType>(opts.type);
  const size_t elem = dataTypeSize(type);
  for (size_t size = opts.minBytes; size <= opts.maxBytes;) {
    // The table's size is the larger buffer; the call's count is per rank for ReduceScatter
    // and AllGather.
    size_t count = size / elem;
    if (opts.coll == Collective::kReduceScatter || opts.coll == Collective::kAllGather)
      count /= static_cast<size_t>(nranks);
    char text[256];
    if (braidCommDescribeTuning(comm, static_cast<int>(opts.coll), count,
                                static_cast<braidDataType_t>(type), text,
                                sizeof(text)) == braidSuccess)
      std::printf("# tuner %12zu bytes: %s\n", size, text);
    const size_t next = opts.stepFactor > 1 ? size * opts.stepFactor : size + opts.stepBytes;
    if (next <= size) break;
    size = next;
  }
}

int realMain(int argc, char** argv) {
  Options opts;
  std::string error;
  std::string showAlgo;
  takeLongOption(&argc, argv, "show-algo", &showAlgo);
  switch (parseOptions(argc, argv, &opts, &error)) {
    case ParseResult::kHelp:
      std::printf("%s", usage(opts.program).c_str());
      return 0;
    case ParseResult::kError:
      std::fprintf(stderr, "%s: %s\n%s", opts.program.c_str(), error.c_str(),
                   usage(opts.program).c_str());
      return 2;
    case ParseResult::kOk:
      break;
  }

  braidComm_t comm = nullptr;
  braidResult_t res = braidCommInitFromEnv(&comm);
  if (res != braidSuccess) {
    const char* detail = braidGetLastError(nullptr);
    std::fprintf(stderr, "%s: braidCommInitFromEnv failed: %s%s%s\n", opts.program.c_str(),
                 braidGetErrorString(res), detail != nullptr && *detail != '\0' ? ": " : "",
                 detail != nullptr ? detail : "");
    return 1;
  }
  int rank = 0;
  int nranks = 1;
  if (braidCommUserRank(comm, &rank) != braidSuccess ||
      braidCommCount(comm, &nranks) != braidSuccess) {
    std::fprintf(stderr, "%s: cannot query the communicator: %s\n", opts.program.c_str(),
                 braidGetLastError(comm));
    braidCommAbort(comm);
    return 1;
  }

  int status = 0;
  {
    BraidBackend backend(comm, rank, nranks);
    if (rank == 0 && !showAlgo.empty() && showAlgo != "0") printTuning(comm, opts, nranks);
    status = runBenchmark(backend, opts);
  }
  res = braidCommDestroy(comm);
  if (res != braidSuccess && status == 0) {
    std::fprintf(stderr, "%s: rank %d: braidCommDestroy failed: %s\n", opts.program.c_str(), rank,
                 braidGetErrorString(res));
    status = 1;
  }
  return status;
}

}  // namespace
}  // namespace braid::perf

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  return braid::perf::realMain(argc, argv);
}
