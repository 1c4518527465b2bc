// braid-topo: what Braid discovered about a machine, the paths between ranks' devices, and the
// rings and trees it plans for a rank layout; optionally drawn with Graphviz.
//
//   braid-topo [--xml FILE] [--hosts N] [--ranks gpu|numa|N] [--channels N]
//              [--dot FILE] [--svg FILE] [--dump FILE]
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "topo/discover.h"
#include "topo/plan.h"
#include "topo/system.h"

namespace {

using braid::topo::ClusterInput;
using braid::topo::LinkType;
using braid::topo::Node;
using braid::topo::NodeType;
using braid::topo::PathClass;
using braid::topo::Plan;
using braid::topo::System;

void usage(FILE* out) {
  std::fprintf(out,
               "usage: braid-topo [options]\n"
               "Prints the machine Braid discovers (hwloc), the path classes between the ranks'\n"
               "devices, and the rings and trees it plans.\n\n"
               "  --xml FILE        plan for the machine in this hwloc XML file (default: this\n"
               "                    machine, or BRAID_TOPO_FILE when set)\n"
               "  --hosts N         a cluster of N such machines (default 1)\n"
               "  --ranks gpu|numa|N  ranks per host: one per GPU (default when there are GPUs),\n"
               "                    one per NUMA node (default otherwise), or N (on GPUs, else\n"
               "                    NUMA nodes, round robin)\n"
               "  --channels N      at most N rings, each through its own NIC (default 4)\n"
               "  --dot FILE        write the machine and host 0's rings as Graphviz\n"
               "  --svg FILE        the same, rendered with Graphviz 'dot' (graphviz package)\n"
               "  --dump FILE       write what was discovered as hwloc XML\n"
               "  -h, --help        this text\n");
}

std::string gb(double v) {
  char buf[32];
  if (v >= 100 || v == static_cast<int>(v))
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  else
    std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

std::string hex4(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04x", v);
  return buf;
}

std::string describeNode(const System& sys, int id) {
  const Node& n = sys.nodes[static_cast<size_t>(id)];
  std::string s = sys.label(id);
  switch (n.type) {
    case NodeType::kMachine:
      s += " \"" + sys.name + "\", " + std::to_string(n.cores) + " cores";
      break;
    case NodeType::kPackage:
      s += ", " + std::to_string(n.cores) + " cores";
      if (!n.model.empty()) s += " (" + n.model + ")";
      break;
    case NodeType::kNuma:
      s += ", " + std::to_string(n.cores) + " cores";
      if (n.memoryBytes > 0) s += ", " + std::to_string(n.memoryBytes >> 30) + " GiB";
      break;
    case NodeType::kGpu:
    case NodeType::kNic:
    case NodeType::kNvSwitch:
    case NodeType::kPciDevice:
      s += "  " + n.busId + " [" + hex4(n.vendor) + ":" + hex4(n.device) + "]";
      if (!n.model.empty()) s += " " + n.model;
      if (!n.osdevs.empty()) {
        s += " (";
        for (size_t i = 0; i < n.osdevs.size(); ++i) s += (i ? ", " : "") + n.osdevs[i];
        s += ")";
      }
      if (n.type == NodeType::kNic) {
        s += std::string(n.rdma ? ", RDMA" : ", Ethernet") + " " + gb(n.nicGBps) + " GB/s" +
             (n.speedKnown ? "" : " (assumed)");
      }
      break;
    case NodeType::kPciBridge:
      if (n.vendor != 0) s += " [" + hex4(n.vendor) + ":" + hex4(n.device) + "]";
      if (!n.model.empty()) s += " " + n.model;
      break;
    case NodeType::kHostBridge:
      break;
  }
  if (n.upType == LinkType::kPcie && n.upGBps > 0) s += "  <- PCIe " + gb(n.upGBps) + " GB/s";
  return s;
}

void printTree(const System& sys, int id, const std::string& prefix, bool last, bool root) {
  std::printf("%s%s%s\n", prefix.c_str(), root ? "" : (last ? "└─ " : "├─ "),
              describeNode(sys, id).c_str());
  const auto& kids = sys.nodes[static_cast<size_t>(id)].children;
  const std::string next = root ? "" : prefix + (last ? "   " : "│  ");
  for (size_t i = 0; i < kids.size(); ++i)
    printTree(sys, kids[i], next, i + 1 == kids.size(), false);
}

struct Layout {
  int hosts = 1;
  std::string ranks;  // "gpu", "numa", or a number; empty = default
};

ClusterInput makeCluster(const System& sys, const Layout& layout, int channels, std::string* what) {
  ClusterInput in;
  in.maxChannels = channels;
  std::vector<int> places;
  const std::vector<int> gpus = sys.gpus();
  std::vector<int> numas = sys.ofType(NodeType::kNuma);
  if (numas.empty()) numas.push_back(0);
  std::string mode = layout.ranks.empty() ? (gpus.empty() ? "numa" : "gpu") : layout.ranks;
  if (mode == "gpu" && !gpus.empty()) {
    places = gpus;
    *what = "one rank per GPU";
  } else if (mode == "gpu" || mode == "numa") {
    places = numas;
    *what = "one rank per NUMA node";
  } else {
    const int n = std::max(1, std::atoi(mode.c_str()));
    const std::vector<int>& pool = gpus.empty() ? numas : gpus;
    for (int i = 0; i < n; ++i) places.push_back(pool[static_cast<size_t>(i) % pool.size()]);
    *what = std::to_string(n) + " ranks per host on " + (gpus.empty() ? "NUMA nodes" : "GPUs");
  }
  for (int h = 0; h < layout.hosts; ++h) {
    in.hosts.push_back(sys);
    for (int p : places) in.ranks.push_back({h, p});
  }
  return in;
}

std::string ringText(const std::vector<int>& ring) {
  std::string s;
  for (int r : ring) s += std::to_string(r) + " -> ";
  return s + std::to_string(ring.front());
}

const char* kColors[] = {"red",    "blue",  "darkgreen", "darkorange",
                         "purple", "brown", "deeppink",  "cyan4"};

std::string dotId(int id) { return "n" + std::to_string(id); }

std::string writeDot(const System& sys, const ClusterInput& in, const Plan& plan) {
  std::ostringstream o;
  o << "digraph braid_topology {\n  rankdir=TB; node [shape=box, fontname=\"Helvetica\", "
       "fontsize=10]; edge [fontname=\"Helvetica\", fontsize=9];\n";
  o << "  label=\"" << sys.name << " (" << sys.source
    << "): ranks on host 0, rings as coloured cycles\"; labelloc=t;\n";
  std::vector<std::string> rankLabel(sys.nodes.size());
  for (size_t r = 0; r < in.ranks.size(); ++r) {
    if (in.ranks[r].host != 0) continue;
    const int node = std::max(0, in.ranks[r].node);
    rankLabel[static_cast<size_t>(node)] +=
        (rankLabel[static_cast<size_t>(node)].empty() ? "rank " : ",") + std::to_string(r);
  }
  for (size_t i = 0; i < sys.nodes.size(); ++i) {
    const Node& n = sys.nodes[i];
    std::string label = sys.label(static_cast<int>(i));
    std::string style;
    switch (n.type) {
      case NodeType::kGpu:
        style = ", style=filled, fillcolor=palegreen";
        break;
      case NodeType::kNic:
        style = ", style=filled, fillcolor=lightblue";
        break;
      case NodeType::kNvSwitch:
        style = ", style=filled, fillcolor=khaki";
        break;
      case NodeType::kPackage:
        style = ", style=filled, fillcolor=lightgrey";
        break;
      case NodeType::kNuma:
        style = ", style=filled, fillcolor=whitesmoke";
        break;
      default:
        break;
    }
    if (!n.model.empty() && (n.type == NodeType::kGpu || n.type == NodeType::kNic))
      label += "\\n" + n.model.substr(0, 32);
    if (n.type == NodeType::kNic)
      label +=
          "\\n" + (n.osdevs.empty() ? std::string() : n.osdevs[0] + " ") + gb(n.nicGBps) + " GB/s";
    if (!rankLabel[i].empty()) label += "\\n" + rankLabel[i];
    o << "  " << dotId(static_cast<int>(i)) << " [label=\"" << label << "\"" << style << "];\n";
    if (n.parent >= 0) {
      o << "  " << dotId(n.parent) << " -> " << dotId(static_cast<int>(i)) << " [dir=none";
      if (n.upType == LinkType::kPcie && n.upGBps > 0)
        o << ", label=\"PCIe " << gb(n.upGBps) << "\"";
      o << "];\n";
    }
  }
  for (const auto& l : sys.links) {
    o << "  " << dotId(l.a) << " -> " << dotId(l.b) << " [dir=none, style=dashed, color=gray40, "
      << "constraint=false, label=\"" << braid::topo::linkTypeName(l.type) << " " << gb(l.gbps)
      << (l.inferred ? "?" : "") << "\"];\n";
  }
  // Rings over host 0's devices: consecutive ranks of host 0 in each channel. Hops that
  // several rings share are drawn once, in all their colours (parallel edges upset dot).
  std::vector<std::pair<std::pair<std::string, std::string>, std::string>> hops;
  for (size_t c = 0; c < plan.channels.size(); ++c) {
    const auto& ch = plan.channels[c];
    const std::string color = kColors[c % (sizeof(kColors) / sizeof(kColors[0]))];
    const size_t n = ch.ring.size();
    for (size_t i = 0; i < n; ++i) {
      const int a = ch.ring[i], b = ch.ring[(i + 1) % n];
      const auto& pa = in.ranks[static_cast<size_t>(a)];
      const auto& pb = in.ranks[static_cast<size_t>(b)];
      std::string from = pa.host == 0 ? dotId(std::max(0, pa.node)) : "";
      std::string to = pb.host == 0 ? dotId(std::max(0, pb.node)) : "";
      // Hops that leave or enter host 0 go through the channel's NIC.
      if (pa.host == 0 && pb.host != 0 && ch.nic[0] >= 0) to = dotId(ch.nic[0]);
      if (pa.host != 0 && pb.host == 0 && ch.nic[0] >= 0) from = dotId(ch.nic[0]);
      if (from.empty() || to.empty() || from == to) continue;
      auto it = std::find_if(hops.begin(), hops.end(),
                             [&](const auto& h) { return h.first == std::make_pair(from, to); });
      if (it == hops.end())
        hops.push_back({{from, to}, color});
      else
        it->second += ":" + color;
    }
  }
  for (const auto& h : hops) {
    o << "  " << h.first.first << " -> " << h.first.second << " [color=\"" << h.second
      << "\", penwidth=2, constraint=false];\n";
  }
  o << "  legend [shape=note, label=\"";
  for (size_t c = 0; c < plan.channels.size(); ++c)
    o << "ring " << c << ": " << kColors[c % (sizeof(kColors) / sizeof(kColors[0]))] << "\\l";
  o << "dashed: NVLink / xGMI (GB/s; ? = assumed)\\l\"];\n";
  o << "}\n";
  return o.str();
}

bool findInPath(const std::string& prog) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (access((dir + "/" + prog).c_str(), X_OK) == 0) return true;
  }
  return false;
}

