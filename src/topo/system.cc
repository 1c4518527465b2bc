#include "topo/system.h"

#include <algorithm>

namespace braid::topo {

const char* nodeTypeName(NodeType type) {
  switch (type) {
    case NodeType::kMachine:
      return "Machine";
    case NodeType::kPackage:
      return "Package";
    case NodeType::kNuma:
      return "NUMA";
    case NodeType::kHostBridge:
      return "Host bridge";
    case NodeType::kPciBridge:
      return "PCI bridge";
    case NodeType::kPciDevice:
      return "PCI device";
    case NodeType::kGpu:
      return "GPU";
    case NodeType::kNic:
      return "NIC";
    case NodeType::kNvSwitch:
      return "NVSwitch";
  }
  return "?";
}

const char* pathClassName(PathClass c) {
  switch (c) {
    case PathClass::kSelf:
      return "SELF";
    case PathClass::kNvl:
      return "NVL";
    case PathClass::kPix:
      return "PIX";
    case PathClass::kPxb:
      return "PXB";
    case PathClass::kPhb:
      return "PHB";
    case PathClass::kSys:
      return "SYS";
    case PathClass::kNet:
      return "NET";
  }
  return "?";
}

const char* pathClassMeaning(PathClass c) {
  switch (c) {
    case PathClass::kSelf:
      return "same device (or same host memory)";
    case PathClass::kNvl:
      return "NVLink / xGMI (direct or through NVSwitch)";
    case PathClass::kPix:
      return "through one PCIe switch";
    case PathClass::kPxb:
      return "through several PCIe switches, not the host bridge";
    case PathClass::kPhb:
      return "through a PCIe host bridge (same socket)";
    case PathClass::kSys:
      return "across sockets (SMP interconnect)";
    case PathClass::kNet:
      return "across the network";
  }
  return "?";
}

const char* linkTypeName(LinkType type) {
  switch (type) {
    case LinkType::kNone:
      return "";
    case LinkType::kPcie:
      return "PCIe";
    case LinkType::kNvlink:
      return "NVLink";
    case LinkType::kXgmi:
      return "xGMI";
    case LinkType::kSmp:
      return "SMP";
    case LinkType::kNet:
      return "network";
  }
  return "?";
}

int System::add(NodeType type, int parent) {
  Node n;
  n.type = type;
  n.parent = parent;
  int sameType = 0;
  for (const Node& o : nodes) sameType += o.type == type ? 1 : 0;
  n.index = sameType;
  nodes.push_back(n);
  const int id = static_cast<int>(nodes.size()) - 1;
  if (parent >= 0) nodes[static_cast<size_t>(parent)].children.push_back(id);
  return id;
}

std::vector<int> System::ofType(NodeType type) const {
  std::vector<int> out;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].type == type) out.push_back(static_cast<int>(i));
  }
  return out;
}

std::string System::label(int node) const {
  const Node& n = nodes[static_cast<size_t>(node)];
  switch (n.type) {
    case NodeType::kMachine:
      return "Machine";
    case NodeType::kPackage:
      return "Package " + std::to_string(n.index);
    case NodeType::kNuma:
      return "NUMA " + std::to_string(n.index);
    case NodeType::kGpu:
      return "GPU" + std::to_string(n.index);
    case NodeType::kNic:
      return "NIC" + std::to_string(n.index);
    case NodeType::kNvSwitch:
      return "NVSwitch" + std::to_string(n.index);
    case NodeType::kHostBridge:
      return "Host bridge " + n.busId;
    case NodeType::kPciBridge:
      return "PCI bridge " + n.busId;
    case NodeType::kPciDevice:
      return "PCI " + n.busId;
  }
  return "?";
}

int System::depth(int node) const {
  int d = 0;
  for (int p = nodes[static_cast<size_t>(node)].parent; p >= 0;
       p = nodes[static_cast<size_t>(p)].parent)
    ++d;
  return d;
}

int System::package(int node) const {
  for (int p = node; p >= 0; p = nodes[static_cast<size_t>(p)].parent) {
    if (nodes[static_cast<size_t>(p)].type == NodeType::kPackage) return p;
  }
  return -1;
}

int System::numa(int node) const {
  for (int p = node; p >= 0; p = nodes[static_cast<size_t>(p)].parent) {
    if (nodes[static_cast<size_t>(p)].type == NodeType::kNuma) return p;
  }
  return -1;
}

