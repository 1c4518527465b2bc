#include "perf_harness.h"

#include <getopt.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>

#include "core/datatype.h"

namespace braid::perf {
namespace {

// ---- names ------------------------------------------------------------------------------------

// Types and ops: the library's one table (core/datatype.h), whose enums these mirror.
static_assert(kNumDataTypes == braid::kNumDataTypes && kNumRedOps == braid::kNumRedOps);
static_assert(static_cast<int>(DataType::kHalf) == braidFloat16 &&
              static_cast<int>(DataType::kBfloat16) == braidBfloat16 &&
              static_cast<int>(DataType::kUint64) == braidUint64);
static_assert(static_cast<int>(RedOp::kAvg) == braidAvg);

braidDataType_t toBraid(DataType type) { return static_cast<braidDataType_t>(type); }

struct CollName {
  Collective coll;
  const char* name;
  const char* testName;
};
constexpr CollName kCollNames[] = {
    {Collective::kAllReduce, "allreduce", "all_reduce_perf"},
    {Collective::kReduceScatter, "reducescatter", "reduce_scatter_perf"},
    {Collective::kAllGather, "allgather", "all_gather_perf"},
    {Collective::kBroadcast, "broadcast", "broadcast_perf"},
    {Collective::kReduce, "reduce", "reduce_perf"},
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool parseInt(const char* text, long min, long max, long* value) {
  if (text == nullptr || *text == '\0') return false;
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 0);
  if (errno != 0 || end == text || *end != '\0' || v < min || v > max) return false;
  *value = v;
  return true;
}

// ---- half / bfloat16 ---------------------------------------------------------------------------

uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}
float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

// ---- element access ----------------------------------------------------------------------------

// Stores a double (exact for every value the check uses) as element i of a typed buffer.
template <typename T>
void storeAs(void* buf, size_t i, double v) {
  static_cast<T*>(buf)[i] = static_cast<T>(v);
}

void storeValue(void* buf, size_t i, DataType type, double v) {
  switch (type) {
    case DataType::kInt8:
      storeAs<int8_t>(buf, i, v);
      break;
    case DataType::kUint8:
      storeAs<uint8_t>(buf, i, v);
      break;
    case DataType::kInt32:
      storeAs<int32_t>(buf, i, v);
      break;
    case DataType::kUint32:
      storeAs<uint32_t>(buf, i, v);
      break;
    case DataType::kInt64:
      storeAs<int64_t>(buf, i, v);
      break;
    case DataType::kUint64:
      storeAs<uint64_t>(buf, i, v);
      break;
    case DataType::kHalf:
      static_cast<uint16_t*>(buf)[i] = floatToHalf(static_cast<float>(v));
      break;
    case DataType::kFloat:
      storeAs<float>(buf, i, v);
      break;
    case DataType::kDouble:
      storeAs<double>(buf, i, v);
      break;
    case DataType::kBfloat16:
      static_cast<uint16_t*>(buf)[i] = floatToBfloat16(static_cast<float>(v));
      break;
  }
}

// Integer types store results modulo 2^bits, which is what any order of wrapping arithmetic
// gives; the check keeps sums in range anyway, only products of many ranks can wrap.
void storeWrapped(void* buf, size_t i, DataType type, uint64_t v) {
  switch (type) {
    case DataType::kInt8:
    case DataType::kUint8:
      static_cast<uint8_t*>(buf)[i] = static_cast<uint8_t>(v);
      break;
    case DataType::kInt32:
    case DataType::kUint32:
      static_cast<uint32_t*>(buf)[i] = static_cast<uint32_t>(v);
      break;
    case DataType::kInt64:
    case DataType::kUint64:
      static_cast<uint64_t*>(buf)[i] = v;
      break;
    default:
      storeValue(buf, i, type, static_cast<double>(v));
      break;
  }
}

bool isFloating(DataType type) {
  return type == DataType::kHalf || type == DataType::kFloat || type == DataType::kDouble ||
         type == DataType::kBfloat16;
}

// Largest integer M such that every integer in [0, M] and every sum of such values that the
// check builds is exact in the type (and, for the narrow types, in every partial sum).
double exactLimit(DataType type) {
  switch (type) {
    case DataType::kInt8:
      return 127;
    case DataType::kUint8:
      return 255;
    case DataType::kHalf:
      return 2048;
    case DataType::kBfloat16:
      return 256;
    default:
      return 1 << 24;
  }
}

uint64_t mix(uint64_t x) {
  x ^= x >> 31;
  x *= 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return x;
}

// A rank's input: value(rank, index) = scale * (hash(rank, index, seed) % (span + 1)) + offset.
struct Pattern {
  uint64_t span = 0;  // values hash % (span + 1)
  uint64_t scale = 1;
  uint64_t offset = 0;
  uint64_t value(int rank, size_t index, uint64_t seed) const {
    const uint64_t h = mix((static_cast<uint64_t>(index) << 20) ^
                           (static_cast<uint64_t>(rank) * 0x100000001B3ull) ^ (seed << 52) ^ seed);
    return scale * (span == 0 ? 0 : h % (span + 1)) + offset;
  }
};

Pattern patternFor(DataType type, Collective coll, RedOp op, int nranks) {
  Pattern p;
  const double lim = exactLimit(type);
  const double n = std::max(nranks, 1);
  if (!collectiveHasOp(coll)) {
    p.span = static_cast<uint64_t>(std::min(lim, 1048576.0));
    return p;
  }
  switch (op) {
    case RedOp::kSum:
      p.span = static_cast<uint64_t>(lim / n);
      break;
    case RedOp::kProd:
      p.span = 1;  // {1, 2}: products are powers of two
      p.offset = 1;
      break;
    case RedOp::kMax:
    case RedOp::kMin:
      p.span = static_cast<uint64_t>(std::min(lim, 1000.0));
      break;
    case RedOp::kAvg:
      if (isFloating(type)) {
        // Multiples of nranks: x / n is exact, so sum-then-divide and divide-then-sum agree.
        p.span = static_cast<uint64_t>(lim / (n * n));
        p.scale = static_cast<uint64_t>(n);
      } else {
        p.span = static_cast<uint64_t>(lim / n);
      }
      break;
  }
  return p;
}

// ---- reduction kernels -------------------------------------------------------------------------

template <typename T>
struct Wide {
  using U = std::make_unsigned_t<T>;
  static T add(T a, T b) { return static_cast<T>(static_cast<U>(a) + static_cast<U>(b)); }
  static T mul(T a, T b) {
    using P = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;
    return static_cast<T>(
        static_cast<U>(static_cast<P>(static_cast<U>(a)) * static_cast<P>(static_cast<U>(b))));
  }
};

template <typename T>
T applyInt(T a, T b, RedOp op) {
  switch (op) {
    case RedOp::kSum:
    case RedOp::kAvg:
      return Wide<T>::add(a, b);
    case RedOp::kProd:
      return Wide<T>::mul(a, b);
    case RedOp::kMax:
      return std::max(a, b);
    case RedOp::kMin:
      return std::min(a, b);
  }
  return a;
}

template <typename T>
T applyFloat(T a, T b, RedOp op) {
  switch (op) {
    case RedOp::kSum:
    case RedOp::kAvg:
      return a + b;
    case RedOp::kProd:
      return a * b;
    case RedOp::kMax:
      return std::max(a, b);
    case RedOp::kMin:
      return std::min(a, b);
  }
  return a;
}

template <typename T>
void reduceTyped(T* out, const T* a, const T* b, size_t n, RedOp op) {
  // One switch outside the loop keeps each loop simple enough to vectorize.
  if constexpr (std::is_integral_v<T>) {
    switch (op) {
      case RedOp::kSum:
      case RedOp::kAvg:
        for (size_t i = 0; i < n; ++i) out[i] = Wide<T>::add(a[i], b[i]);
        return;
      case RedOp::kProd:
        for (size_t i = 0; i < n; ++i) out[i] = Wide<T>::mul(a[i], b[i]);
        return;
      default:
        for (size_t i = 0; i < n; ++i) out[i] = applyInt(a[i], b[i], op);
        return;
    }
  } else {
    switch (op) {
      case RedOp::kSum:
      case RedOp::kAvg:
        for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
        return;
      case RedOp::kProd:
        for (size_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
        return;
      default:
        for (size_t i = 0; i < n; ++i) out[i] = applyFloat(a[i], b[i], op);
        return;
    }
  }
}

template <float (*ToFloat)(uint16_t), uint16_t (*FromFloat)(float)>
void reduce16(uint16_t* out, const uint16_t* a, const uint16_t* b, size_t n, RedOp op) {
  for (size_t i = 0; i < n; ++i) out[i] = FromFloat(applyFloat(ToFloat(a[i]), ToFloat(b[i]), op));
}

template <typename T>
void divideTyped(T* buf, size_t n, int nranks) {
  const T d = static_cast<T>(nranks);
  for (size_t i = 0; i < n; ++i) buf[i] = static_cast<T>(buf[i] / d);
}

template <float (*ToFloat)(uint16_t), uint16_t (*FromFloat)(float)>
void divide16(uint16_t* buf, size_t n, int nranks) {
  const float d = static_cast<float>(nranks);
  for (size_t i = 0; i < n; ++i) buf[i] = FromFloat(ToFloat(buf[i]) / d);
}

// ---- output -------------------------------------------------------------------------------------

struct Result {
  double timeUs = 0;
  double algBw = 0;
  double busBw = 0;
  int64_t wrong = -1;  // -1: not checked
};

struct Row {
  size_t bytes = 0;
  size_t count = 0;
  const char* type = "";
  const char* op = "";
  int root = -1;
  Result oop;
  Result ip;
};

std::string jsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string csvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && lower(s.substr(s.size() - suffix.size())) == lower(suffix);
}

// ---- the run ----------------------------------------------------------------------------------

class Runner {
 public:
  Runner(Backend& backend, const Options& opts)
      : b_(backend), o_(opts), rank_(backend.rank()), nranks_(backend.nranks()) {}
  ~Runner() {
    for (void* p : {send_, recv_, expected_}) {
      if (p != nullptr) b_.release(p);
    }
  }

