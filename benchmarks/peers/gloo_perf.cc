// gloo-perf: the braid-perf table for Gloo (TCP transport) collectives on host buffers.
//
//   braid-run -n 2 gloo-perf -b 8 -e 256M -f 4 [--gloo-algo ring]
//   mpirun -np 2 gloo-perf ...                    (Open MPI only starts the processes)
//
// Rank and size come from BRAID_RANK / BRAID_NRANKS (braid-run), OMPI_COMM_WORLD_RANK / _SIZE
// (mpirun), PMI_RANK / PMI_SIZE or SLURM_PROCID / SLURM_NTASKS. Rendezvous goes through a
// gloo::rendezvous::FileStore in a directory unique to the launch: $GLOO_STORE_DIR (default
// /tmp)/gloo-perf-<hash of BRAID_SECRET, BRAID_ROOT_ADDR or the MPI job id>; rank 0 removes it
// at the end. Ranks on several hosts need GLOO_STORE_DIR on a shared file system and
// --gloo-iface (or GLOO_SOCKET_IFNAME); the default binds 127.0.0.1.
//
// Collectives, as a Gloo user (PyTorch's ProcessGroupGloo, say) would call them:
//   allreduce      gloo::AllreduceRing (default), AllreduceRingChunked,
//                  AllreduceHalvingDoubling or AllreduceBcube (--gloo-algo), on the output
//                  buffer: out of place first copies the input to the output. Instances are
//                  cached per (buffer, count) as their constructors allocate and register.
//   reducescatter  gloo::ReduceScatterHalvingDoubling on a scratch copy (out of place) or the
//                  buffer (in place), then this rank's block is moved where nccl-tests wants it.
//   allgather, broadcast, reduce   gloo::allgather / broadcast / reduce (options API).
//   avg            sum, then a local division by nranks.
#include <gloo/allgather.h>
#include <gloo/allreduce_bcube.h>
#include <gloo/allreduce_halving_doubling.h>
#include <gloo/allreduce_ring.h>
#include <gloo/allreduce_ring_chunked.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/config.h>
#include <gloo/reduce.h>
#include <gloo/reduce_scatter.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>
#include <gloo/types.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "perf_harness.h"

// bfloat16 for Gloo's typed algorithms: arithmetic in float, rounded back.
struct GlooBfloat16 {
  uint16_t bits;
};
inline GlooBfloat16 operator+(GlooBfloat16 a, GlooBfloat16 b) {
  using braid::perf::bfloat16ToFloat;
  return {braid::perf::floatToBfloat16(bfloat16ToFloat(a.bits) + bfloat16ToFloat(b.bits))};
}
inline GlooBfloat16 operator*(GlooBfloat16 a, GlooBfloat16 b) {
  using braid::perf::bfloat16ToFloat;
  return {braid::perf::floatToBfloat16(bfloat16ToFloat(a.bits) * bfloat16ToFloat(b.bits))};
}
inline bool operator<(GlooBfloat16 a, GlooBfloat16 b) {
  return braid::perf::bfloat16ToFloat(a.bits) < braid::perf::bfloat16ToFloat(b.bits);
}

