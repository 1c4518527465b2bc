// The ring a communicator runs, decided once at init. Every rank must run the same ring, so
// only facts every rank holds feed it (the bootstrap table's host identities) and the result
// is checked: ranks allgather a hash of their ring and, if any differs (BRAID_RING_FILE
// missing or different on one host, say), every rank falls back to the planned ring.
//
// This is the communicator's side of the ring: the configuration, the out-of-band check, the
// warnings. The planning itself (topo/plan.h, topo/ring_file.h) is pure.
#pragma once

#include <vector>

#include "bootstrap/bootstrap.h"
#include "core/config.h"
#include "core/status.h"

namespace braid {

// ring[position] = rank. Source, in order: config.ringFile's (BRAID_RING_FILE) ring for this
// size when set and valid (a bad file is a warning naming FILE:LINE, never fatal), else the
// plan from host identities (ranks of one host adjacent). Fails only when the out-of-band
// exchange fails. Also honours config.topoDumpFile (BRAID_TOPO_DUMP_FILE: the lowest rank of
// each host writes the hwloc XML).
Status communicatorRing(Bootstrap* bootstrap, const Config& config, std::vector<int>* ring);

}  // namespace braid
