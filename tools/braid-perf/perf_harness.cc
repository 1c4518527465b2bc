// The harness's public helpers: names, sizes, counts and bandwidths. The command line is in
// perf_options.cc, the benchmark loop in perf_run.cc, data and checks in perf_data.cc.
#include "perf_harness.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/datatype.h"
#include "perf_internal.h"

namespace braid::perf {

using detail::CollName;
using detail::kCollNames;
using detail::lower;

// ---- public helpers ---------------------------------------------------------------------------

static_assert(kNumDataTypes == braid::kNumDataTypes && kNumRedOps == braid::kNumRedOps);
static_assert(static_cast<int>(DataType::kHalf) == braidFloat16 &&
              static_cast<int>(DataType::kBfloat16) == braidBfloat16 &&
              static_cast<int>(DataType::kUint64) == braidUint64);
static_assert(static_cast<int>(RedOp::kAvg) == braidAvg);

namespace {
braidDataType_t toBraid(DataType type) { return static_cast<braidDataType_t>(type); }
}  // namespace

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

}  // namespace braid::perf