namespace braid::perf {
namespace {

enum class GlooAlgo { kRing, kRingChunked, kHalvingDoubling, kBcube };

bool parseGlooAlgo(const std::string& name, GlooAlgo* algo) {
  if (name == "ring") {
    *algo = GlooAlgo::kRing;
  } else if (name == "ring_chunked") {
    *algo = GlooAlgo::kRingChunked;
  } else if (name == "halving_doubling") {
    *algo = GlooAlgo::kHalvingDoubling;
  } else if (name == "bcube") {
    *algo = GlooAlgo::kBcube;
  } else {
    return false;
  }
  return true;
}

const char* glooAlgoName(GlooAlgo algo) {
  switch (algo) {
    case GlooAlgo::kRing:
      return "ring";
    case GlooAlgo::kRingChunked:
      return "ring_chunked";
    case GlooAlgo::kHalvingDoubling:
      return "halving_doubling";
    case GlooAlgo::kBcube:
      return "bcube";
  }
  return "?";
}

template <typename T>
const gloo::ReductionFunction<T>* reductionFunction(RedOp op) {
  switch (op) {
    case RedOp::kProd:
      return gloo::ReductionFunction<T>::product;
    case RedOp::kMax:
      return gloo::ReductionFunction<T>::max;
    case RedOp::kMin:
      return gloo::ReductionFunction<T>::min;
    default:
      return gloo::ReductionFunction<T>::sum;  // sum, and avg before its division
  }
}

template <typename T>
std::unique_ptr<gloo::Algorithm> makeAllreduce(GlooAlgo algo,
                                               const std::shared_ptr<gloo::Context>& context,
                                               void* ptr, int count, RedOp op) {
  const std::vector<T*> ptrs = {static_cast<T*>(ptr)};
  const gloo::ReductionFunction<T>* fn = reductionFunction<T>(op);
  switch (algo) {
    case GlooAlgo::kRing:
      return std::make_unique<gloo::AllreduceRing<T>>(context, ptrs, count, fn);
    case GlooAlgo::kRingChunked:
      return std::make_unique<gloo::AllreduceRingChunked<T>>(context, ptrs, count, fn);
    case GlooAlgo::kHalvingDoubling:
      return std::make_unique<gloo::AllreduceHalvingDoubling<T>>(context, ptrs, count, fn);
    case GlooAlgo::kBcube:
      return std::make_unique<gloo::AllreduceBcube<T>>(context, ptrs, count, fn);
  }
  return nullptr;
}

template <typename T>
std::unique_ptr<gloo::Algorithm> makeReduceScatter(const std::shared_ptr<gloo::Context>& context,
                                                   void* ptr, int count, int block, RedOp op) {
  const std::vector<T*> ptrs = {static_cast<T*>(ptr)};
  const std::vector<int> recvElems(static_cast<size_t>(context->size), block);
  return std::make_unique<gloo::ReduceScatterHalvingDoubling<T>>(context, ptrs, count, recvElems,
                                                                 reductionFunction<T>(op));
}

// Calls F::template call<T>(args...) with T the C++ type Gloo's typed algorithms use.
template <typename F, typename... Args>
auto withType(DataType type, Args&&... args) {
  switch (type) {
    case DataType::kInt8:
      return F::template call<int8_t>(args...);
    case DataType::kUint8:
      return F::template call<uint8_t>(args...);
    case DataType::kInt32:
      return F::template call<int32_t>(args...);
    case DataType::kUint32:
      return F::template call<uint32_t>(args...);
    case DataType::kInt64:
      return F::template call<int64_t>(args...);
    case DataType::kUint64:
      return F::template call<uint64_t>(args...);
    case DataType::kHalf:
      return F::template call<gloo::float16>(args...);
    case DataType::kFloat:
      return F::template call<float>(args...);
    case DataType::kDouble:
      return F::template call<double>(args...);
    case DataType::kBfloat16:
      return F::template call<GlooBfloat16>(args...);
  }
  return F::template call<uint8_t>(args...);
}

struct MakeAllreduce {
  template <typename T>
  static std::unique_ptr<gloo::Algorithm> call(GlooAlgo algo,
                                               const std::shared_ptr<gloo::Context>& context,
                                               void* ptr, int count, RedOp op) {
    return makeAllreduce<T>(algo, context, ptr, count, op);
  }
};

struct MakeReduceScatter {
  template <typename T>
  static std::unique_ptr<gloo::Algorithm> call(const std::shared_ptr<gloo::Context>& context,
                                               void* ptr, int count, int block, RedOp op) {
    return makeReduceScatter<T>(context, ptr, count, block, op);
  }
};

// Options-API calls take typed buffers only to learn the element size.
template <typename Opts>
void setInputBytes(Opts& opts, const void* ptr, size_t count, size_t elt) {
  void* p = const_cast<void*>(ptr);  // Gloo only reads inputs
  switch (elt) {
    case 1:
      opts.template setInput<uint8_t>(static_cast<uint8_t*>(p), count);
      break;
    case 2:
      opts.template setInput<uint16_t>(static_cast<uint16_t*>(p), count);
      break;
    case 4:
      opts.template setInput<uint32_t>(static_cast<uint32_t*>(p), count);
      break;
    default:
      opts.template setInput<uint64_t>(static_cast<uint64_t*>(p), count);
      break;
  }
}

template <typename Opts>
void setOutputBytes(Opts& opts, void* p, size_t count, size_t elt) {
  switch (elt) {
    case 1:
      opts.template setOutput<uint8_t>(static_cast<uint8_t*>(p), count);
      break;
    case 2:
      opts.template setOutput<uint16_t>(static_cast<uint16_t*>(p), count);
      break;
    case 4:
      opts.template setOutput<uint32_t>(static_cast<uint32_t*>(p), count);
      break;
    default:
      opts.template setOutput<uint64_t>(static_cast<uint64_t*>(p), count);
      break;
  }
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

bool rankFromEnv(int* rank, int* size, std::string* source) {
  static constexpr const char* kPairs[][2] = {{"BRAID_RANK", "BRAID_NRANKS"},
                                              {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
                                              {"PMI_RANK", "PMI_SIZE"},
                                              {"SLURM_PROCID", "SLURM_NTASKS"}};
  for (const auto& pair : kPairs) {
    const char* r = env(pair[0]);
    const char* s = env(pair[1]);
    if (r != nullptr && s != nullptr) {
      *rank = std::atoi(r);
      *size = std::atoi(s);
      *source = pair[0];
      return *size >= 1 && *rank >= 0 && *rank < *size;
    }
  }
  *rank = 0;
  *size = 1;
  *source = "none (single process)";
  return true;
}

// What names this launch, the same on every rank and different for the next launch.
std::string launchKey() {
  for (const char* name :
       {"BRAID_SECRET", "BRAID_ROOT_ADDR", "PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid",
        "OMPI_MCA_orte_ess_jobid", "SLURM_STEP_ID", "MASTER_PORT"}) {
    if (const char* v = env(name)) {
      std::string key = std::string(name) + "=" + v;
      if (std::strcmp(name, "SLURM_STEP_ID") == 0) {
        if (const char* job = env("SLURM_JOB_ID")) key += std::string(",") + job;
      }
      return key;
    }
  }
  return "pid=" + std::to_string(getpid());  // single process
}

class GlooBackend : public Backend {
 public:
  GlooBackend(std::shared_ptr<gloo::Context> context, GlooAlgo algo, std::string deviceText)
      : context_(std::move(context)), algo_(algo), deviceText_(std::move(deviceText)) {}

  std::string name() const override { return "gloo"; }
  std::string description() const override {
    return "Gloo " + std::to_string(GLOO_VERSION_MAJOR) + "." + std::to_string(GLOO_VERSION_MINOR) +
           "." + std::to_string(GLOO_VERSION_PATCH) + " transport tcp (" + deviceText_ +
           ") allreduce " + glooAlgoName(algo_) + " (gloo-perf)";
  }
  int rank() const override { return context_->rank; }
  int nranks() const override { return context_->size; }
  std::string unsupportedReason(Collective coll, DataType type, RedOp op) const override {
    const int n = context_->size;
    if (coll == Collective::kAllReduce && algo_ == GlooAlgo::kBcube && (n & (n - 1)) != 0) {
      return "gloo::AllreduceBcube gives wrong results unless nranks is a power of two";
    }
    return {};
  }
  bool bindsBuffers(Collective coll) const override {
    return coll == Collective::kAllReduce || coll == Collective::kReduceScatter;
  }

  bool run(const CollectiveCall& call) override {
    try {
      return runChecked(call);
    } catch (const std::exception& e) {
      lastError_ = e.what();
      return false;
    }
  }

  bool barrier() override {
    if (context_->size == 1) return true;
    try {
      gloo::BarrierOptions opts(context_);
      gloo::barrier(opts);
      return true;
    } catch (const std::exception& e) {
      lastError_ = e.what();
      return false;
    }
  }

  bool allGatherBytes(const void* in, size_t bytes, void* out) override {
    if (context_->size == 1) {
      std::memcpy(out, in, bytes);
      return true;
    }
    try {
      gloo::AllgatherOptions opts(context_);
      setInputBytes(opts, in, bytes, 1);
      setOutputBytes(opts, out, bytes * static_cast<size_t>(context_->size), 1);
      gloo::allgather(opts);
      return true;
    } catch (const std::exception& e) {
      lastError_ = e.what();
      return false;
    }
  }

  std::string lastError() const override { return lastError_; }

 private:
  struct CacheKey {
    int kind = 0;  // 0 allreduce, 1 reducescatter
    DataType type = DataType::kFloat;
    RedOp op = RedOp::kSum;
    size_t count = 0;
    void* ptr = nullptr;
    bool sameShape(const CacheKey& o) const {
      return kind == o.kind && type == o.type && op == o.op && count == o.count;
    }
  };

  // Old-style Gloo algorithms bind buffers at construction (and allocate scratch of the full
  // size), so they are built once per buffer and reused, as a Gloo user would; the harness
  // makes the first call on each buffer outside the timing (bindsBuffers). The cache holds one
  // shape at a time; every rank builds in the same order, as Gloo requires.
  gloo::Algorithm* cached(const CacheKey& key, int block) {
    if (!cache_.empty() && !cache_.front().first.sameShape(key)) cache_.clear();
    for (auto& entry : cache_) {
      if (entry.first.ptr == key.ptr) return entry.second.get();
    }
    const int count = static_cast<int>(key.count);
    std::unique_ptr<gloo::Algorithm> algo =
        key.kind == 0
            ? withType<MakeAllreduce>(key.type, algo_, context_, key.ptr, count, key.op)
            : withType<MakeReduceScatter>(key.type, context_, key.ptr, count, block, key.op);
    cache_.emplace_back(key, std::move(algo));
    return cache_.back().second.get();
  }

  void* scratch(size_t bytes) {
    if (scratch_.size() < bytes) {
      cache_.clear();  // entries may point into the old scratch
      scratch_.assign(bytes, 0);
    }
    return scratch_.data();
  }

  bool runChecked(const CollectiveCall& call) {
    const size_t elt = dataTypeSize(call.type);
    const size_t n = static_cast<size_t>(context_->size);
    const size_t bytes = call.count * elt;
    if (call.count == 0) return true;
    if (call.count * n > static_cast<size_t>(std::numeric_limits<int>::max())) {
      lastError_ = "count exceeds Gloo's int count";
      return false;
    }
    if (n == 1) {  // Gloo's collectives expect peers; one rank is a copy
      if (call.send != call.recv) std::memmove(call.recv, call.send, bytes);
      return true;
    }
    switch (call.coll) {
      case Collective::kAllReduce: {
        if (!call.inPlace) std::memcpy(call.recv, call.send, bytes);
        CacheKey key{0, call.type, call.op, call.count, call.recv};
        cached(key, 0)->run();
        if (call.op == RedOp::kAvg) divideByRanks(call.recv, call.count, call.type, context_->size);
        return true;
      }
      case Collective::kReduceScatter: {
        void* full = call.inPlace ? const_cast<void*>(call.send) : scratch(bytes * n);
        if (!call.inPlace) std::memcpy(full, call.send, bytes * n);
        CacheKey key{1, call.type, call.op, call.count * n, full};
        cached(key, static_cast<int>(call.count))->run();
        if (full != call.recv) std::memmove(call.recv, full, bytes);  // block 0 -> rank's place
        if (call.op == RedOp::kAvg) divideByRanks(call.recv, call.count, call.type, context_->size);
        return true;
      }
      case Collective::kAllGather: {
        gloo::AllgatherOptions opts(context_);
        if (!call.inPlace) setInputBytes(opts, call.send, call.count, elt);
        setOutputBytes(opts, call.recv, call.count * n, elt);
        gloo::allgather(opts);
        return true;
      }
      case Collective::kBroadcast: {
        gloo::BroadcastOptions opts(context_);
        opts.setRoot(call.root);
        if (context_->rank == call.root && !call.inPlace) {
          setInputBytes(opts, call.send, call.count, elt);
        }
        setOutputBytes(opts, call.recv, call.count, elt);
        gloo::broadcast(opts);
        return true;
      }
      case Collective::kReduce: {
        // Gloo writes partial results into every rank's output: non-roots get scratch.
        const bool root = context_->rank == call.root;
        gloo::ReduceOptions opts(context_);
        opts.setRoot(call.root);
        if (!(root && call.inPlace)) setInputBytes(opts, call.send, call.count, elt);
        setOutputBytes(opts, root ? call.recv : scratch(bytes), call.count, elt);
        const DataType type = call.type;
        const RedOp op = call.op == RedOp::kAvg ? RedOp::kSum : call.op;
        opts.setReduceFunction([type, op](void* out, const void* a, const void* b, size_t count) {
          reduce3(out, a, b, count, type, op);
        });
        gloo::reduce(opts);
        if (root && call.op == RedOp::kAvg) {
          divideByRanks(call.recv, call.count, call.type, context_->size);
        }
        return true;
      }
    }
    return true;
  }

  std::shared_ptr<gloo::Context> context_;
  GlooAlgo algo_;
  std::string deviceText_;
  std::vector<std::pair<CacheKey, std::unique_ptr<gloo::Algorithm>>> cache_;
  std::vector<char> scratch_;
  std::string lastError_;
};

std::string glooUsage(const std::string& program) {
  return usage(program) +
         "\tgloo-perf only:\n"
         "\t[--gloo-algo ring|ring_chunked|halving_doubling|bcube] allreduce algorithm (ring)\n"
         "\t[--gloo-iface <interface>] bind this interface (or GLOO_SOCKET_IFNAME)\n"
         "\t[--gloo-host <address>] bind this address (default 127.0.0.1)\n"
         "\t[--gloo-timeout <seconds>] per-operation timeout (default 300)\n";
}

int realMain(int argc, char** argv) {
  std::string algoName = "ring";
  std::string iface;
  std::string host;
  std::string timeoutText = "300";
  takeLongOption(&argc, argv, "gloo-algo", &algoName);
  takeLongOption(&argc, argv, "gloo-iface", &iface);
  takeLongOption(&argc, argv, "gloo-host", &host);
  takeLongOption(&argc, argv, "gloo-timeout", &timeoutText);

  Options opts;
  std::string error;
  const ParseResult parsed = parseOptions(argc, argv, &opts, &error);
  if (parsed == ParseResult::kHelp) {
    std::printf("%s", glooUsage(opts.program).c_str());
    return 0;
  }
  GlooAlgo algo = GlooAlgo::kRing;
  if (parsed == ParseResult::kOk && !parseGlooAlgo(algoName, &algo)) {
    error = "invalid --gloo-algo '" + algoName + "' (ring ring_chunked halving_doubling bcube)";
  }
  const int timeoutSec = std::atoi(timeoutText.c_str());
  if (error.empty() && timeoutSec <= 0) error = "invalid --gloo-timeout '" + timeoutText + "'";
  if (parsed == ParseResult::kError || !error.empty()) {
    std::fprintf(stderr, "%s: %s\n%s", opts.program.c_str(), error.c_str(),
                 glooUsage(opts.program).c_str());
    return 2;
  }

  int rank = 0;
  int size = 1;
  std::string source;
  if (!rankFromEnv(&rank, &size, &source)) {
    std::fprintf(stderr, "%s: bad rank/size from %s\n", opts.program.c_str(), source.c_str());
    return 2;
  }

  const char* base = env("GLOO_STORE_DIR");
  char hash[32];
  std::snprintf(hash, sizeof(hash), "%016llx", static_cast<unsigned long long>(fnv1a(launchKey())));
  const std::string storeDir = std::string(base != nullptr ? base : "/tmp") + "/gloo-perf-" + hash;
  if (mkdir(storeDir.c_str(), 0700) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "%s: rank %d: cannot create %s: %s\n", opts.program.c_str(), rank,
                 storeDir.c_str(), std::strerror(errno));
    return 1;
  }

  int status = 0;
  try {
    gloo::transport::tcp::attr attr;
    if (iface.empty()) {
      if (const char* e = env("GLOO_SOCKET_IFNAME")) iface = e;
    }
    if (!iface.empty()) {
      attr.iface = iface;
    } else {
      attr.hostname = host.empty() ? "127.0.0.1" : host;
    }
    std::shared_ptr<gloo::transport::Device> device = gloo::transport::tcp::CreateDevice(attr);
    auto context = std::make_shared<gloo::rendezvous::Context>(rank, size);
    context->setTimeout(std::chrono::seconds(timeoutSec));
    {
      gloo::rendezvous::FileStore fileStore(storeDir);
      gloo::rendezvous::PrefixStore store("gloo-perf", fileStore);
      context->connectFullMesh(store, device);
    }
    GlooBackend backend(context, algo, device->str());
    status = runBenchmark(backend, opts);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: rank %d: %s\n", opts.program.c_str(), rank, e.what());
    status = kExitFailed;
  }
  // Every rank has connected (the run's barriers passed): the store is no longer needed.
  if (rank == 0 && status != kExitFailed) {
    std::error_code ec;
    std::filesystem::remove_all(storeDir, ec);
  }
  return status;
}

}  // namespace
}  // namespace braid::perf

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  return braid::perf::realMain(argc, argv);
}
