#include "algo/tuner.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "algo/direct.h"

namespace braid {

const char* collectiveName(Collective coll) {
  switch (coll) {
    case Collective::kAllReduce:
      return "AllReduce";
    case Collective::kReduceScatter:
      return "ReduceScatter";
    case Collective::kAllGather:
      return "AllGather";
    case Collective::kBroadcast:
      return "Broadcast";
    case Collective::kReduce:
      return "Reduce";
  }
  return "?";
}

const char* algoName(Algo algo) {
  switch (algo) {
    case Algo::kRing:
      return "ring";
    case Algo::kTree:
      return "tree";
    case Algo::kDirect:
      return "direct";
    case Algo::kRabenseifner:
      return "rabenseifner";
    case Algo::kOneShot:
      return "oneshot";
    case Algo::kTwoShot:
      return "twoshot";
    case Algo::kWindow:
      return "window";
  }
  return "?";
}

size_t oneshotMaxBytes(int nranks) {
  // Measured on 2 pinned ranks: oneshot's single round wins up to 2 KiB (0.35 us against
  // 0.41); from 4 KiB twoshot's halved reduction and copies win (0.54 us against 0.60, and
  // 1.6x at 64 KiB). More ranks multiply oneshot's reduction work, so the crossover does not
  // grow with them.
  (void)nranks;
  return size_t{2} << 10;
}

const char* linkClassName(LinkClass link) {
  switch (link) {
    case LinkClass::kSocket:
      return "socket";
    case LinkClass::kLoopback:
      return "loopback";
    case LinkClass::kShm:
      return "shm";
  }
  return "?";
}

CostModel CostModel::defaults() {
  CostModel m;
  // TCP between hosts: a 10 GbE-class link and a socket round trip through two kernels.
  m.of(LinkClass::kSocket) = {30.0, 1.2, 30.0, 2.0};
  // TCP loopback on one host (docs/performance.md): ~15 us per step including the wake-up,
  // ~3 GB/s per stream with the copies; reductions at 30-40 GB/s (AVX2 kernels).
  m.of(LinkClass::kLoopback) = {12.0, 3.0, 30.0, 2.0};
  // Shared memory between the ranks of a host (transports/shm, the shared window): a counter
  // round trip is a cache-line transfer (~0.1-0.3 us), copies through the cache ~20 GB/s.
  m.of(LinkClass::kShm) = {0.2, 20.0, 30.0, 0.05};
  return m;
}

namespace {

bool parseLinkClass(const std::string& word, LinkClass* out) {
  for (int i = 0; i < kLinkClasses; ++i) {
    const auto c = static_cast<LinkClass>(i);
    if (word == linkClassName(c)) {
      *out = c;
      return true;
    }
  }
  return false;
}

bool parsePositive(const std::string& word, double* out) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(word.c_str(), &end);
  if (errno != 0 || end == word.c_str() || *end != '\0' || !std::isfinite(v) || v <= 0)
    return false;
  *out = v;
  return true;
}

}  // namespace

Status parseCostModel(const std::string& text, const std::string& fileName, CostModel* model) {
  CostModel m = *model;
  std::istringstream in(text);
  std::string line;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string s; words >> s;) w.push_back(s);
    if (w.empty()) continue;
    const std::string where = fileName + ":" + std::to_string(lineNo) + ": ";
    if (w[0] == "cpu_share") {
      double v = 0;
      if (w.size() != 2 || !parsePositive(w[1], &v) || v > 1) {
        return invalidArgument(where + "expected 'cpu_share <fraction in (0, 1]>'");
      }
      m.cpuShare = v;
      continue;
    }
    LinkClass link{};
    if (!parseLinkClass(w[0], &link)) {
      return invalidArgument(where + "unknown link class '" + w[0] +
                             "' (expected socket, loopback, shm or cpu_share)");
    }
    if (w.size() < 3 || w.size() > 5) {
      return invalidArgument(where +
                             "expected '<link class> <alpha_us> <GB/s> [<reduce GB/s> "
                             "[<msg_us>]]', got " +
                             std::to_string(w.size()) + " fields");
    }
    LinkCost c = m.of(link);
    const char* names[] = {"alpha_us", "bandwidth GB/s", "reduce GB/s", "msg_us"};
    double* fields[] = {&c.alphaUs, &c.gbPerS, &c.reduceGbPerS, &c.msgUs};
    for (size_t i = 1; i < w.size(); ++i) {
      if (!parsePositive(w[i], fields[i - 1])) {
        return invalidArgument(where + names[i - 1] + " '" + w[i] + "' is not a positive number");
      }
    }
    m.of(link) = c;
  }
  *model = m;
  return Status::ok();
}

Status loadCostModel(const std::string& path, CostModel* model) {
  std::ifstream f(path);
  if (!f) return invalidArgument("BRAID_TUNER_FILE: cannot open '" + path + "'");
  std::ostringstream text;
  text << f.rdbuf();
  return parseCostModel(text.str(), path, model);
}

