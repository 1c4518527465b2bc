#include "topo/discover.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>

#include "core/config.h"

#ifdef BRAID_HAVE_HWLOC
#include <hwloc.h>
#endif

namespace braid::topo {

namespace {

std::string hostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

[[maybe_unused]] std::string baseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

System minimalSystem(const std::string& name, int cores) {
  System sys;
  sys.name = name;
  sys.source = "a minimal machine (Braid was built without hwloc)";
  sys.add(NodeType::kMachine, -1);
  sys.nodes[0].cores = cores;
  const int pkg = sys.add(NodeType::kPackage, 0);
  sys.nodes[static_cast<size_t>(pkg)].cores = cores;
  const int numa = sys.add(NodeType::kNuma, pkg);
  sys.nodes[static_cast<size_t>(numa)].cores = cores;
  return sys;
}

#ifdef BRAID_HAVE_HWLOC

bool haveHwloc() { return true; }

namespace {

char hexDigit(unsigned v) { return "0123456789abcdef"[v & 15]; }

std::string hex(unsigned v, int digits) {
  std::string s(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) s[static_cast<size_t>(i)] = hexDigit(v);
  return s;
}

std::string pciBusId(hwloc_obj_t obj) {
  const auto& p = obj->attr->pcidev;
  return hex(p.domain, 4) + ":" + hex(p.bus, 2) + ":" + hex(p.dev, 2) + "." + hex(p.func, 1);
}

bool isHostBridge(hwloc_obj_t obj) {
  return obj->type == HWLOC_OBJ_BRIDGE && obj->attr->bridge.upstream_type == HWLOC_OBJ_BRIDGE_HOST;
}

enum class DevKind { kOther, kGpu, kNic, kNvSwitch };

bool hasOsdev(hwloc_obj_t pci, hwloc_obj_osdev_type_t type) {
  for (hwloc_obj_t c = pci->io_first_child; c != nullptr; c = c->next_sibling) {
    if (c->type == HWLOC_OBJ_OS_DEVICE && c->attr->osdev.type == type) return true;
  }
  return false;
}

DevKind classify(hwloc_obj_t obj) {
  if (obj->type != HWLOC_OBJ_PCI_DEVICE) return DevKind::kOther;
  const auto& p = obj->attr->pcidev;
  const unsigned base = p.class_id >> 8;
  if (p.vendor_id == 0x10de && p.class_id == 0x0680) return DevKind::kNvSwitch;
  const bool compute = hasOsdev(obj, HWLOC_OBJ_OSDEV_COPROC) || hasOsdev(obj, HWLOC_OBJ_OSDEV_GPU);
  if (base == 0x03) {
    // 3D controllers, and display controllers of the GPU vendors or with a compute device;
    // a server's management VGA (ASPEED, Matrox) is no GPU.
    if (p.class_id == 0x0302 || p.vendor_id == 0x10de || p.vendor_id == 0x1002)
      return DevKind::kGpu;
    if (hasOsdev(obj, HWLOC_OBJ_OSDEV_COPROC)) return DevKind::kGpu;
    return DevKind::kOther;
  }
  if (base == 0x02 || p.class_id == 0x0c06) return DevKind::kNic;
  if (hasOsdev(obj, HWLOC_OBJ_OSDEV_NETWORK) || hasOsdev(obj, HWLOC_OBJ_OSDEV_OPENFABRICS))
    return DevKind::kNic;
  if (compute) return DevKind::kGpu;
  return DevKind::kOther;
}

// Does this I/O subtree hold a device the planner cares about?
bool interesting(hwloc_obj_t obj) {
  if (obj->type == HWLOC_OBJ_PCI_DEVICE && classify(obj) != DevKind::kOther) return true;
  for (hwloc_obj_t c = obj->io_first_child; c != nullptr; c = c->next_sibling) {
    if (interesting(c)) return true;
  }
  return false;
}

double readNetSpeedGBps(const std::string& osdev, bool openfabrics) {
  if (openfabrics) {
    std::ifstream f("/sys/class/infiniband/" + osdev + "/ports/1/rate");
    double gbit = 0;
    if (f >> gbit && gbit > 0) return gbit / 8;
    return 0;
  }
  std::ifstream f("/sys/class/net/" + osdev + "/speed");
  long mbit = 0;
  if (f >> mbit && mbit > 0) return static_cast<double>(mbit) / 8000;
  return 0;
}

struct Builder {
  hwloc_topology_t topo;
  bool live;
  System* sys;
  std::map<hwloc_obj_t, int> nodeOf;  // lookups only; never iterated (plan order is stable)