int renderSvg(const std::string& dot, const std::string& out) {
  if (!findInPath("dot")) {
    std::fprintf(stderr,
                 "braid-topo: --svg needs Graphviz's 'dot', which is not on PATH (Debian: apt-get "
                 "install graphviz); --dot FILE writes the graph for rendering elsewhere\n");
    return 1;
  }
  char tmpl[] = "/tmp/braid-topo-XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) {
    std::perror("braid-topo: mkstemp");
    return 1;
  }
  const bool ok = write(fd, dot.data(), dot.size()) == static_cast<ssize_t>(dot.size());
  close(fd);
  // dot's spline router fails on some dense graphs (many flat edges between one rank's
  // nodes); straight lines always route, so they are the fallback.
  auto run = [&](const char* extra) {
    const pid_t pid = fork();
    if (pid == 0) {
      if (extra == nullptr) {
        execlp("dot", "dot", "-Tsvg", "-o", out.c_str(), tmpl, static_cast<char*>(nullptr));
      } else {
        const int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 2);
        execlp("dot", "dot", extra, "-Tsvg", "-o", out.c_str(), tmpl, static_cast<char*>(nullptr));
      }
      _exit(127);
    }
    int status = 0;
    if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)) return WEXITSTATUS(status);
    return 1;
  };
  int rc = 1;
  if (ok) {
    const int devnull = open("/dev/null", O_WRONLY);
    const int saved = dup(2);
    if (devnull >= 0) dup2(devnull, 2);  // the first try's complaints are not the user's
    rc = run("-Gsplines=true");
    if (saved >= 0) {
      dup2(saved, 2);
      close(saved);
    }
    if (devnull >= 0) close(devnull);
    if (rc != 0) rc = run("-Gsplines=line");
  }
  unlink(tmpl);
  if (rc != 0)
    std::fprintf(stderr, "braid-topo: dot -Tsvg failed (exit %d) writing %s\n", rc, out.c_str());
  return rc;
}

