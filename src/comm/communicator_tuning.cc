// The communicator's side of the tuner (algo/tuner.h): its inputs at init (rank 0's cost
// parameters, the link class, the channels connected) and the per-call plan, which the
// caller hands to the algorithm as a value (Communicator::dispatch). Kept apart from
// communicator.cc so the engine and the tuning policy change independently.
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "comm/communicator.h"
#include "core/log.h"

namespace braid {

Status Communicator::initTuner() {
  costModel_ = CostModel::defaults();
  // Only rank 0 reads the file (the others adopt its parameters below, so the file need not
  // exist on every host).
  if (!config_.tunerFile.empty() && rank_ == 0) {
    Status s = loadCostModel(config_.tunerFile, &costModel_);
    if (!s) return s.withContext("rank " + std::to_string(rank_) + ": ");
  }
  if (nranks_ <= 1) return Status::ok();
  const auto& table = bootstrap_->table();
  if (costModel_.cpuShare <= 0) {
    // Cores per rank on this host (rank 0's value is the one every rank adopts below).
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const auto local = std::count_if(table.begin(), table.end(), [&](const RankInfo& r) {
      return r.hostId == table[static_cast<size_t>(rank_)].hostId;
    });
    costModel_.cpuShare =
        std::min(1.0, static_cast<double>(std::max(1L, cores)) / static_cast<double>(local));
  }
  // Every rank must plan alike (a different chunk or algorithm on one rank would hang the
  // collective): everyone adopts rank 0's parameters.
  std::vector<uint8_t> all;
  BRAID_RETURN_IF_ERROR(bootstrap_->allgather(&costModel_, sizeof(costModel_), &all));
  std::memcpy(&costModel_, all.data(), sizeof(costModel_));
  // The slowest class any pair uses: all on one host is loopback TCP, anything else crosses a
  // network; with every rank sharing memory, shm.
  const bool oneHost = std::all_of(table.begin(), table.end(),
                                   [&](const RankInfo& r) { return r.hostId == table[0].hostId; });
  linkClass_ = window_ != nullptr ? LinkClass::kShm
               : oneHost          ? LinkClass::kLoopback
                                  : LinkClass::kSocket;
  const LinkCost& c = costModel_.of(linkClass_);
  BRAID_INFO(rank_,
             "tuner: link class %s, alpha %.1f us, %.3f GB/s, reduce %.1f GB/s, %.1f us per "
             "message, cpu share %.2f%s%s",
             linkClassName(linkClass_), c.alphaUs, c.gbPerS, c.reduceGbPerS, c.msgUs,
             costModel_.cpuShare, config_.tunerFile.empty() ? "" : ", rank 0's BRAID_TUNER_FILE ",
             config_.tunerFile.c_str());
  return Status::ok();
}

Choice Communicator::tuning(Collective coll, size_t bytes, size_t count) const {
  Shape shape;
  shape.coll = coll;
  shape.bytes = bytes;
  shape.count = count;
  shape.nranks = nranks_;
  shape.meshConnected = meshConnected_;
  shape.link = linkClass_;
  shape.sharedWindow = window_ != nullptr;
  shape.channels = static_cast<int>(channels_.size()) + 1;
  Overrides over;
  over.algo = config_.algo;
  if (config_.chunkBytesForced) over.chunkBytes = sliceBytes_;
  return choose(costModel_, shape, over, sliceBytes_);
}

Choice Communicator::plan(Collective coll, size_t bytes, size_t count) {
  PlanCache& cached = planCache_[static_cast<size_t>(coll)];
  if (cached.bytes == bytes && cached.count == count) return cached.choice;
  const Choice choice = tuning(coll, bytes, count);
  cached = {bytes, count, choice};
  if (logEnabled(LogLevel::kInfo)) {
    // Shapes by power-of-two size class, so a sweep logs a line per size, not per call.
    int sizeClass = 0;
    while (sizeClass < 63 && (size_t{1} << sizeClass) < bytes) ++sizeClass;
    const std::pair<int, int> shape{static_cast<int>(coll), sizeClass};
    if (std::find(loggedShapes_.begin(), loggedShapes_.end(), shape) == loggedShapes_.end()) {
      loggedShapes_.push_back(shape);
      BRAID_INFO(rank_, "%s of %zu bytes on %d ranks (%s): %s", collectiveName(coll), bytes,
                 nranks_, linkClassName(linkClass_), describeChoice(choice).c_str());
    }
  }
  return choice;
}

}  // namespace braid
