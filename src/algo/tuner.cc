#include "algo/tuner.h"

#include "algo/direct.h"

namespace braid {

const char* algoName(AllReduceAlgo algo) {
  switch (algo) {
    case AllReduceAlgo::kDirect:
      return "direct";
    case AllReduceAlgo::kTree:
      return "tree";
    case AllReduceAlgo::kOneShot:
      return "oneshot";
    case AllReduceAlgo::kTwoShot:
      return "twoshot";
    case AllReduceAlgo::kRing:
      break;
  }
  return "ring";
}

size_t oneshotMaxBytes(int nranks) {
  // Measured on 2 pinned ranks (docs/performance.md): oneshot's single round wins up to
  // 2 KiB (0.35 us against 0.41); from 4 KiB twoshot's halved reduction and copies win
  // (0.54 us against 0.60, and 1.6x at 64 KiB). More ranks multiply oneshot's reduction
  // work, so the crossover does not grow with them.
  (void)nranks;
  return size_t{2} << 10;
}

AllReduceAlgo chooseAllReduce(size_t bytes, int nranks, bool meshConnected, bool sharedWindow,
                              const std::string& forced) {
  if (forced == "ring" || nranks <= 1) return AllReduceAlgo::kRing;
  if (forced == "tree") return AllReduceAlgo::kTree;
  if (sharedWindow) {
    if (forced == "oneshot") return AllReduceAlgo::kOneShot;
    if (forced == "twoshot") return AllReduceAlgo::kTwoShot;
    if (forced.empty()) {
      return bytes <= oneshotMaxBytes(nranks) ? AllReduceAlgo::kOneShot : AllReduceAlgo::kTwoShot;
    }
  }
  const bool directPossible = meshConnected && (nranks == 2 || bytes <= kDirectMaxBytes);
  // (oneshot / twoshot forced without a shared window fall back like direct does.)
  if (forced == "direct" || forced == "oneshot" || forced == "twoshot")
    return directPossible ? AllReduceAlgo::kDirect : AllReduceAlgo::kRing;
  if (!directPossible) return AllReduceAlgo::kRing;
  // Two ranks: direct moves the ring's bytes in one step, but reduces the whole buffer on each
  // rank instead of half of it; past ~1 MiB that extra memory traffic costs more than the
  // ring's second step (measured on loopback TCP: equal at 512 KiB, ring 1.3x at 2 MiB).
  if (nranks == 2)
    return bytes <= (size_t{1} << 20) ? AllReduceAlgo::kDirect : AllReduceAlgo::kRing;
  // n > 2: one step of (n-1) x bytes against 2(n-1) steps of bytes/n each. Below ~16 KiB the
  // per-step latency dominates on every network Braid runs on today.
  return bytes <= (size_t{16} << 10) ? AllReduceAlgo::kDirect : AllReduceAlgo::kRing;
}

}  // namespace braid