double nvlinkGBps(const System& sys, int a, int b) {
  if (a == b) return 0;
  double direct = 0;
  // Per NVSwitch: the link from a and the link from b.
  std::vector<double> fromA(sys.nodes.size(), 0), fromB(sys.nodes.size(), 0);
  for (const Link& l : sys.links) {
    if (l.type != LinkType::kNvlink && l.type != LinkType::kXgmi) continue;
    if ((l.a == a && l.b == b) || (l.a == b && l.b == a)) direct += l.gbps;
    for (int end = 0; end < 2; ++end) {
      const int self = end == 0 ? l.a : l.b;
      const int other = end == 0 ? l.b : l.a;
      if (sys.nodes[static_cast<size_t>(other)].type != NodeType::kNvSwitch) continue;
      if (self == a) fromA[static_cast<size_t>(other)] += l.gbps;
      if (self == b) fromB[static_cast<size_t>(other)] += l.gbps;
    }
  }
  double viaSwitch = 0;
  for (size_t s = 0; s < sys.nodes.size(); ++s) viaSwitch += std::min(fromA[s], fromB[s]);
  return direct + viaSwitch;
}

namespace {

bool isPci(NodeType t) {
  return t == NodeType::kPciBridge || t == NodeType::kPciDevice || t == NodeType::kGpu ||
         t == NodeType::kNic || t == NodeType::kNvSwitch;
}

std::vector<int> ancestry(const System& sys, int node) {  // node first, machine last
  std::vector<int> out;
  for (int p = node; p >= 0; p = sys.nodes[static_cast<size_t>(p)].parent) out.push_back(p);
  return out;
}

}  // namespace

Path path(const System& sys, int a, int b) {
  const Node& na = sys.nodes[static_cast<size_t>(a)];
  if (a == b) return {PathClass::kSelf, isPci(na.type) ? 1000.0 : kHostMemoryGBps};
  const double nvl = nvlinkGBps(sys, a, b);
  if (nvl > 0) return {PathClass::kNvl, nvl};
  std::vector<int> up = ancestry(sys, a), down = ancestry(sys, b);
  int lca = 0;
  size_t ia = 0, ib = 0;
  for (ia = 0; ia < up.size(); ++ia) {
    auto it = std::find(down.begin(), down.end(), up[ia]);
    if (it != down.end()) {
      lca = up[ia];
      ib = static_cast<size_t>(it - down.begin());
      break;
    }
  }
  // Narrowest PCIe link below the common ancestor, and PCI bridges crossed on each side.
  double bw = 0;
  bool anyPci = false;
  int bridgesA = 0, bridgesB = 0;
  auto walk = [&](const std::vector<int>& chain, size_t until, int* bridges) {
    for (size_t i = 0; i < until; ++i) {
      const Node& n = sys.nodes[static_cast<size_t>(chain[i])];
      if (!isPci(n.type)) continue;
      anyPci = true;
      if (n.type == NodeType::kPciBridge) ++*bridges;
      // Endpoints' links only: what captures report for bridge ports is often the far side's
      // or a management link's speed, not a limit on the path.
      if (n.type != NodeType::kPciBridge && n.upGBps > 0)
        bw = bw == 0 ? n.upGBps : std::min(bw, n.upGBps);
    }
  };
  walk(up, ia, &bridgesA);
  walk(down, ib, &bridgesB);
  if (anyPci && bw == 0) bw = kDefaultPcieGBps;
  const NodeType lt = sys.nodes[static_cast<size_t>(lca)].type;
  if (!anyPci) {
    // Two CPU locations (processes without devices): host memory.
    const bool samePackage = sys.package(a) == sys.package(b);
    return {samePackage ? PathClass::kSelf : PathClass::kSys,
            samePackage ? kHostMemoryGBps : kHostMemoryGBps / 2};
  }
  if (lt == NodeType::kPciBridge || lt == NodeType::kPciDevice || lt == NodeType::kGpu ||
      lt == NodeType::kNic) {
    if (bridgesA <= 1 && bridgesB <= 1) return {PathClass::kPix, bw};
    return {PathClass::kPxb, bw * 0.95};
  }
  // Through one host bridge, or between two host bridges of one socket (slightly worse).
  if (lt == NodeType::kHostBridge) return {PathClass::kPhb, bw * 0.8};
  if (lt == NodeType::kNuma || lt == NodeType::kPackage) return {PathClass::kPhb, bw * 0.7};
  // Different packages (or no package information): the SMP interconnect.
  if (sys.package(a) >= 0 && sys.package(a) == sys.package(b)) return {PathClass::kPhb, bw * 0.7};
  return {PathClass::kSys, std::min(bw, kSmpGBps) * 0.8};
}

}  // namespace braid::topo
