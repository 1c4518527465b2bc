// The benchmark loop: sizes x types x ops x roots, timing, checks, and the table (stdout) or
// a JSON / CSV file.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "perf_harness.h"
#include "perf_internal.h"

namespace braid::perf {

using detail::lower;

namespace {

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

int runBenchmark(Backend& backend, const Options& opts) {
  Runner runner(backend, opts);
  return runner.run();
}

}  // namespace braid::perf