  int run();

 private:
  void print(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  bool fail(const char* what);
  bool gatherDoubles(double v, std::vector<double>* all);
  bool gatherInts(int64_t v, std::vector<int64_t>* all);
  bool printHeader();
  bool timeTest(DataType type, RedOp op, const char* opName, int root, int printRoot);
  bool benchTime(DataType type, RedOp op, int root, bool inPlace, Result* result);
  bool startColl(DataType type, RedOp op, int root, bool inPlace, int iter);
  void setupArgs(size_t size, DataType type);
  void initData(DataType type, RedOp op, int root, bool inPlace, uint64_t seed);
  int64_t checkData(DataType type, bool inPlace);
  void writeResults(double avgBusBw, int errors) const;

  Backend& b_;
  const Options& o_;
  const int rank_;
  const int nranks_;
  void* send_ = nullptr;
  void* recv_ = nullptr;
  void* expected_ = nullptr;
  size_t allocBytes_ = 0;
  CollCounts counts_;
  size_t eltSize_ = 1;
  int errors_ = 0;  // tests with wrong elements on this rank
  double bwSum_ = 0;
  int bwCount_ = 0;
  int testsRun_ = 0;
  int checkRep_ = 0;
  std::vector<Row> rows_;
};

void Runner::print(const char* fmt, ...) {
  if (rank_ != 0) return;
  va_list ap;
  va_start(ap, fmt);
  std::vprintf(fmt, ap);
  va_end(ap);
}

bool Runner::fail(const char* what) {
  std::fprintf(stderr, "%s: rank %d: %s failed: %s\n", o_.program.c_str(), rank_, what,
               b_.lastError().c_str());
  std::fflush(stderr);
  return false;
}

bool Runner::gatherDoubles(double v, std::vector<double>* all) {
  all->assign(static_cast<size_t>(nranks_), 0.0);
  return b_.allGatherBytes(&v, sizeof(v), all->data()) || fail("allgather (timing)");
}

bool Runner::gatherInts(int64_t v, std::vector<int64_t>* all) {
  all->assign(static_cast<size_t>(nranks_), 0);
  return b_.allGatherBytes(&v, sizeof(v), all->data()) || fail("allgather (counters)");
}

void Runner::setupArgs(size_t size, DataType type) {
  eltSize_ = dataTypeSize(type);
  counts_ = collCounts(o_.coll, size / eltSize_, eltSize_, nranks_);
}

bool Runner::startColl(DataType type, RedOp op, int root, bool inPlace, int iter) {
  // As nccl-tests: move the buffers each iteration so consecutive calls do not find their
  // data in cache (and a library caching pointers is caught).
  const size_t total = std::max(counts_.sendCount, counts_.recvCount) * eltSize_;
  const size_t steps = total != 0 ? std::max<size_t>(allocBytes_ / total, 1) : 1;
  const size_t shift = total * (static_cast<size_t>(iter) % steps);
  char* recv = static_cast<char*>(recv_) + shift;
  char* send = static_cast<char*>(send_) + shift;
  CollectiveCall call;
  call.coll = o_.coll;
  call.count = counts_.paramCount;
  call.type = type;
  call.op = op;
  call.root = root;
  call.inPlace = inPlace;
  const size_t r = static_cast<size_t>(rank_);
  call.send = inPlace ? recv + counts_.sendInplaceOffset * eltSize_ * r : send;
  call.recv = inPlace ? recv + counts_.recvInplaceOffset * eltSize_ * r : recv;
  return b_.run(call) || fail(collectiveName(o_.coll));
}

void Runner::initData(DataType type, RedOp op, int root, bool inPlace, uint64_t seed) {
  const size_t r = static_cast<size_t>(rank_);
  std::memset(recv_, 0, std::max(counts_.sendCount, counts_.recvCount) * eltSize_);
  void* data =
      inPlace ? static_cast<char*>(recv_) + counts_.sendInplaceOffset * eltSize_ * r : send_;
  if (o_.coll != Collective::kBroadcast || rank_ == root) {
    fillInput(data, counts_.sendCount, type, o_.coll, op, rank_, nranks_, seed);
  }
  fillExpected(expected_, counts_, type, o_.coll, op, root, inPlace, rank_, nranks_, seed);
}

int64_t Runner::checkData(DataType type, bool inPlace) {
  const size_t r = static_cast<size_t>(rank_);
  const char* data =
      static_cast<const char*>(recv_) + (inPlace ? counts_.recvInplaceOffset * eltSize_ * r : 0);
  return countWrong(data, expected_, counts_.recvCount, type);
}

bool Runner::benchTime(DataType type, RedOp op, int root, bool inPlace, Result* result) {
  if (o_.check > 0) initData(type, op, root, inPlace, 99);

  // Sync, then time.
  if (!startColl(type, op, root, inPlace, 0)) return false;
  const int agg = std::max(o_.aggIters, 1);
  if (b_.bindsBuffers(o_.coll)) {
    const size_t total = std::max(counts_.sendCount, counts_.recvCount) * eltSize_;
    const size_t steps = total != 0 ? std::max<size_t>(allocBytes_ / total, 1) : 1;
    const size_t calls = static_cast<size_t>(o_.iters) * static_cast<size_t>(agg);
    for (size_t iter = 1; iter < std::min(steps, calls); ++iter) {
      if (!startColl(type, op, root, inPlace, static_cast<int>(iter))) return false;
    }
  }
  if (!b_.barrier()) return fail("barrier");

  const auto start = std::chrono::steady_clock::now();
  for (int iter = 0; iter < o_.iters; ++iter) {
    for (int a = 0; a < agg; ++a) {
      if (!startColl(type, op, root, inPlace, iter * agg + a)) return false;
    }
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  double seconds = o_.iters > 0 ? elapsed.count() / (static_cast<double>(o_.iters) * agg) : 0.0;

  std::vector<double> times;
  if (!gatherDoubles(seconds, &times)) return false;
  switch (o_.average) {
    case 0:
      seconds = times[0];
      break;
    case 2:
      seconds = *std::min_element(times.begin(), times.end());
      break;
    case 3:
      seconds = *std::max_element(times.begin(), times.end());
      break;
    default: {
      double sum = 0;
      for (double t : times) sum += t;
      seconds = sum / nranks_;
      break;
    }
  }
  bandwidth(o_.coll, counts_.paramCount, eltSize_, seconds, nranks_, &result->algBw,
            &result->busBw);
  if (!b_.barrier()) return fail("barrier");

  int64_t wrong = 0;
  ++checkRep_;
  for (int c = 0; c < o_.check; ++c) {
    initData(type, op, root, inPlace, static_cast<uint64_t>(checkRep_) * 1000 + c);
    if (!startColl(type, op, root, inPlace, 0)) return false;
    const int64_t local = checkData(type, inPlace);
    if (local != 0) ++errors_;
    std::vector<int64_t> all;
    if (!gatherInts(local, &all)) return false;
    wrong = 0;
    for (int64_t w : all) wrong += w;
    if (wrong != 0) break;
  }

  result->timeUs = seconds * 1e6;
  result->wrong = o_.check > 0 ? wrong : -1;
  const std::string t = formatFloat(result->timeUs, 7);
  const std::string alg = formatFloat(result->algBw, 6);
  const std::string bus = formatFloat(result->busBw, 6);
  if (o_.check > 0) {
    print("  %7s  %6s  %6s  %6g", t.c_str(), alg.c_str(), bus.c_str(), static_cast<double>(wrong));
  } else {
    print("  %7s  %6s  %6s    N/A", t.c_str(), alg.c_str(), bus.c_str());
  }
  bwSum_ += result->busBw;
  ++bwCount_;
  return true;
}

bool Runner::timeTest(DataType type, RedOp op, const char* opName, int root, int printRoot) {
  if (!b_.barrier()) return fail("barrier");
  // Warm up at the largest size, then at the smallest.
  setupArgs(o_.maxBytes, type);
  for (int iter = 0; iter < o_.warmupIters; ++iter) {
    if (!startColl(type, op, root, false, iter)) return false;
  }
  setupArgs(o_.minBytes, type);
  for (int iter = 0; iter < o_.warmupIters; ++iter) {
    if (!startColl(type, op, root, false, iter)) return false;
  }

  const std::vector<size_t> sizes = sizeSequence(o_);
  for (long cycle = 0; o_.runCycles == 0 || cycle < o_.runCycles; ++cycle) {
    for (size_t size : sizes) {
      setupArgs(size, type);
      Row row;
      row.bytes = std::max(counts_.sendCount, counts_.recvCount) * eltSize_;
      row.count = counts_.paramCount;
      row.type = dataTypeName(type);
      row.op = opName;
      row.root = printRoot;
      print("%12zu  %12zu  %8s  %6s  %6i", row.bytes, row.count, row.type, row.op, printRoot);
      if (!benchTime(type, op, root, false, &row.oop)) return false;
      if (!benchTime(type, op, root, true, &row.ip)) return false;
      print("\n");
      if (rank_ == 0) {
        std::fflush(stdout);
        if (!o_.outputFile.empty()) rows_.push_back(row);
      }
    }
  }
  ++testsRun_;
  return true;
}

bool Runner::printHeader() {
  print("# %s\n", b_.description().c_str());
  print("# Collective test starting: %s (%s, %s backend)\n", collectiveTestName(o_.coll),
        o_.program.c_str(), b_.name().c_str());
  print(
      "# nThread %d nGpus %d minBytes %zu maxBytes %zu step: %zu(%s) warmup iters: %d iters: "
      "%d agg iters: %d validation: %d graph: %d\n",
      o_.nThreads, o_.nGpus, o_.minBytes, o_.maxBytes,
      o_.stepFactor > 1 ? o_.stepFactor : o_.stepBytes, o_.stepFactor > 1 ? "factor" : "bytes",
      o_.warmupIters, o_.iters, o_.aggIters, o_.check, 0);
  if (o_.graph != 0) print("# Option -G (CUDA graph) ignored: host buffers\n");
  if (b_.bindsBuffers(o_.coll)) {
    print(
        "# %s binds buffers to prepared operations: each buffer offset is used once, untimed,"
        " before timing\n",
        b_.name().c_str());
  }
  print("#\n");
  print("# Using devices\n");

  constexpr size_t kLine = 256;
  char host[128] = {};
  gethostname(host, sizeof(host) - 1);
  char line[kLine] = {};
  std::snprintf(line, sizeof(line), "#  Rank %2d Group %2d Pid %6d on %10s device %2d [host] %s\n",
                rank_, 0, static_cast<int>(getpid()), host, -1, "host memory");
  std::vector<char> lines(kLine * static_cast<size_t>(nranks_));
  if (!b_.allGatherBytes(line, kLine, lines.data())) return fail("allgather (device report)");
  for (int r = 0; r < nranks_; ++r) {
    char* l = lines.data() + kLine * static_cast<size_t>(r);
    l[kLine - 1] = '\0';
    print("%s", l);
  }

  const char* timeStr = o_.reportCpuTime ? "cputime" : "time";
  print("#\n");
  print("# %10s  %12s  %8s  %6s  %6s           out-of-place                       in-place\n", "",
        "", "", "", "");
  print("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s\n", "size", "count",
        "type", "redop", "root", timeStr, "algbw", "busbw", "#wrong", timeStr, "algbw", "busbw",
        "#wrong");
  print("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s\n", "(B)",
        "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "");
  std::fflush(stdout);
  return true;
}

void Runner::writeResults(double avgBusBw, int errors) const {
  FILE* f = std::fopen(o_.outputFile.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "%s: cannot write %s: %s\n", o_.program.c_str(), o_.outputFile.c_str(),
                 std::strerror(errno));
    return;
  }
  const bool csv = endsWith(o_.outputFile, ".csv");
  auto wrongStr = [](int64_t w) { return w < 0 ? std::string() : std::to_string(w); };
  if (csv) {
    std::fprintf(f,
                 "backend,collective,nranks,bytes,count,type,op,root,oop_time_us,oop_algbw,"
                 "oop_busbw,oop_wrong,ip_time_us,ip_algbw,ip_busbw,ip_wrong\n");
    for (const Row& r : rows_) {
      std::fprintf(f, "%s,%s,%d,%zu,%zu,%s,%s,%d,%.9g,%.9g,%.9g,%s,%.9g,%.9g,%.9g,%s\n",
                   csvField(b_.name()).c_str(), collectiveName(o_.coll), nranks_, r.bytes, r.count,
                   r.type, r.op, r.root, r.oop.timeUs, r.oop.algBw, r.oop.busBw,
                   wrongStr(r.oop.wrong).c_str(), r.ip.timeUs, r.ip.algBw, r.ip.busBw,
                   wrongStr(r.ip.wrong).c_str());
    }
  } else {
    auto wrongJson = [](int64_t w) { return w < 0 ? std::string("null") : std::to_string(w); };
    std::string s = "{\n";
    s += "  \"tool\": " + jsonString(o_.program) + ",\n";
    s += "  \"backend\": " + jsonString(b_.name()) + ",\n";
    s += "  \"description\": " + jsonString(b_.description()) + ",\n";
    s += "  \"collective\": " + jsonString(collectiveName(o_.coll)) + ",\n";
    s += "  \"test\": " + jsonString(collectiveTestName(o_.coll)) + ",\n";
    s += "  \"nranks\": " + std::to_string(nranks_) + ",\n";
    s += "  \"settings\": {\"minbytes\": " + std::to_string(o_.minBytes) +
         ", \"maxbytes\": " + std::to_string(o_.maxBytes) +
         ", \"stepbytes\": " + std::to_string(o_.stepBytes) +
         ", \"stepfactor\": " + std::to_string(o_.stepFactor) +
         ", \"iters\": " + std::to_string(o_.iters) +
         ", \"warmup_iters\": " + std::to_string(o_.warmupIters) +
         ", \"agg_iters\": " + std::to_string(o_.aggIters) +
         ", \"run_cycles\": " + std::to_string(o_.runCycles) +
         ", \"check\": " + std::to_string(o_.check) +
         ", \"average\": " + std::to_string(o_.average) + ", \"datatype\": " +
         jsonString(o_.type < 0 ? "all" : dataTypeName(static_cast<DataType>(o_.type))) +
         ", \"op\": " + jsonString(o_.op < 0 ? "all" : redOpName(static_cast<RedOp>(o_.op))) +
         ", \"root\": " + std::to_string(o_.root) + "},\n";
    s += "  \"rows\": [";
    for (size_t i = 0; i < rows_.size(); ++i) {
      const Row& r = rows_[i];
      s += i == 0 ? "\n" : ",\n";
      s += "    {\"bytes\": " + std::to_string(r.bytes) +
           ", \"count\": " + std::to_string(r.count) + ", \"type\": " + jsonString(r.type) +
           ", \"op\": " + jsonString(r.op) + ", \"root\": " + std::to_string(r.root) +
           ", \"oop_time_us\": " + jsonNumber(r.oop.timeUs) +
           ", \"oop_algbw\": " + jsonNumber(r.oop.algBw) +
           ", \"oop_busbw\": " + jsonNumber(r.oop.busBw) +
           ", \"oop_wrong\": " + wrongJson(r.oop.wrong) +
           ", \"ip_time_us\": " + jsonNumber(r.ip.timeUs) +
           ", \"ip_algbw\": " + jsonNumber(r.ip.algBw) +
           ", \"ip_busbw\": " + jsonNumber(r.ip.busBw) +
           ", \"ip_wrong\": " + wrongJson(r.ip.wrong) + "}";
    }
    s += rows_.empty() ? "],\n" : "\n  ],\n";
    s += "  \"out_of_bounds\": " + std::to_string(errors) + ",\n";
    s += "  \"avg_busbw\": " + jsonNumber(avgBusBw) + "\n}\n";
    std::fputs(s.c_str(), f);
  }
  std::fclose(f);
}

int Runner::run() {
  if (o_.nThreads != 1 || o_.nGpus != 1) {
    if (rank_ == 0) {
      std::fprintf(stderr, "%s: only -t 1 -g 1 is supported (one rank per process)\n",
                   o_.program.c_str());
    }
    return kExitFailed;
  }
  if (o_.root >= nranks_ && collectiveHasRoot(o_.coll)) {
    if (rank_ == 0) {
      std::fprintf(stderr, "%s: root %d out of range (%d ranks)\n", o_.program.c_str(), o_.root,
                   nranks_);
    }
    return kExitFailed;
  }
  if (!printHeader()) return kExitFailed;

  allocBytes_ = std::max<size_t>(o_.maxBytes, 1);
  send_ = b_.allocate(allocBytes_);
  recv_ = b_.allocate(allocBytes_);
  expected_ = b_.allocate(allocBytes_);
  if (send_ == nullptr || recv_ == nullptr || expected_ == nullptr) {
    std::fprintf(stderr, "%s: rank %d: cannot allocate 3 x %zu bytes\n", o_.program.c_str(), rank_,
                 allocBytes_);
    return kExitFailed;
  }

  std::vector<DataType> types;
  if (o_.type < 0) {
    for (int t = 0; t < kNumDataTypes; ++t) types.push_back(static_cast<DataType>(t));
  } else {
    types.push_back(static_cast<DataType>(o_.type));
  }
  std::vector<RedOp> ops;
  if (!collectiveHasOp(o_.coll)) {
    ops.push_back(RedOp::kSum);
  } else if (o_.op < 0) {
    for (int op = 0; op < kNumRedOps; ++op) ops.push_back(static_cast<RedOp>(op));
  } else {
    ops.push_back(static_cast<RedOp>(o_.op));
  }
  std::vector<int> roots;
  if (!collectiveHasRoot(o_.coll)) {
    roots.push_back(-1);
  } else if (o_.root < 0) {
    for (int r = 0; r < nranks_; ++r) roots.push_back(r);
  } else {
    roots.push_back(o_.root);
  }

  bool ok = true;
  for (DataType type : types) {
    for (RedOp op : ops) {
      const char* opName = collectiveHasOp(o_.coll) ? redOpName(op) : "none";
      const std::string why = b_.unsupportedReason(o_.coll, type, op);
      if (!why.empty()) {
        print("# Skipping %s %s %s: %s\n", collectiveName(o_.coll), dataTypeName(type), opName,
              why.c_str());
        continue;
      }
      for (int root : roots) {
        if (!timeTest(type, op, opName, root < 0 ? 0 : root, root)) {
          ok = false;
          break;
        }
      }
      if (!ok) break;
    }
    if (!ok) break;
  }
  if (!ok) return kExitFailed;

  std::vector<int64_t> errs;
  if (!gatherInts(errors_, &errs)) return kExitFailed;
  int errors = 0;
  for (int64_t e : errs) errors += static_cast<int>(e);
  const double avgBusBw = bwCount_ > 0 ? bwSum_ / bwCount_ : 0.0;
  print("# %-20s : %d %s\n", "Out of bounds values", errors, errors != 0 ? "FAILED" : "OK");
  print("# %-20s : %g \n", "Avg bus bandwidth", avgBusBw);
  print("#\n");
  if (testsRun_ == 0) print("# No test ran: every combination asked for was skipped\n");
  std::fflush(stdout);
  if (rank_ == 0 && !o_.outputFile.empty()) writeResults(avgBusBw, errors);
  if (!b_.barrier()) {
    fail("barrier");
    return kExitFailed;
  }
  return (errors != 0 || testsRun_ == 0) ? kExitWrong : 0;
}

}  // namespace

// ---- public helpers
// ------------------------------------------------------------------------------

size_t dataTypeSize(DataType type) { return braid::dataTypeSize(toBraid(type)); }
const char* dataTypeName(DataType type) { return braid::dataTypeName(toBraid(type)); }
const char* redOpName(RedOp op) { return braid::redOpName(static_cast<braidRedOp_t>(op)); }

const char* collectiveName(Collective coll) {
  for (const CollName& c : kCollNames) {
    if (c.coll == coll) return c.name;
  }
  return "?";
}

const char* collectiveTestName(Collective coll) {
  for (const CollName& c : kCollNames) {
    if (c.coll == coll) return c.testName;
  }
  return "?";
}

bool collectiveHasOp(Collective coll) {
  return coll == Collective::kAllReduce || coll == Collective::kReduceScatter ||
         coll == Collective::kReduce;
}

bool collectiveHasRoot(Collective coll) {
  return coll == Collective::kBroadcast || coll == Collective::kReduce;
}

bool parseCollective(const std::string& name, Collective* coll) {
  std::string n = lower(name);
  if (n.size() > 5 && n.compare(n.size() - 5, 5, "_perf") == 0) n.resize(n.size() - 5);
  n.erase(std::remove(n.begin(), n.end(), '_'), n.end());
  n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
  for (const CollName& c : kCollNames) {
    if (n == c.name) {
      *coll = c.coll;
      return true;
    }
  }
  return false;
}

bool parseDataType(const std::string& name, DataType* type) {
  braidDataType_t t;
  if (!braid::parseDataType(name, &t)) return false;
  *type = static_cast<DataType>(t);
  return true;
}

bool parseRedOp(const std::string& name, RedOp* op) {
  braidRedOp_t o;
  if (!braid::parseRedOp(name, &o)) return false;
  *op = static_cast<RedOp>(o);
  return true;
}

void* Backend::allocate(size_t bytes) {
  constexpr size_t kAlign = 4096;
  const size_t rounded = (std::max<size_t>(bytes, 1) + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, rounded);
  if (p != nullptr) std::memset(p, 0, rounded);  // touch every page before timing
  return p;
}

void Backend::release(void* ptr) { std::free(ptr); }

double parseSize(const std::string& text) {
  const char* s = text.c_str();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s, &end);
  if (errno != 0 || end == s || v < 0) return -1.0;
  while (*end == ' ') ++end;
  double unit = 1;
  switch (*end) {
    case '\0':
      return v;
    case 'G':
    case 'g':
      unit = 1024.0 * 1024 * 1024;
      break;
    case 'M':
    case 'm':
      unit = 1024.0 * 1024;
      break;
    case 'K':
    case 'k':
      unit = 1024.0;
      break;
    default:
      return -1.0;
  }
  ++end;
  if (*end == 'B' || *end == 'b') ++end;  // "32MB" reads as 32M
  if (*end != '\0') return -1.0;
  return v * unit;
}

std::string formatFloat(double value, int width) {
  char buf[64];
  if (!std::isfinite(value)) {
    std::snprintf(buf, sizeof(buf), "%*s", width, std::isnan(value) ? "nan" : "inf");
    return buf;
  }
  int power = 0;
  for (double v = 1; value >= v && power < 40; v *= 10) ++power;
  if (power < width - 2) {
    std::snprintf(buf, sizeof(buf), "%*.2f", width, value);
  } else if (power < width - 1) {
    std::snprintf(buf, sizeof(buf), "%*.1f", width, value);
  } else if (power < width + 1) {
    std::snprintf(buf, sizeof(buf), "%*.0f", width, value);
  } else if (width >= 7) {
    std::snprintf(buf, sizeof(buf), "%*.1e", width, value);
  } else {
    std::snprintf(buf, sizeof(buf), "%*.0e", width, value);
  }
  return buf;
}

CollCounts collCounts(Collective coll, size_t count, size_t eltSize, int nranks) {
  CollCounts c;
  const size_t n = static_cast<size_t>(std::max(nranks, 1));
  switch (coll) {
    case Collective::kAllReduce:
    case Collective::kBroadcast:
    case Collective::kReduce:
      c.sendCount = c.recvCount = c.paramCount = count;
      break;
    case Collective::kAllGather: {
      // nccl-tests: (count / nranks) rounded down to a multiple of 16 bytes.
      const size_t base = (count / n) & ~(16 / eltSize - 1);
      c.sendCount = c.paramCount = base;
      c.recvCount = base * n;
      c.sendInplaceOffset = base;
      break;
    }
    case Collective::kReduceScatter: {
      const size_t base = (count / n) & ~(16 / eltSize - 1);
      c.sendCount = base * n;
      c.recvCount = c.paramCount = base;
      c.recvInplaceOffset = base;
      break;
    }
  }
  return c;
}

void bandwidth(Collective coll, size_t paramCount, size_t eltSize, double seconds, int nranks,
               double* algBw, double* busBw) {
  const double n = nranks;
  double bytes = static_cast<double>(paramCount) * static_cast<double>(eltSize);
  double factor = 1;
  switch (coll) {
    case Collective::kAllReduce:
      factor = 2 * (n - 1) / n;
      break;
    case Collective::kReduceScatter:
    case Collective::kAllGather:
      bytes *= n;
      factor = (n - 1) / n;
      break;
    case Collective::kBroadcast:
    case Collective::kReduce:
      factor = 1;
      break;
  }
  *algBw = seconds > 0 ? bytes / 1.0e9 / seconds : 0.0;
  *busBw = *algBw * factor;
}

std::vector<size_t> sizeSequence(const Options& opts) {
  std::vector<size_t> sizes;
  for (size_t size = opts.minBytes; size <= opts.maxBytes;) {
    sizes.push_back(size);
    size_t next = opts.stepFactor > 1 ? size * opts.stepFactor : size + opts.stepBytes;
    if (next <= size || (opts.stepFactor > 1 && next / opts.stepFactor != size)) break;
    size = next;
  }
  return sizes;
}

std::string usage(const std::string& program) {
  return "USAGE: " + program +
         "\n"
         "\t[--coll allreduce|reducescatter|allgather|broadcast|reduce] (default allreduce, or\n"
         "\t  from argv[0]: all_reduce_perf reduce_scatter_perf all_gather_perf broadcast_perf\n"
         "\t  reduce_perf)\n"
         "\t[-t,--nthreads <1>] [-g,--ngpus <1>]\n"
         "\t[-b,--minbytes <min size in bytes>] [-e,--maxbytes <max size in bytes>]\n"
         "\t[-i,--stepbytes <increment size>] [-f,--stepfactor <increment factor>]\n"
         "\t[-n,--iters <iteration count>] [-m,--agg_iters <aggregated iteration count>]\n"
         "\t[-w,--warmup_iters <warmup iteration count>]\n"
         "\t[-N,--run_cycles <cycle count> run & print each cycle (default: 1; 0=infinite)]\n"
         "\t[-c,--check <check iteration count>]\n"
         "\t[-o,--op <sum/prod/min/max/avg/all>] [-d,--datatype <type/all>]\n"
         "\t[-r,--root <root/all>]\n"
         "\t[-a,--average <0/1/2/3> report average iteration time <0=RANK0/1=AVG/2=MIN/3=MAX>]\n"
         "\t[-J,--output_file <file.json|file.csv>]\n"
         "\t[-z,--blocking <0/1>] [-G,--cudagraph <n>] [-C,--report_cputime <0/1>]\n"
         "\t  (-z, -G, -p, -y, -T, -R, -S, -M are accepted and ignored)\n"
         "\t[-h,--help]\n"
         "\ttypes: int8 uint8 int32 uint32 int64 uint64 half float double bfloat16\n";
}

bool takeLongOption(int* argc, char** argv, const std::string& name, std::string* value) {
  const std::string flag = "--" + name;
  bool found = false;
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") {  // leave the rest alone
      for (; i < *argc; ++i) argv[out++] = argv[i];
      break;
    }
    if (arg == flag && i + 1 < *argc) {
      *value = argv[++i];
      found = true;
      continue;
    }
    if (arg.compare(0, flag.size() + 1, flag + "=") == 0) {
      *value = arg.substr(flag.size() + 1);
      found = true;
      continue;
    }
    argv[out++] = argv[i];
  }
  *argc = out;
  argv[out] = nullptr;
  return found;
}

