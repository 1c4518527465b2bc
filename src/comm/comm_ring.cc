#include "comm/comm_ring.h"

#include <cstdio>
#include <cstring>
#include <string>

#include "core/config.h"
#include "core/log.h"
#include "topo/discover.h"
#include "topo/plan.h"
#include "topo/ring_file.h"

namespace braid {

namespace {

uint64_t ringHash(const std::vector<int>& ring) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the ranks
  for (int r : ring) {
    for (int i = 0; i < 4; ++i) {
      h ^= static_cast<uint64_t>((static_cast<uint32_t>(r) >> (8 * i)) & 0xff);
      h *= 1099511628211ull;
    }
  }
  return h;
}

// A ring file problem must not go unnoticed: logged as a warning, and when warnings are off
// (BRAID_DEBUG unset) still printed once, by rank 0.
void warnAlways(int rank, const std::string& message) {
  if (logEnabled(LogLevel::kWarn)) {
    BRAID_WARN(rank, "%s", message.c_str());
  } else if (rank == 0) {
    std::fprintf(stderr, "BRAID WARN rank 0: %s\n", message.c_str());
  }
}

std::string describe(const std::vector<int>& ring) {
  std::string s;
  for (size_t i = 0; i < ring.size() && i < 64; ++i) s += (i ? " " : "") + std::to_string(ring[i]);
  if (ring.size() > 64) s += " ...";
  return s;
}

}  // namespace

Status communicatorRing(Bootstrap* bootstrap, const Config& config, std::vector<int>* ring) {
  const int n = bootstrap->nranks();
  const int rank = bootstrap->rank();
  const std::vector<RankInfo>& table = bootstrap->table();
  std::vector<std::string> hostIds;
  hostIds.reserve(table.size());
  for (const RankInfo& info : table) hostIds.push_back(info.hostId);
  if (static_cast<int>(hostIds.size()) != n) hostIds.assign(static_cast<size_t>(n), "");

  std::string dump = config.topoDumpFile;
  if (!dump.empty()) {
    bool first = true;  // lowest rank of this host
    for (int r = 0; r < rank; ++r)
      first = first && hostIds[static_cast<size_t>(r)] != hostIds[static_cast<size_t>(rank)];
    if (first) {
      // "%h" becomes the host name, so hosts sharing a file system write distinct files.
      for (size_t at = dump.find("%h"); at != std::string::npos; at = dump.find("%h", at))
        dump.replace(at, 2, localHostname());
      topo::System sys;
      Status s = topo::discover("", dump, &sys);
      if (!s) BRAID_WARN(rank, "%s", s.message().c_str());
    }
  }

  const std::vector<int> planned = topo::planByHost(hostIds);
  std::vector<int> mine = planned;
  std::string source = "planned from hosts";
  const std::string& file = config.ringFile;
  if (!file.empty()) {
    topo::RingFile parsed;
    Status s = topo::readRingFile(file, &parsed);
    if (s) s = topo::ringForSize(parsed, file, n, &mine);
    if (s) {
      source = "BRAID_RING_FILE " + file;
    } else {
      mine = planned;
      warnAlways(rank, "BRAID_RING_FILE: " + s.message() + "; using the planned ring");
    }
  }
  if (n > 1) {
    const uint64_t h = ringHash(mine);
    std::vector<uint8_t> all;
    BRAID_RETURN_IF_ERROR(bootstrap->allgather(&h, sizeof(h), &all));
    int differs = -1;
    for (int r = 0; r < n && differs < 0; ++r) {
      uint64_t other = 0;
      std::memcpy(&other, all.data() + static_cast<size_t>(r) * sizeof(other), sizeof(other));
      if (other != h) differs = r;
    }
    if (differs >= 0) {
      // Every rank sees the same hashes, so every rank takes this branch: consistent.
      warnAlways(rank, "ranks disagree on the ring (this rank: " + source + "; rank " +
                           std::to_string(differs) +
                           " differs: is BRAID_RING_FILE the same file on every host?); every "
                           "rank uses the planned ring");
      mine = planned;
      source = "planned from hosts (ranks disagreed on BRAID_RING_FILE)";
    }
  }
  BRAID_INFO(rank, "ring (%s): %s", source.c_str(), describe(mine).c_str());
  *ring = std::move(mine);
  return Status::ok();
}

}  // namespace braid