  // Where the I/O hanging below a normal object attaches: its NUMA node when it has one,
  // else its package, else the machine.
  int ioParent(hwloc_obj_t obj) {
    if (obj->nodeset != nullptr && hwloc_bitmap_weight(obj->nodeset) == 1) {
      hwloc_obj_t numa = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, 0);
      for (; numa != nullptr; numa = numa->next_cousin) {
        if (hwloc_bitmap_isequal(numa->nodeset, obj->nodeset)) {
          auto it = nodeOf.find(numa);
          if (it != nodeOf.end()) return it->second;
        }
      }
    }
    for (hwloc_obj_t p = obj; p != nullptr; p = p->parent) {
      if (p->type == HWLOC_OBJ_PACKAGE) {
        auto it = nodeOf.find(p);
        if (it != nodeOf.end()) return it->second;
      }
    }
    return 0;
  }

  void addIo(hwloc_obj_t obj, int parent) {
    if (obj->type == HWLOC_OBJ_OS_DEVICE || obj->type == HWLOC_OBJ_MISC) return;
    if (!interesting(obj)) return;
    int id = parent;
    if (obj->type == HWLOC_OBJ_BRIDGE) {
      if (isHostBridge(obj)) {
        id = sys->add(NodeType::kHostBridge, parent);
      } else {
        id = sys->add(NodeType::kPciBridge, parent);
        if (obj->attr->bridge.upstream_type == HWLOC_OBJ_BRIDGE_PCI) {
          Node& n = sys->nodes[static_cast<size_t>(id)];
          // A root port (right below the host bridge) has no upstream link of its own: what
          // hwloc reports there is no limit on the path.
          if (obj->parent == nullptr || !isHostBridge(obj->parent))
            n.upGBps = obj->attr->bridge.upstream.pci.linkspeed;
          n.upType = LinkType::kPcie;
          n.vendor = obj->attr->bridge.upstream.pci.vendor_id;
          n.device = obj->attr->bridge.upstream.pci.device_id;
          const char* model = hwloc_obj_get_info_by_name(obj, "PCIDevice");
          if (model != nullptr) n.model = model;
        }
      }
      Node& n = sys->nodes[static_cast<size_t>(id)];
      if (obj->attr->bridge.downstream_type == HWLOC_OBJ_BRIDGE_PCI) {
        const auto& d = obj->attr->bridge.downstream.pci;
        n.busId = hex(d.domain, 4) + ":" + hex(d.secondary_bus, 2);
        if (d.subordinate_bus != d.secondary_bus) n.busId += "-" + hex(d.subordinate_bus, 2);
      }
    } else if (obj->type == HWLOC_OBJ_PCI_DEVICE) {
      const DevKind kind = classify(obj);
      const NodeType type = kind == DevKind::kGpu        ? NodeType::kGpu
                            : kind == DevKind::kNic      ? NodeType::kNic
                            : kind == DevKind::kNvSwitch ? NodeType::kNvSwitch
                                                         : NodeType::kPciDevice;
      id = sys->add(type, parent);
      Node& n = sys->nodes[static_cast<size_t>(id)];
      const auto& p = obj->attr->pcidev;
      n.busId = pciBusId(obj);
      n.vendor = p.vendor_id;
      n.device = p.device_id;
      n.pciClass = p.class_id;
      n.upGBps = p.linkspeed;
      n.upType = LinkType::kPcie;
      const char* model = hwloc_obj_get_info_by_name(obj, "PCIDevice");
      if (model == nullptr) model = obj->name;  // libpciaccess's name, when hwloc has one
      if (model != nullptr) n.model = model;
      bool openfabrics = false;
      for (hwloc_obj_t c = obj->io_first_child; c != nullptr; c = c->next_sibling) {
        if (c->type != HWLOC_OBJ_OS_DEVICE || c->name == nullptr) continue;
        nodeOf[c] = id;
        std::string name = c->name;
        if (c->subtype != nullptr && std::strlen(c->subtype) > 0)
          name += "/" + std::string(c->subtype);
        n.osdevs.push_back(name);
        if (c->attr->osdev.type == HWLOC_OBJ_OSDEV_OPENFABRICS) openfabrics = true;
        if (type == NodeType::kGpu && n.model.empty()) {
          const char* gm = hwloc_obj_get_info_by_name(c, "GPUModel");
          if (gm != nullptr) n.model = gm;
        }
        if (type == NodeType::kNic && live && !n.speedKnown) {
          const bool of = c->attr->osdev.type == HWLOC_OBJ_OSDEV_OPENFABRICS;
          const double gbps = readNetSpeedGBps(c->name, of);
          if (gbps > 0) {
            n.nicGBps = gbps;
            n.speedKnown = true;
          }
        }
      }
      if (type == NodeType::kNic) {
        n.rdma = openfabrics || p.class_id == 0x0207 || p.class_id == 0x0c06 ||
                 p.vendor_id == 0x15b3 || p.vendor_id == 0x17db ||
                 (p.vendor_id == 0x1d0f && (p.device_id & 0xff00) == 0xef00);
        if (!n.speedKnown) n.nicGBps = n.rdma ? kRdmaNicGBps : kEthernetNicGBps;
      }
    }
    nodeOf[obj] = id;
    for (hwloc_obj_t c = obj->io_first_child; c != nullptr; c = c->next_sibling) addIo(c, id);
  }