ParseResult parseOptions(int argc, char** argv, Options* opts, std::string* error) {
  std::string program = argc > 0 && argv[0] != nullptr ? argv[0] : "braid-perf";
  const size_t slash = program.find_last_of('/');
  if (slash != std::string::npos) program = program.substr(slash + 1);
  opts->program = program;
  Collective fromName;
  if (program.size() > 5 && program.compare(program.size() - 5, 5, "_perf") == 0 &&
      parseCollective(program, &fromName)) {
    opts->coll = fromName;
    opts->collFromArgv0 = true;
  }

  enum { kCollOption = 1000 };
  static const struct option kLongOptions[] = {
      {"nthreads", required_argument, nullptr, 't'},
      {"ngpus", required_argument, nullptr, 'g'},
      {"minbytes", required_argument, nullptr, 'b'},
      {"maxbytes", required_argument, nullptr, 'e'},
      {"stepbytes", required_argument, nullptr, 'i'},
      {"stepfactor", required_argument, nullptr, 'f'},
      {"iters", required_argument, nullptr, 'n'},
      {"agg_iters", required_argument, nullptr, 'm'},
      {"warmup_iters", required_argument, nullptr, 'w'},
      {"run_cycles", required_argument, nullptr, 'N'},
      {"parallel_init", required_argument, nullptr, 'p'},
      {"check", required_argument, nullptr, 'c'},
      {"op", required_argument, nullptr, 'o'},
      {"datatype", required_argument, nullptr, 'd'},
      {"root", required_argument, nullptr, 'r'},
      {"blocking", required_argument, nullptr, 'z'},
      {"stream_null", required_argument, nullptr, 'y'},
      {"timeout", required_argument, nullptr, 'T'},
      {"cudagraph", required_argument, nullptr, 'G'},
      {"report_cputime", required_argument, nullptr, 'C'},
      {"average", required_argument, nullptr, 'a'},
      {"local_register", required_argument, nullptr, 'R'},
      {"report_timestamps", required_argument, nullptr, 'S'},
      {"memory_report", required_argument, nullptr, 'M'},
      {"output_file", required_argument, nullptr, 'J'},
      {"coll", required_argument, nullptr, kCollOption},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };

  optind = 0;  // restart getopt (GNU): parseOptions may run more than once per process
  opterr = 0;
  auto bad = [&](const std::string& what) {
    *error = what;
    return ParseResult::kError;
  };
  long v = 0;
  for (;;) {
    const int c = getopt_long(
        argc, argv, "t:g:b:e:i:f:n:m:w:N:p:c:o:d:r:z:y:T:hG:C:a:R:S:M:J:", kLongOptions, nullptr);
    if (c == -1) break;
    const char* arg = optarg;
    switch (c) {
      case 't':
        if (!parseInt(arg, 1, 1 << 20, &v)) return bad("invalid -t value");
        opts->nThreads = static_cast<int>(v);
        break;
      case 'g':
        if (!parseInt(arg, 1, 1 << 20, &v)) return bad("invalid -g value");
        opts->nGpus = static_cast<int>(v);
        break;
      case 'b':
      case 'e': {
        const double d = parseSize(arg);
        if (d < 0) {
          return bad(std::string("invalid size specified for '") +
                     (c == 'b' ? "minbytes'" : "maxbytes'"));
        }
        (c == 'b' ? opts->minBytes : opts->maxBytes) = static_cast<size_t>(d);
        break;
      }
      case 'i': {
        const double d = parseSize(arg);
        if (d < 0) return bad("invalid size specified for 'stepbytes'");
        opts->stepBytes = static_cast<size_t>(d);
        break;
      }
      case 'f':
        if (!parseInt(arg, 0, 1 << 20, &v)) return bad("invalid -f value");
        opts->stepFactor = static_cast<size_t>(v);
        break;
      case 'n':
        if (!parseInt(arg, 0, std::numeric_limits<int>::max(), &v)) return bad("invalid -n");
        opts->iters = static_cast<int>(v);
        break;
      case 'm':
        if (!parseInt(arg, 1, 1 << 20, &v)) return bad("invalid -m value");
        opts->aggIters = static_cast<int>(v);
        break;
      case 'w':
        if (!parseInt(arg, 0, std::numeric_limits<int>::max(), &v)) return bad("invalid -w");
        opts->warmupIters = static_cast<int>(v);
        break;
      case 'N':
        if (!parseInt(arg, 0, std::numeric_limits<int>::max(), &v)) return bad("invalid -N");
        opts->runCycles = static_cast<int>(v);
        break;
      case 'c':
        if (!parseInt(arg, 0, 1 << 20, &v)) return bad("invalid -c value");
        opts->check = static_cast<int>(v);
        break;
      case 'a':
        if (!parseInt(arg, 0, 3, &v)) return bad("invalid -a value (0, 1, 2 or 3)");
        opts->average = static_cast<int>(v);
        break;
      case 'z':
      case 'G':
      case 'C':
      case 'p':
      case 'y':
      case 'T':
      case 'R':
      case 'S':
      case 'M':
        if (!parseInt(arg, 0, std::numeric_limits<int>::max(), &v)) {
          return bad(std::string("invalid -") + static_cast<char>(c) + " value");
        }
        if (c == 'z') opts->blocking = static_cast<int>(v);
        if (c == 'G') opts->graph = static_cast<int>(v);
        if (c == 'C') opts->reportCpuTime = static_cast<int>(v);
        break;
      case 'o': {
        RedOp op;
        if (lower(arg) == "all") {
          opts->op = -1;
        } else if (parseRedOp(arg, &op)) {
          opts->op = static_cast<int>(op);
        } else {
          return bad(std::string("invalid op '") + arg + "' (sum prod max min avg all)");
        }
        break;
      }
      case 'd': {
        DataType type;
        if (lower(arg) == "all") {
          opts->type = -1;
        } else if (parseDataType(arg, &type)) {
          opts->type = static_cast<int>(type);
        } else {
          return bad(std::string("invalid datatype '") + arg + "'");
        }
        break;
      }
      case 'r':
        if (lower(arg) == "all") {
          opts->root = -1;
        } else if (parseInt(arg, -1, 1 << 24, &v)) {
          opts->root = static_cast<int>(v);
        } else {
          return bad(std::string("invalid root '") + arg + "'");
        }
        break;
      case 'J':
        opts->outputFile = arg;
        break;
      case kCollOption: {
        Collective coll;
        if (!parseCollective(arg, &coll)) {
          return bad(std::string("invalid --coll '") + arg +
                     "' (allreduce reducescatter allgather broadcast reduce)");
        }
        opts->coll = coll;
        opts->collFromArgv0 = false;
        break;
      }
      case 'h':
        return ParseResult::kHelp;
      default: {
        const int badOpt = optopt;
        if (badOpt > 0 && badOpt < 256) {
          return bad(std::string("invalid option '-") + static_cast<char>(badOpt) + "'");
        }
        return bad(std::string("invalid option '") + argv[optind - 1] + "'");
      }
    }
  }
  if (optind < argc) return bad(std::string("unexpected argument '") + argv[optind] + "'");
  if (opts->nThreads != 1 || opts->nGpus != 1) {
    return bad(
        "only -t 1 -g 1 is supported: one rank per process (start N with braid-run -n N "
        "or mpirun -np N)");
  }
  if (opts->minBytes > opts->maxBytes) {
    return bad("invalid sizes for 'minbytes' and 'maxbytes': " + std::to_string(opts->minBytes) +
               " > " + std::to_string(opts->maxBytes));
  }
  if (opts->stepFactor <= 1 && opts->stepBytes == 0 && opts->minBytes < opts->maxBytes) {
    return bad("stepbytes 0 with no step factor would never reach maxbytes");
  }
  return ParseResult::kOk;
}

