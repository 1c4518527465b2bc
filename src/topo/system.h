// One machine as the planner sees it: a tree of nodes (machine, packages, NUMA nodes, the PCI
// tree, GPUs, NICs, NVSwitches) plus NVLink-style links that cut across the tree, each with a
// type and a bandwidth. Discovery (topo/discover.h) fills it from hwloc or from an hwloc XML
// file; tests build it by hand. Everything here is pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace braid::topo {

enum class NodeType {
  kMachine,
  kPackage,
  kNuma,
  kHostBridge,
  kPciBridge,
  kPciDevice,
  kGpu,
  kNic,
  kNvSwitch
};
const char* nodeTypeName(NodeType type);

// How two devices reach each other, best first (NCCL's LOC/NVL/PIX/PXB/PHB/SYS/NET).
enum class PathClass { kSelf, kNvl, kPix, kPxb, kPhb, kSys, kNet };
const char* pathClassName(PathClass c);  // "SELF", "NVL", "PIX", "PXB", "PHB", "SYS", "NET"
const char* pathClassMeaning(PathClass c);

enum class LinkType { kNone, kPcie, kNvlink, kXgmi, kSmp, kNet };
const char* linkTypeName(LinkType type);

// Model bandwidths in GB/s where a machine does not say (see docs/topology.md). They rank
// orders; they are not predictions.
constexpr double kDefaultPcieGBps = 16.0;    // PCIe gen3 x16
constexpr double kSmpGBps = 10.0;            // across the socket interconnect, for PCIe traffic
constexpr double kRdmaNicGBps = 25.0;        // RDMA NIC of unknown speed: 200 Gb/s
constexpr double kEthernetNicGBps = 1.25;    // plain Ethernet of unknown speed: 10 Gb/s
constexpr double kHostMemoryGBps = 20.0;     // two processes on one host through shared memory
constexpr double kInferredNvlinkGBps = 300;  // per GPU through NVSwitches without an NVML matrix

struct Node {
  NodeType type = NodeType::kMachine;
  int parent = -1;
  std::vector<int> children;
  int index = 0;      // logical index within its type (GPU 0, 1, ...; NUMA os index)
  std::string busId;  // PCI "0000:01:00.0" or bridge bus range
  uint16_t vendor = 0, device = 0, pciClass = 0;
  std::string model;                // "Tesla V100-SXM3-32GB", "ConnectX-6", ...
  std::vector<std::string> osdevs;  // nvml0, cuda0, card0, mlx5_0, ib0, rdmap16s27, hsi0 ...
  double upGBps = 0;  // bandwidth of the link to the parent (0: not a limit / unknown)
  LinkType upType = LinkType::kNone;
  int cores = 0;  // packages and NUMA nodes
  uint64_t memoryBytes = 0;
  double nicGBps = 0;  // NICs: port speed
  bool rdma = false;   // NICs: InfiniBand / RoCE / EFA / Slingshot
  bool speedKnown = false;
};

struct Link {
  int a = -1, b = -1;
  LinkType type = LinkType::kNvlink;
  double gbps = 0;
  bool inferred = false;  // from NVSwitch presence, not a measured matrix
};

struct System {
  std::string name;         // host name or file name
  std::string source;       // "hwloc (live)", "hwloc XML FILE", "minimal (built without hwloc)"
  std::vector<Node> nodes;  // nodes[0] is the machine
  std::vector<Link> links;  // cross-tree links (NVLink, xGMI, NVLink to CPU)

  int add(NodeType type, int parent);  // returns the new node's id
  std::vector<int> ofType(NodeType type) const;
  std::vector<int> gpus() const { return ofType(NodeType::kGpu); }
  std::vector<int> nics() const { return ofType(NodeType::kNic); }
  // "GPU0", "NIC1 (mlx5_0)", "Package 0", ...
  std::string label(int node) const;
  int depth(int node) const;
  int package(int node) const;  // enclosing package or -1
  int numa(int node) const;     // enclosing NUMA node or -1
};

// NVLink-class bandwidth between two devices: direct links plus, through each NVSwitch both
// reach, the smaller of the two links. 0 when none.
double nvlinkGBps(const System& sys, int a, int b);

struct Path {
  PathClass cls = PathClass::kSys;
  double gbps = 0;
};
// Path between two nodes of one machine (devices, or a NUMA node / the machine for a CPU rank).
Path path(const System& sys, int a, int b);

}  // namespace braid::topo