bool algoAvailable(Algo algo, const Shape& shape) {
  switch (algo) {
    case Algo::kRing:
      return true;
    case Algo::kTree:
      // The rooted trees of Broadcast and Reduce link ranks the sparse (n > kMeshMaxRanks)
      // communicators do not connect.
      return shape.coll == Collective::kAllReduce ||
             ((shape.coll == Collective::kBroadcast || shape.coll == Collective::kReduce) &&
              shape.meshConnected);
    case Algo::kDirect:
      return shape.coll == Collective::kAllReduce && shape.meshConnected &&
             (shape.nranks == 2 || shape.bytes <= kDirectMaxBytes);
    case Algo::kRabenseifner:
      return shape.coll == Collective::kAllReduce && shape.meshConnected;
    case Algo::kOneShot:
    case Algo::kTwoShot:
      return shape.coll == Collective::kAllReduce && shape.sharedWindow;
    case Algo::kWindow:
      return shape.coll != Collective::kAllReduce && shape.sharedWindow;
  }
  return false;
}

double predictUs(const LinkCost& cost, double cpuShare, Algo algo, const Shape& shape,
                 size_t chunkBytes) {
  const double n = shape.nranks;
  const double b = static_cast<double>(shape.bytes);
  if (shape.nranks <= 1 || shape.bytes == 0) return 0;
  const double a = cost.alphaUs;
  const double beta = 1.0 / (cost.gbPerS * 1e3);  // us per byte
  const double gamma = 1.0 / (cost.reduceGbPerS * 1e3);
  const double o = cost.msgUs / (cpuShare > 0 && cpuShare < 1 ? cpuShare : 1.0);
  const double c = static_cast<double>(std::max<size_t>(chunkBytes, 1));
  auto chunks = [&](double x) { return std::max(1.0, std::ceil(x / c)); };
  if (algo == Algo::kOneShot) return a + (n - 1) * b * beta + (n - 1) * b * gamma;
  if (algo == Algo::kTwoShot || algo == Algo::kWindow) {
    // A step per stage-sized chunk (c): stage, reduce a slice, gather.
    const double k = chunks(b);
    return 2 * k * a + 2 * (n - 1) / n * b * beta + (n - 1) / n * b * gamma;
  }
  switch (shape.coll) {
    case Collective::kAllReduce:
      if (algo == Algo::kDirect) return a + (n - 1) * o + (n - 1) * b * (beta + gamma);
      if (algo == Algo::kRabenseifner) {
        double p = 1;
        while (p * 2 <= n) p *= 2;
        const double steps = std::log2(p);
        double msgs = steps;  // the all-gather: one message a step
        for (double w = b / 2; w * 2 > b / p; w /= 2) msgs += chunks(w);
        // Each step moves its bytes on a connection that sat idle through the steps before
        // (TCP restarts its congestion window after idle) and cannot start before the last
        // one ends, where the ring streams on the same two connections: fitted on the
        // namespace cluster, its bytes cost kRabenseifnerBytes x the ring's.
        constexpr double kRabenseifnerBytes = 1.3;
        double t = 2 * steps * a + (p - 1) / p * b * (2 * kRabenseifnerBytes * beta + gamma);
        if (n > p) {
          t += 2 * a + 2 * b * beta + b * gamma;
          msgs += chunks(b) + 1;
        }
        return t + msgs * o;
      }
      if (algo == Algo::kTree) {
        // Depth of the deeper tree, then the pipeline: the first chunk goes up and down (each
        // hop: two half-chunks in, one out), the others follow one step each (four per step).
        const double d = std::max(1.0, std::floor(std::log2(n)));
        const double half = b / 2;
        const double cc = std::min(c, half);
        const double k = chunks(half);
        return 2 * d * (2 * a + cc * beta) + (k - 1) * (a + 8 * cc * beta) +
               4 * (n - 1) / n * k * o + half * gamma;
      }
      {
        const double m = shape.count != 0 ? static_cast<double>(shape.count) : b;
        const double f = std::min(1.0, m / n);
        return 2 * (n - 1) * chunks(b / n) * (a + f * o) + 2 * (n - 1) / n * b * beta +
               (n - 1) / n * b * gamma;
      }
    case Collective::kReduceScatter:
    case Collective::kAllGather: {
      // b is the per-rank block; the ring moves (n-1) blocks per rank.
      const double red = shape.coll == Collective::kReduceScatter ? gamma : 0;
      return (n - 1) * chunks(b) * (a + o) + (n - 1) * b * (beta + red);
    }
    case Collective::kBroadcast:
    case Collective::kReduce: {
      const double red = shape.coll == Collective::kReduce ? gamma : 0;
      const double cc = std::min(c, b);
      if (algo == Algo::kTree) {
        // A binary tree of depth d: each step a rank moves a chunk to (or from) two children.
        const double d = std::max(1.0, std::floor(std::log2(n)));
        return (chunks(b) + d - 1) * (a + 2 * cc * (beta + red)) + chunks(b) * o;
      }
      return (chunks(b) + n - 2) * (a + cc * (beta + red)) + chunks(b) * o;
    }
  }
  return 0;
}