int runBenchmark(Backend& backend, const Options& opts) {
  Runner runner(backend, opts);
  return runner.run();
}

// ---- data ------------------------------------------------------------------------------------

float halfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign != 0 ? -v : v;
  }
  if (exp == 31) return bitsFloat(sign | 0x7f800000u | (mant << 13));
  return bitsFloat(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t floatToHalf(float value) {
  // Round to nearest even, overflow to infinity, subnormals kept (as in F. Giesen's
  // float_to_half_fast3_rtne).
  constexpr uint32_t kF32Infinity = 255u << 23;
  constexpr uint32_t kF16Max = (127u + 16u) << 23;
  constexpr uint32_t kDenormMagic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
  uint32_t f = floatBits(value);
  const uint32_t sign = f & 0x80000000u;
  f ^= sign;
  uint16_t o;
  if (f >= kF16Max) {
    o = f > kF32Infinity ? 0x7e00 : 0x7c00;
  } else if (f < (113u << 23)) {
    const float t = bitsFloat(f) + bitsFloat(kDenormMagic);
    o = static_cast<uint16_t>(floatBits(t) - kDenormMagic);
  } else {
    const uint32_t mantOdd = (f >> 13) & 1u;
    f += (static_cast<uint32_t>(15 - 127) << 23) + 0xfffu;
    f += mantOdd;
    o = static_cast<uint16_t>(f >> 13);
  }
  return static_cast<uint16_t>(o | (sign >> 16));
}

float bfloat16ToFloat(uint16_t b) { return bitsFloat(static_cast<uint32_t>(b) << 16); }

uint16_t floatToBfloat16(float value) {
  const uint32_t f = floatBits(value);
  if ((f & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((f >> 16) | 0x40u);  // NaN
  return static_cast<uint16_t>((f + 0x7fffu + ((f >> 16) & 1u)) >> 16);
}

void reduce3(void* out, const void* a, const void* b, size_t n, DataType type, RedOp op) {
  switch (type) {
    case DataType::kInt8:
      reduceTyped(static_cast<int8_t*>(out), static_cast<const int8_t*>(a),
                  static_cast<const int8_t*>(b), n, op);
      break;
    case DataType::kUint8:
      reduceTyped(static_cast<uint8_t*>(out), static_cast<const uint8_t*>(a),
                  static_cast<const uint8_t*>(b), n, op);
      break;
    case DataType::kInt32:
      reduceTyped(static_cast<int32_t*>(out), static_cast<const int32_t*>(a),
                  static_cast<const int32_t*>(b), n, op);
      break;
    case DataType::kUint32:
      reduceTyped(static_cast<uint32_t*>(out), static_cast<const uint32_t*>(a),
                  static_cast<const uint32_t*>(b), n, op);
      break;
    case DataType::kInt64:
      reduceTyped(static_cast<int64_t*>(out), static_cast<const int64_t*>(a),
                  static_cast<const int64_t*>(b), n, op);
      break;
    case DataType::kUint64:
      reduceTyped(static_cast<uint64_t*>(out), static_cast<const uint64_t*>(a),
                  static_cast<const uint64_t*>(b), n, op);
      break;
    case DataType::kFloat:
      reduceTyped(static_cast<float*>(out), static_cast<const float*>(a),
                  static_cast<const float*>(b), n, op);
      break;
    case DataType::kDouble:
      reduceTyped(static_cast<double*>(out), static_cast<const double*>(a),
                  static_cast<const double*>(b), n, op);
      break;
    case DataType::kHalf:
      reduce16<halfToFloat, floatToHalf>(static_cast<uint16_t*>(out),
                                         static_cast<const uint16_t*>(a),
                                         static_cast<const uint16_t*>(b), n, op);
      break;
    case DataType::kBfloat16:
      reduce16<bfloat16ToFloat, floatToBfloat16>(static_cast<uint16_t*>(out),
                                                 static_cast<const uint16_t*>(a),
                                                 static_cast<const uint16_t*>(b), n, op);
      break;
  }
}

void reduceInto(void* inout, const void* in, size_t n, DataType type, RedOp op) {
  reduce3(inout, inout, in, n, type, op);
}

void divideByRanks(void* buf, size_t n, DataType type, int nranks) {
  switch (type) {
    case DataType::kInt8:
      divideTyped(static_cast<int8_t*>(buf), n, nranks);
      break;
    case DataType::kUint8:
      divideTyped(static_cast<uint8_t*>(buf), n, nranks);
      break;
    case DataType::kInt32:
      divideTyped(static_cast<int32_t*>(buf), n, nranks);
      break;
    case DataType::kUint32:
      divideTyped(static_cast<uint32_t*>(buf), n, nranks);
      break;
    case DataType::kInt64:
      divideTyped(static_cast<int64_t*>(buf), n, nranks);
      break;
    case DataType::kUint64:
      divideTyped(static_cast<uint64_t*>(buf), n, nranks);
      break;
    case DataType::kFloat:
      divideTyped(static_cast<float*>(buf), n, nranks);
      break;
    case DataType::kDouble:
      divideTyped(static_cast<double*>(buf), n, nranks);
      break;
    case DataType::kHalf:
      divide16<halfToFloat, floatToHalf>(static_cast<uint16_t*>(buf), n, nranks);
      break;
    case DataType::kBfloat16:
      divide16<bfloat16ToFloat, floatToBfloat16>(static_cast<uint16_t*>(buf), n, nranks);
      break;
  }
}

void fillInput(void* buf, size_t count, DataType type, Collective coll, RedOp op, int rank,
               int nranks, uint64_t seed) {
  const Pattern p = patternFor(type, coll, op, nranks);
  for (size_t i = 0; i < count; ++i) {
    storeValue(buf, i, type, static_cast<double>(p.value(rank, i, seed)));
  }
}

void fillExpected(void* buf, const CollCounts& counts, DataType type, Collective coll, RedOp op,
                  int root, bool inPlace, int rank, int nranks, uint64_t seed) {
  const Pattern p = patternFor(type, coll, op, nranks);
  const size_t n = counts.recvCount;
  switch (coll) {
    case Collective::kAllGather:
      for (size_t i = 0; i < n; ++i) {
        const size_t per = counts.sendCount;
        const int src = static_cast<int>(i / per);
        storeValue(buf, i, type, static_cast<double>(p.value(src, i % per, seed)));
      }
      return;
    case Collective::kBroadcast:
      for (size_t i = 0; i < n; ++i) {
        storeValue(buf, i, type, static_cast<double>(p.value(root, i, seed)));
      }
      return;
    case Collective::kReduce:
      if (rank != root) {
        // recv untouched: zeros out of place, the rank's own input in place.
        for (size_t i = 0; i < n; ++i) {
          storeValue(buf, i, type, inPlace ? static_cast<double>(p.value(rank, i, seed)) : 0.0);
        }
        return;
      }
      break;
    default:
      break;
  }
  // allreduce, reducescatter (this rank's block of the reduced vector), reduce on the root.
  const size_t base = coll == Collective::kReduceScatter ? static_cast<size_t>(rank) * n : 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t idx = base + i;
    uint64_t acc = p.value(0, idx, seed);
    double prod = static_cast<double>(acc);
    for (int r = 1; r < nranks; ++r) {
      const uint64_t v = p.value(r, idx, seed);
      switch (op) {
        case RedOp::kSum:
        case RedOp::kAvg:
          acc += v;
          break;
        case RedOp::kProd:
          acc *= v;
          prod *= static_cast<double>(v);
          break;
        case RedOp::kMax:
          acc = std::max(acc, v);
          break;
        case RedOp::kMin:
          acc = std::min(acc, v);
          break;
      }
    }
    if (op == RedOp::kAvg) {
      storeValue(buf, i, type, static_cast<double>(acc / static_cast<uint64_t>(nranks)));
    } else if (op == RedOp::kProd && isFloating(type)) {
      storeValue(buf, i, type, prod);
    } else {
      storeWrapped(buf, i, type, acc);
    }
  }
}

int64_t countWrong(const void* got, const void* expected, size_t count, DataType type) {
  const size_t size = dataTypeSize(type);
  if (count == 0 || std::memcmp(got, expected, count * size) == 0) return 0;
  const auto* g = static_cast<const unsigned char*>(got);
  const auto* e = static_cast<const unsigned char*>(expected);
  int64_t wrong = 0;
  for (size_t i = 0; i < count; ++i) {
    if (std::memcmp(g + i * size, e + i * size, size) != 0) ++wrong;
  }
  return wrong;
}

}  // namespace braid::perf