  void addNormal(hwloc_obj_t obj, int parent) {
    int here = parent;
    if (obj->type == HWLOC_OBJ_PACKAGE) {
      here = sys->add(NodeType::kPackage, parent);
      sys->nodes[static_cast<size_t>(here)].cores =
          hwloc_get_nbobjs_inside_cpuset_by_type(topo, obj->cpuset, HWLOC_OBJ_CORE);
      sys->nodes[static_cast<size_t>(here)].index = static_cast<int>(obj->logical_index);
      const char* model = hwloc_obj_get_info_by_name(obj, "CPUModel");
      if (model != nullptr) sys->nodes[static_cast<size_t>(here)].model = model;
      nodeOf[obj] = here;
    }
    for (hwloc_obj_t m = obj->memory_first_child; m != nullptr; m = m->next_sibling) {
      if (m->type != HWLOC_OBJ_NUMANODE) continue;
      // NUMA nodes hang below their package (whatever level hwloc put them at).
      int at = 0;
      for (hwloc_obj_t p = obj; p != nullptr; p = p->parent) {
        auto it = nodeOf.find(p);
        if (p->type == HWLOC_OBJ_PACKAGE && it != nodeOf.end()) {
          at = it->second;
          break;
        }
      }
      const int id = sys->add(NodeType::kNuma, at);
      Node& n = sys->nodes[static_cast<size_t>(id)];
      n.index = static_cast<int>(m->logical_index);
      n.cores = hwloc_get_nbobjs_inside_cpuset_by_type(topo, m->cpuset, HWLOC_OBJ_CORE);
      n.memoryBytes = m->attr->numanode.local_memory;
      nodeOf[m] = id;
    }
    for (hwloc_obj_t c = obj->first_child; c != nullptr; c = c->next_sibling) addNormal(c, here);
    if (obj->io_first_child != nullptr) {
      const int at = ioParent(obj);
      for (hwloc_obj_t c = obj->io_first_child; c != nullptr; c = c->next_sibling) addIo(c, at);
    }
  }