Choice choose(const CostModel& model, const Shape& shape, const Overrides& overrides,
              size_t maxChunkBytes) {
  const LinkCost& cost = model.of(shape.link);
  maxChunkBytes = std::max<size_t>(maxChunkBytes, 4096);
  // Candidate chunks: powers of two from 16 KiB up to the scratch slice, and the slice itself.
  std::vector<size_t> chunkSizes;
  if (overrides.chunkBytes != 0) {
    chunkSizes.push_back(std::min(overrides.chunkBytes, maxChunkBytes));
  } else {
    // Largest first: a tie keeps the larger chunk (fewer, larger messages).
    chunkSizes.push_back(maxChunkBytes);
    for (size_t c = size_t{1} << 30; c >= (size_t{16} << 10); c /= 2) {
      if (c < maxChunkBytes) chunkSizes.push_back(c);
    }
  }
  std::vector<Algo> algos;
  Choice best;
  // Every rank on one host: the node-local algorithms over the shared window, unless a
  // Connection-based algorithm is forced.
  const bool windowForced = overrides.algo == "oneshot" || overrides.algo == "twoshot";
  if (shape.sharedWindow && (overrides.algo.empty() || windowForced)) {
    best.forcedAlgo = windowForced;
    if (shape.coll != Collective::kAllReduce) {
      best.algo = Algo::kWindow;
    } else if (windowForced) {
      best.algo = overrides.algo == "oneshot" ? Algo::kOneShot : Algo::kTwoShot;
    } else {
      best.algo = shape.bytes <= oneshotMaxBytes(shape.nranks) ? Algo::kOneShot : Algo::kTwoShot;
    }
    best.chunkBytes = maxChunkBytes;
    best.predictedUs = predictUs(cost, model.cpuShare, best.algo, shape, maxChunkBytes);
    return best;
  }
  if (!overrides.algo.empty()) {
    Algo forced = Algo::kRing;
    if (overrides.algo == "tree") forced = Algo::kTree;
    if (overrides.algo == "direct") forced = Algo::kDirect;
    if (overrides.algo == "rabenseifner") forced = Algo::kRabenseifner;
    // A forced algorithm that cannot run this shape falls back to the ring (which always can),
    // and the choice says so.
    const bool available = algoAvailable(forced, shape);
    algos.push_back(available ? forced : Algo::kRing);
    if (!available) best.unavailableAlgo = overrides.algo;
    best.forcedAlgo = true;
  } else {
    for (Algo a : {Algo::kRing, Algo::kTree, Algo::kDirect, Algo::kRabenseifner}) {
      if (algoAvailable(a, shape)) algos.push_back(a);
    }
  }
  best.predictedUs = -1;
  for (Algo a : algos) {
    for (size_t c : chunkSizes) {
      const double t = predictUs(cost, model.cpuShare, a, shape, c);
      // Strictly better only: ties keep the earlier (ring before tree before direct, the larger
      // chunk before the smaller).
      if (best.predictedUs < 0 || t < best.predictedUs * (1 - 1e-9)) {
        best.algo = a;
        best.chunkBytes = c;
        best.predictedUs = t;
      }
    }
  }
  // The direct algorithm has no pipeline: its chunk is irrelevant; report the slice.
  if (best.algo == Algo::kDirect) best.chunkBytes = chunkSizes.front();
  // Split a ring AllReduce over the channels when each channel's part is large enough to
  // pipeline on its own.
  best.nchannels = 1;
  if (shape.channels > 1 && shape.coll == Collective::kAllReduce && best.algo == Algo::kRing &&
      shape.bytes / static_cast<size_t>(shape.channels) >= kChannelMinBytes) {
    best.nchannels = shape.channels;
  }
  return best;
}

std::string describeChoice(const Choice& choice) {
  const std::string forced =
      !choice.unavailableAlgo.empty()
          ? " (BRAID_ALGO=" + choice.unavailableAlgo + " cannot run this shape)"
      : choice.forcedAlgo ? std::string(" (BRAID_ALGO)")
                          : std::string();
  char text[224];
  std::snprintf(text, sizeof(text), "%s%s, chunk %zu KiB, %d channel%s, predicted %.1f us",
                algoName(choice.algo), forced.c_str(), choice.chunkBytes >> 10, choice.nchannels,
                choice.nchannels == 1 ? "" : "s", choice.predictedUs);
  return text;
}

}  // namespace braid
