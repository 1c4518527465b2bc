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
  // Measured on 2 ranks (docs/performance.md): oneshot's single round wins while the data
  // is small; past that, reducing every byte on every rank costs more than twoshot's second
  // round. More ranks multiply oneshot's reduction work.
  return nranks <= 2 ? size_t{16} << 10 : size_t{8} << 10;
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
