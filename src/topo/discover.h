// Discovery: the machine this process runs on (hwloc, when Braid was built with it), or a
// machine described by an hwloc XML file, turned into a topo::System.
//
//   BRAID_TOPO_FILE       plan for the machine in this hwloc XML file instead of the live one
//   BRAID_TOPO_DUMP_FILE  write what was discovered as hwloc XML (to load elsewhere)
// (read by core/config.h; this layer never reads the environment).
//
// Without hwloc the live machine is minimal: one package with the online cores, no devices.
#pragma once

#include <string>

#include "core/config.h"
#include "core/status.h"
#include "topo/system.h"

namespace braid::topo {

// True when Braid was built with hwloc.
bool haveHwloc();

// The live machine (xmlFile empty) or the machine in xmlFile. dumpFile, when not empty, gets
// the hwloc XML of what was loaded. An unreadable or malformed file is an error naming it.
Status discover(const std::string& xmlFile, const std::string& dumpFile, System* out);

// discover() with config's topoFile / topoDumpFile (BRAID_TOPO_FILE / BRAID_TOPO_DUMP_FILE).
// A bad topoFile is not fatal: *warning names it and the live machine is returned.
Status discoverConfigured(const Config& config, System* out, std::string* warning);

// One host with `cores` cores and nothing else.
System minimalSystem(const std::string& name, int cores);

}  // namespace braid::topo