  // NVLinkBandwidth / XGMIBandwidth matrices (MB/s) between GPUs, NVSwitches and packages.
  void addMatrix(const char* name, LinkType type) {
    unsigned nr = 1;
    hwloc_distances_s* d = nullptr;
    if (hwloc_distances_get_by_name(topo, name, &nr, &d, 0) != 0 || nr == 0) return;
    const unsigned n = d->nbobjs;
    for (unsigned i = 0; i < n; ++i) {
      for (unsigned j = i + 1; j < n; ++j) {
        const hwloc_uint64_t v = std::max(d->values[i * n + j], d->values[j * n + i]);
        if (v == 0) continue;
        auto a = nodeOf.find(d->objs[i]);
        auto b = nodeOf.find(d->objs[j]);
        if (a == nodeOf.end() || b == nodeOf.end() || a->second == b->second) continue;
        Link l;
        l.a = a->second;
        l.b = b->second;
        l.type = type;
        l.gbps = static_cast<double>(v) / 1000.0;
        sys->links.push_back(l);
      }
    }
    hwloc_distances_release(topo, d);
  }
};

// hwloc says only that a file failed; this finds the first line that explains why (an unknown
// object type, a version hwloc 2 cannot read, a file cut short), or "" when it sees none.
std::string xmlProblem(const std::string& path) {
  static const char* const kTypes[] = {
      "Machine", "Package", "Die",     "NUMANode", "Group",    "Core",     "PU",       "L1Cache",
      "L2Cache", "L3Cache", "L4Cache", "L5Cache",  "L1iCache", "L2iCache", "L3iCache", "Bridge",
      "PCIDev",  "OSDev",   "Misc",    "MemCache", "Socket",   "Cache",    "System",   "Node"};
  std::ifstream f(path);
  std::string line;
  int lineNo = 0;
  bool topology = false, closed = false;
  while (std::getline(f, line)) {
    ++lineNo;
    const std::string at = path + ":" + std::to_string(lineNo) + ": ";
    const size_t t = line.find("<topology");
    if (t != std::string::npos) {
      topology = true;
      const size_t v = line.find("version=\"", t);
      if (v != std::string::npos && line.compare(v + 9, 2, "2.") != 0 &&
          line.compare(v + 9, 2, "1.") != 0 && line.compare(v + 9, 1, "\"") != 0) {
        return at + "topology " + line.substr(v, line.find('"', v + 9) + 1 - v) +
               ": this hwloc reads version 2 (and 1) XML";
      }
    }
    for (size_t o = line.find("<object"); o != std::string::npos; o = line.find("<object", o + 1)) {
      const size_t ty = line.find("type=\"", o);
      if (ty == std::string::npos || ty > line.find('>', o)) continue;
      const size_t end = line.find('"', ty + 6);
      if (end == std::string::npos) return at + "unterminated object type";
      const std::string type = line.substr(ty + 6, end - ty - 6);
      if (std::find_if(std::begin(kTypes), std::end(kTypes),
                       [&](const char* k) { return type == k; }) == std::end(kTypes))
        return at + "unknown object type '" + type + "'";
    }
    if (line.find("</topology>") != std::string::npos) closed = true;
  }
  if (!topology) return path + ":1: no <topology> element";
  if (!closed)
    return path + ":" + std::to_string(lineNo) + ": the file ends before </topology> (cut short?)";
  return "";
}

Status xmlError(const std::string& xmlFile, const std::string& generic) {
  const std::string detail = xmlProblem(xmlFile);
  if (!detail.empty()) return invalidArgument(detail + " (hwloc cannot load it)");
  return invalidArgument(xmlFile + ": " + generic);
}

Status loadTopology(const std::string& xmlFile, hwloc_topology_t* out) {
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) != 0)
    return systemError(errnoMessage("hwloc_topology_init", errno));
  hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_ALL);
  if (!xmlFile.empty()) {
    std::ifstream probe(xmlFile);
    if (!probe) {
      hwloc_topology_destroy(topo);
      return invalidArgument(xmlFile + ": cannot open the topology file (" +
                             std::string(std::strerror(errno)) + ")");
    }
    std::string first;
    int line = 0;
    while (first.empty() && std::getline(probe, first)) {
      ++line;
      first.erase(0, first.find_first_not_of(" \t\r"));
    }
    if (first.rfind("<", 0) != 0) {
      hwloc_topology_destroy(topo);
      return invalidArgument(xmlFile + ":" + std::to_string(line > 0 ? line : 1) +
                             ": not an hwloc XML topology (expected '<?xml' or '<topology')");
    }
    if (hwloc_topology_set_xml(topo, xmlFile.c_str()) != 0) {
      const int err = errno;
      hwloc_topology_destroy(topo);
      return xmlError(xmlFile, std::string("hwloc cannot use it as an XML topology (") +
                                   std::strerror(err) + ")");
    }
  }
  if (hwloc_topology_load(topo) != 0) {
    const int err = errno;
    hwloc_topology_destroy(topo);
    if (!xmlFile.empty()) {
      return xmlError(xmlFile,
                      "hwloc could not load it as an XML topology (malformed, or not hwloc v2 "
                      "XML; hwloc's own message, if any, is on stderr)");
    }
    return systemError(errnoMessage("hwloc_topology_load", err));
  }
  *out = topo;
  return Status::ok();
}

}  // namespace