// The command line.
struct Args {
  std::string xml, dotFile, svgFile, dump;
  Layout layout;
  int channels = 4;
};

// Reads the command line into *args. Returns -1 to go on, else the exit status (help: 0, a bad
// option: 2).
int parseArgs(int argc, char** argv, Args* args) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "braid-topo: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      *out = argv[++i];
    };
    std::string v;
    if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    } else if (a == "--xml") {
      value(&args->xml);
    } else if (a == "--dot") {
      value(&args->dotFile);
    } else if (a == "--svg") {
      value(&args->svgFile);
    } else if (a == "--dump") {
      value(&args->dump);
    } else if (a == "--hosts") {
      value(&v);
      args->layout.hosts = std::atoi(v.c_str());
      if (args->layout.hosts < 1 || args->layout.hosts > 4096) {
        std::fprintf(stderr, "braid-topo: --hosts %s: expected 1..4096\n", v.c_str());
        return 2;
      }
    } else if (a == "--ranks") {
      value(&args->layout.ranks);
      if (args->layout.ranks != "gpu" && args->layout.ranks != "numa" &&
          (std::atoi(args->layout.ranks.c_str()) < 1 ||
           std::atoi(args->layout.ranks.c_str()) > 1024)) {
        std::fprintf(stderr, "braid-topo: --ranks %s: expected gpu, numa or 1..1024\n",
                     args->layout.ranks.c_str());
        return 2;
      }
    } else if (a == "--channels") {
      value(&v);
      args->channels = std::atoi(v.c_str());
      if (args->channels < 1 || args->channels > 64) {
        std::fprintf(stderr, "braid-topo: --channels %s: expected 1..64\n", v.c_str());
        return 2;
      }
    } else {
      std::fprintf(stderr, "braid-topo: unknown option '%s'\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }
  return -1;
}

// The machine: from --xml, else this one (or BRAID_TOPO_FILE). False after printing why not.
bool loadSystem(const Args& args, System* sys) {
  if (!args.xml.empty()) {
    braid::Status s = braid::topo::discover(args.xml, args.dump, sys);
    if (!s) {
      std::fprintf(stderr, "braid-topo: %s\n", s.message().c_str());
      return false;
    }
  } else {
    std::string warning;
    braid::Config config;
    braid::Status s = braid::Config::fromEnv(&config);
    if (!args.dump.empty()) config.topoDumpFile = args.dump;
    if (s) s = braid::topo::discoverConfigured(config, sys, &warning);
    if (!warning.empty()) std::fprintf(stderr, "braid-topo: warning: %s\n", warning.c_str());
    if (!s) {
      std::fprintf(stderr, "braid-topo: %s\n", s.message().c_str());
      return false;
    }
  }
  return true;
}

// 1. The machine: counts, the tree, and the NVLink / xGMI links.
void printMachine(const System& sys) {
  std::printf("Machine %s, from %s\n", sys.name.c_str(), sys.source.c_str());
  std::printf(
      "  %zu package(s), %zu NUMA node(s), %d cores, %zu GPU(s), %zu NIC(s), %zu NVSwitch(es)\n\n",
      sys.ofType(NodeType::kPackage).size(), sys.ofType(NodeType::kNuma).size(), sys.nodes[0].cores,
      sys.gpus().size(), sys.nics().size(), sys.ofType(NodeType::kNvSwitch).size());
  printTree(sys, 0, "", true, true);
  if (!sys.links.empty()) {
    std::printf(
        "\nNVLink / xGMI links (GB/s%s):\n",
        std::any_of(sys.links.begin(), sys.links.end(), [](const auto& l) { return l.inferred; })
            ? "; '?' = assumed from NVSwitches present, no NVML matrix in the source"
            : "");
    // One line per device: its links, grouped.
    std::vector<int> ends;
    for (const auto& l : sys.links) {
      if (std::find(ends.begin(), ends.end(), l.a) == ends.end()) ends.push_back(l.a);
    }
    for (int a : ends) {
      std::string line;
      for (const auto& l : sys.links) {
        if (l.a != a) continue;
        line += (line.empty() ? "" : ", ") + sys.label(l.b) + " " +
                braid::topo::linkTypeName(l.type) + " " + gb(l.gbps) + (l.inferred ? "?" : "");
      }
      std::printf("  %-10s %s\n", sys.label(a).c_str(), line.c_str());
    }
  }
}

// 2. Host 0's ranks, the path classes between them, and from the NICs to them.
void printRanksAndPaths(const System& sys, const ClusterInput& in, const Layout& layout,
                        const std::string& what) {
  std::vector<int> host0;
  for (size_t r = 0; r < in.ranks.size(); ++r) {
    if (in.ranks[r].host == 0) host0.push_back(static_cast<int>(r));
  }
  std::printf("\nRanks: %d host(s) x %zu (%s); rank r runs on host r / %zu\n", layout.hosts,
              host0.size(), what.c_str(), host0.size());
  for (int r : host0) {
    const int node = in.ranks[static_cast<size_t>(r)].node;
    std::printf("  rank %-3d %s\n", r, node >= 0 ? sys.label(node).c_str() : "CPU");
  }
  const size_t show = std::min<size_t>(host0.size(), 24);
  std::printf("\nPaths between host 0's ranks (class, model GB/s)%s:\n      ",
              show < host0.size() ? " (first 24)" : "");
  for (size_t j = 0; j < show; ++j) std::printf(" %8s", ("r" + std::to_string(host0[j])).c_str());
  std::printf("\n");
  for (size_t i = 0; i < show; ++i) {
    std::printf("  %-4s", ("r" + std::to_string(host0[i])).c_str());
    for (size_t j = 0; j < show; ++j) {
      const auto p =
          braid::topo::path(sys, std::max(0, in.ranks[static_cast<size_t>(host0[i])].node),
                            std::max(0, in.ranks[static_cast<size_t>(host0[j])].node));
      const std::string cell =
          i == j ? "-" : std::string(braid::topo::pathClassName(p.cls)) + " " + gb(p.gbps);
      std::printf(" %8s", cell.c_str());
    }
    std::printf("\n");
  }
  if (!sys.nics().empty()) {
    std::printf("\nNICs to ranks (class, model GB/s):\n");
    for (int nic : sys.nics()) {
      std::printf("  %-5s", sys.label(nic).c_str());
      for (size_t j = 0; j < show; ++j) {
        const auto p =
            braid::topo::path(sys, nic, std::max(0, in.ranks[static_cast<size_t>(host0[j])].node));
        std::printf(" %8s",
                    (std::string(braid::topo::pathClassName(p.cls)) + " " + gb(p.gbps)).c_str());
      }
      std::printf("\n");
    }
  }
  if (layout.hosts > 1) std::printf("  ranks on different hosts: NET, at the NICs' speed\n");
  std::printf(
      "\n  SELF same device | NVL NVLink/xGMI | PIX one PCIe switch | PXB several PCIe "
      "switches\n  PHB PCIe host bridge | SYS across sockets | NET across the network\n");
}

// 3. The plan: the rings (channels) and the double binary trees.
void printPlan(const System& sys, const Plan& plan) {
  std::printf("\nRings (%zu channel(s); each hop's speed is the slowest link on its path):\n",
              plan.channels.size());
  for (size_t c = 0; c < plan.channels.size(); ++c) {
    const auto& ch = plan.channels[c];
    std::string via;
    if (ch.nic[0] >= 0) {
      const Node& n = sys.nodes[static_cast<size_t>(ch.nic[0])];
      via = " via " + sys.label(ch.nic[0]) + (n.osdevs.empty() ? "" : " (" + n.osdevs[0] + ")");
    }
    if (ch.ring.size() < 2) {
      std::printf("  one rank: no ring\n");
      continue;
    }
    std::printf("  ring %zu%s: %s\n    bottleneck %s GB/s\n", c, via.c_str(),
                ringText(ch.ring).c_str(), gb(ch.bottleneckGBps).c_str());
  }
  std::printf("\nDouble binary trees (parent of each rank; * = root):\n");
  for (int t = 0; t < 2; ++t) {
    std::printf("  tree %d:", t);
    for (size_t r = 0; r < plan.treeParent[t].size() && r < 64; ++r) {
      const int p = plan.treeParent[t][r];
      std::printf(" %zu<-%s", r, p < 0 ? "*" : std::to_string(p).c_str());
    }
    std::printf("%s\n", plan.treeParent[t].size() > 64 ? " ..." : "");
  }
}

// --dot and --svg. Returns the exit status: 1 when a file could not be written.
int writeDrawings(const System& sys, const ClusterInput& in, const Plan& plan, const Args& args) {
  int rc = 0;
  if (!args.dotFile.empty() || !args.svgFile.empty()) {
    const std::string dot = writeDot(sys, in, plan);
    if (!args.dotFile.empty()) {
      std::ofstream f(args.dotFile);
      f << dot;
      if (!f) {
        std::fprintf(stderr, "braid-topo: cannot write %s\n", args.dotFile.c_str());
        rc = 1;
      } else {
        std::printf("\nwrote %s (render: dot -Tsvg %s -o out.svg)\n", args.dotFile.c_str(),
                    args.dotFile.c_str());
      }
    }
    if (!args.svgFile.empty()) {
      if (renderSvg(dot, args.svgFile) != 0)
        rc = 1;
      else
        std::printf("\nwrote %s\n", args.svgFile.c_str());
    }
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (const int exitStatus = parseArgs(argc, argv, &args); exitStatus >= 0) return exitStatus;
  System sys;
  if (!loadSystem(args, &sys)) return 1;
  printMachine(sys);
  std::string what;
  ClusterInput in = makeCluster(sys, args.layout, args.channels, &what);
  const Plan plan = braid::topo::planCluster(in);
  printRanksAndPaths(sys, in, args.layout, what);
  printPlan(sys, plan);
  return writeDrawings(sys, in, plan, args);
}