Status discover(const std::string& xmlFile, const std::string& dumpFile, System* out) {
  hwloc_topology_t topo = nullptr;
  BRAID_RETURN_IF_ERROR(loadTopology(xmlFile, &topo));
  System sys;
  if (xmlFile.empty()) {
    sys.name = hostName();
    sys.source = "hwloc (this machine)";
  } else {
    hwloc_obj_t root = hwloc_get_root_obj(topo);
    const char* host = hwloc_obj_get_info_by_name(root, "HostName");
    sys.name = host != nullptr ? host : baseName(xmlFile);
    sys.source = "hwloc XML " + xmlFile;
  }
  sys.add(NodeType::kMachine, -1);
  Builder b{topo, xmlFile.empty(), &sys, {}};
  b.nodeOf[hwloc_get_root_obj(topo)] = 0;
  b.addNormal(hwloc_get_root_obj(topo), 0);
  sys.nodes[0].cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  b.addMatrix("NVLinkBandwidth", LinkType::kNvlink);
  b.addMatrix("XGMIBandwidth", LinkType::kXgmi);
  // NVSwitches but no matrix (captured without NVML): NVIDIA GPUs reach each other through
  // them. Assume it, and say so.
  const std::vector<int> switches = sys.ofType(NodeType::kNvSwitch);
  if (sys.links.empty() && !switches.empty()) {
    for (int g : sys.gpus()) {
      if (sys.nodes[static_cast<size_t>(g)].vendor != 0x10de) continue;
      for (int s : switches) {
        Link l;
        l.a = g;
        l.b = s;
        l.gbps = kInferredNvlinkGBps / static_cast<double>(switches.size());
        l.inferred = true;
        sys.links.push_back(l);
      }
    }
  }
  Status result = Status::ok();
  if (!dumpFile.empty() && hwloc_topology_export_xml(topo, dumpFile.c_str(), 0) != 0) {
    result = systemError(
        errnoMessage(dumpFile + ": cannot write the topology (BRAID_TOPO_DUMP_FILE)", errno));
  }
  hwloc_topology_destroy(topo);
  *out = std::move(sys);
  return result;
}

#else  // !BRAID_HAVE_HWLOC

bool haveHwloc() { return false; }

Status discover(const std::string& xmlFile, const std::string& dumpFile, System* out) {
  if (!xmlFile.empty())
    return invalidUsage(xmlFile +
                        ": cannot load a topology file: Braid was built without hwloc "
                        "(install libhwloc-dev and rebuild)");
  if (!dumpFile.empty())
    return invalidUsage(dumpFile + ": cannot dump the topology: Braid was built without hwloc");
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  *out = minimalSystem(hostName(), cores > 0 ? static_cast<int>(cores) : 1);
  return Status::ok();
}

#endif

Status discoverConfigured(const Config& config, System* out, std::string* warning) {
  const std::string& file = config.topoFile;
  const std::string& dump = config.topoDumpFile;
  if (!file.empty()) {
    Status s = discover(file, dump, out);
    if (s) return s;
    *warning = "BRAID_TOPO_FILE: " + s.message() + "; using the discovered machine instead";
  }
  return discover("", dump, out);
}

}  // namespace braid::topo
