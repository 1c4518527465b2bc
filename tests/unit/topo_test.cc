// Topology: ring files, discovery from hwloc XML (the synthetic fixtures in tests/data/topo and,
// where present, the real machines in ../shared/topologies), path classes, and the planner's
// properties (maximal bottleneck, NIC locality, determinism).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "topo/discover.h"
#include "topo/plan.h"
#include "topo/ring_file.h"
#include "topo/system.h"

namespace braid::topo {
namespace {

const std::string kData = BRAID_TOPO_TEST_DATA;
const std::string kShared = BRAID_SHARED_TOPOLOGIES;

bool exists(const std::string& path) { return access(path.c_str(), R_OK) == 0; }

System load(const std::string& path) {
  System sys;
  Status s = discover(path, "", &sys);
  EXPECT_TRUE(s.isOk()) << s.message();
  return sys;
}

// Live discovery under AddressSanitizer: hwloc's PCI plugin (libpciaccess) leaks a few
// allocations per load from a module it then unloads, which LeakSanitizer can neither attribute
// nor suppress; the XML fixtures cover PCI parsing, so live loads skip the PCI component there.
struct NoLivePciUnderAsan {
#if defined(__SANITIZE_ADDRESS__)
  NoLivePciUnderAsan() { setenv("HWLOC_COMPONENTS", "-pci", 1); }
  ~NoLivePciUnderAsan() { unsetenv("HWLOC_COMPONENTS"); }
#endif
};

#define REQUIRE_HWLOC() \
  if (!haveHwloc()) GTEST_SKIP() << "built without hwloc"

#define REQUIRE_SHARED(file) \
  REQUIRE_HWLOC();           \
  if (!exists(kShared + "/" + file)) GTEST_SKIP() << kShared << "/" << file << " absent"

int findGpu(const System& sys, int index) {
  for (int g : sys.gpus()) {
    if (sys.nodes[static_cast<size_t>(g)].index == index) return g;
  }
  return -1;
}

int findNicByOsdev(const System& sys, const std::string& name) {
  for (int n : sys.nics()) {
    for (const auto& o : sys.nodes[static_cast<size_t>(n)].osdevs) {
      if (o == name || o.rfind(name + "/", 0) == 0) return n;
    }
  }
  return -1;
}

// ---- ring files -------------------------------------------------------------------------

TEST(RingFile, ParsesRingsCommentsAndBlankLines) {
  RingFile f;
  ASSERT_TRUE(parseRingFile("# hello\n\nring 0 2 1 3  # four\nring 1 0\n", "r.txt", &f).isOk());
  ASSERT_EQ(f.rings.size(), 2u);
  EXPECT_EQ(f.rings[0], (std::vector<int>{0, 2, 1, 3}));
  EXPECT_EQ(f.lines[0], 3);
  std::vector<int> ring;
  ASSERT_TRUE(ringForSize(f, "r.txt", 2, &ring).isOk());
  EXPECT_EQ(ring, (std::vector<int>{1, 0}));
  Status s = ringForSize(f, "r.txt", 8, &ring);
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("r.txt: no ring of 8 ranks"), std::string::npos) << s.message();
}

TEST(RingFile, ErrorsNameFileAndLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ring 0 1\nrnig 0 1\n", "r.txt:2: unknown keyword 'rnig'"},
      {"ring 0 x 1\n", "r.txt:1: 'x' is not a rank"},
      {"\n\nring 0 1 1\n", "r.txt:3: rank 1 appears twice"},
      {"ring 0 1 5\n", "r.txt:1: rank 5 is out of range"},
      {"ring -1 0\n", "r.txt:1: '-1' is not a rank"},
      {"ring\n", "r.txt:1: 'ring' without ranks"},
      {"# nothing\n", "r.txt: no 'ring' line"},
  };
  for (const auto& [text, want] : cases) {
    RingFile f;
    Status s = parseRingFile(text, "r.txt", &f);
    EXPECT_FALSE(s.isOk()) << text;
    EXPECT_NE(s.message().find(want), std::string::npos) << s.message();
  }
  RingFile f;
  Status s = readRingFile("/nonexistent/ring.txt", &f);
  EXPECT_NE(s.message().find("/nonexistent/ring.txt"), std::string::npos) << s.message();
}

TEST(RingFile, FormatRoundTrips) {
  const std::vector<std::vector<int>> rings = {{0, 3, 1, 2}, {2, 1, 0, 3}};
  RingFile f;
  ASSERT_TRUE(parseRingFile(formatRingFile(rings, "by braid-tune\nsecond line"), "x", &f).isOk());
  EXPECT_EQ(f.rings, rings);
}

// ---- the ring search ----------------------------------------------------------------------

uint64_t lcg(uint64_t* state) {
  *state = *state * 6364136223846793005ull + 1442695040888963407ull;
  return *state >> 33;
}

BwMatrix randomMatrix(int n, uint64_t seed, bool symmetric) {
  BwMatrix bw(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(n), 0));
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i == j) continue;
      if (symmetric && j < i) {
        bw[i][j] = bw[j][i];
      } else {
        bw[i][j] = static_cast<double>(1 + lcg(&seed) % 20);
      }
    }
  }
  return bw;
}

double bruteForceBottleneck(const BwMatrix& bw) {
  std::vector<int> ring(bw.size());
  std::iota(ring.begin(), ring.end(), 0);
  double best = 0;
  do {
    best = std::max(best, ringBottleneck(bw, ring));
  } while (std::next_permutation(ring.begin() + 1, ring.end()));
  return best;
}

bool isPermutation(std::vector<int> ring, size_t n) {
  std::sort(ring.begin(), ring.end());
  for (size_t i = 0; i < ring.size(); ++i) {
    if (ring[i] != static_cast<int>(i)) return false;
  }
  return ring.size() == n;
}

TEST(Planner, BestRingBottleneckIsMaximal) {
  for (int n = 2; n <= 8; ++n) {
    for (uint64_t seed = 1; seed <= 6; ++seed) {
      const BwMatrix bw = randomMatrix(n, seed * 97 + static_cast<uint64_t>(n), seed % 2 == 0);
      const std::vector<int> ring = bestRing(bw);
      ASSERT_TRUE(isPermutation(ring, static_cast<size_t>(n)));
      EXPECT_EQ(ringBottleneck(bw, ring), bruteForceBottleneck(bw))
          << "n " << n << " seed " << seed;
    }
  }
}

TEST(Planner, HeuristicFindsTheClusteredOptimum) {
  // 16 nodes in 4 groups: 100 inside a group, 10 between groups, except one slow pair (1)
  // between groups 0 and 1; the best ring visits each group once: bottleneck 10.
  const int n = 16;
  BwMatrix bw(n, std::vector<double>(n, 10));
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      // Interleaved labels, so that rank order is the worst order.
      if (i % 4 == j % 4) bw[i][j] = 100;
    }
  }
  bw[0][1] = bw[1][0] = 1;
  const std::vector<int> ring = bestRing(bw);
  ASSERT_TRUE(isPermutation(ring, n));
  EXPECT_EQ(ringBottleneck(bw, ring), 10);
  int crossings = 0;
  for (int i = 0; i < n; ++i) crossings += ring[i] % 4 != ring[(i + 1) % n] % 4 ? 1 : 0;
  EXPECT_EQ(crossings, 4);
}

TEST(Planner, AvoidsOneSlowLink) {
  // braid-tune's case: 4 ranks, the 0 <-> 1 link a tenth of the others.
  BwMatrix bw(4, std::vector<double>(4, 100));
  bw[0][1] = bw[1][0] = 10;
  const std::vector<int> ring = bestRing(bw);
  EXPECT_EQ(ringBottleneck(bw, ring), 100);
  EXPECT_EQ(ringBottleneck(bw, {0, 1, 2, 3}), 10);
}

TEST(Planner, BestPathPutsNicNeighboursAtTheEnds) {
  BwMatrix bw(4, std::vector<double>(4, 10));
  const std::vector<double> end = {1, 1, 5, 5};
  const std::vector<int> path = bestPath(bw, end);
  ASSERT_EQ(path.size(), 4u);
  EXPECT_GE(path.front(), 2);
  EXPECT_GE(path.back(), 2);
}

TEST(Planner, PlanByHostGroupsRanks) {
  EXPECT_EQ(planByHost({"a", "b", "a", "b", "c"}), (std::vector<int>{0, 2, 1, 3, 4}));
  EXPECT_EQ(planByHost({"a", "a", "a"}), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(planByHost({}), std::vector<int>{});
}

// ---- discovery of the synthetic fixtures -----------------------------------------------------

ClusterInput gpuCluster(const System& sys, int hosts) {
  ClusterInput in;
  for (int h = 0; h < hosts; ++h) {
    in.hosts.push_back(sys);
    for (int g : sys.gpus()) in.ranks.push_back({h, g});
  }
  return in;
}

TEST(TopoFixtures, NvswitchServer) {
  REQUIRE_HWLOC();
  const System sys = load(kData + "/dgx-8gpu-nvswitch.xml");
  EXPECT_EQ(sys.ofType(NodeType::kPackage).size(), 2u);
  EXPECT_EQ(sys.gpus().size(), 8u);
  EXPECT_EQ(sys.nics().size(), 8u);
  EXPECT_EQ(sys.ofType(NodeType::kNvSwitch).size(), 6u);
  const int g0 = findGpu(sys, 0), g1 = findGpu(sys, 1), g2 = findGpu(sys, 2), g4 = findGpu(sys, 4);
  const int nic0 = findNicByOsdev(sys, "mlx5_0");
  ASSERT_GE(nic0, 0);
  EXPECT_EQ(path(sys, g0, g4).cls, PathClass::kNvl);
  EXPECT_DOUBLE_EQ(path(sys, g0, g1).gbps, 300);  // 6 NVSwitches x 50 GB/s
  EXPECT_EQ(path(sys, g0, g0).cls, PathClass::kSelf);
  EXPECT_EQ(path(sys, nic0, g0).cls, PathClass::kPix);
  EXPECT_EQ(path(sys, nic0, g2).cls, PathClass::kPhb);
  EXPECT_EQ(path(sys, nic0, g4).cls, PathClass::kSys);
  EXPECT_TRUE(sys.nodes[static_cast<size_t>(nic0)].rdma);

  // Two such hosts: one ring per NIC pair (4 channels), NVLink inside, each host's entry and
  // exit GPU under the channel's NIC's own switch.
  const ClusterInput in = gpuCluster(sys, 2);
  const Plan plan = planCluster(in);
  ASSERT_EQ(plan.channels.size(), 4u);
  std::vector<int> usedNics;
  for (const Channel& ch : plan.channels) {
    ASSERT_TRUE(isPermutation(ch.ring, 16));
    EXPECT_DOUBLE_EQ(ch.bottleneckGBps, 25);  // the NICs, not PCIe or NVLink
    for (int h = 0; h < 2; ++h) {
      const int nic = ch.nic[static_cast<size_t>(h)];
      ASSERT_GE(nic, 0);
      if (h == 0) usedNics.push_back(nic);
      // The host's ranks are contiguous in the ring; its first and last sit next to the NIC.
      std::vector<int> mine;
      for (int r : ch.ring) {
        if (in.ranks[static_cast<size_t>(r)].host == h) mine.push_back(r);
      }
      const auto pos = std::find(ch.ring.begin(), ch.ring.end(), mine.front()) - ch.ring.begin();
      for (size_t i = 0; i < mine.size(); ++i)
        EXPECT_EQ(ch.ring[(static_cast<size_t>(pos) + i) % ch.ring.size()], mine[i]);
      EXPECT_EQ(path(sys, in.ranks[static_cast<size_t>(mine.front())].node, nic).cls,
                PathClass::kPix);
      EXPECT_EQ(path(sys, in.ranks[static_cast<size_t>(mine.back())].node, nic).cls,
                PathClass::kPix);
    }
  }
  std::sort(usedNics.begin(), usedNics.end());
  EXPECT_EQ(std::unique(usedNics.begin(), usedNics.end()), usedNics.end())
      << "channels share a NIC";
}

TEST(TopoFixtures, PcieBoxWithTwoSwitches) {
  REQUIRE_HWLOC();
  const System sys = load(kData + "/pcie-4gpu-2switch.xml");
  ASSERT_EQ(sys.gpus().size(), 4u);
  ASSERT_EQ(sys.nics().size(), 1u);
  const int g0 = findGpu(sys, 0), g1 = findGpu(sys, 1), g2 = findGpu(sys, 2), g3 = findGpu(sys, 3);
  EXPECT_EQ(path(sys, g0, g1).cls, PathClass::kPix);
  EXPECT_EQ(path(sys, g2, g3).cls, PathClass::kPix);
  EXPECT_EQ(path(sys, g0, g2).cls, PathClass::kPhb);
  EXPECT_GT(path(sys, g0, g1).gbps, path(sys, g0, g2).gbps);
  EXPECT_EQ(path(sys, sys.nics()[0], g3).cls, PathClass::kPix);

  // One host: GPUs under one switch adjacent (the ring crosses between switches only twice).
  Plan plan = planCluster(gpuCluster(sys, 1));
  ASSERT_EQ(plan.channels.size(), 1u);
  const std::vector<int>& ring = plan.channels[0].ring;
  int crossings = 0;
  for (size_t i = 0; i < ring.size(); ++i) crossings += (ring[i] / 2) != (ring[(i + 1) % 4] / 2);
  EXPECT_EQ(crossings, 2);

  // Two hosts: the entry or exit of each host is under the NIC's switch (GPU2 or GPU3).
  const ClusterInput in = gpuCluster(sys, 2);
  plan = planCluster(in);
  for (const auto& ranks : plan.hostRanks) {
    const int first = in.ranks[static_cast<size_t>(ranks.front())].node;
    const int last = in.ranks[static_cast<size_t>(ranks.back())].node;
    EXPECT_TRUE(first == g2 || first == g3 || last == g2 || last == g3);
  }
}

TEST(TopoFixtures, CpuNodeAndLaptop) {
  REQUIRE_HWLOC();
  const System cpu = load(kData + "/cpu-2socket.xml");
  EXPECT_EQ(cpu.ofType(NodeType::kPackage).size(), 2u);
  EXPECT_EQ(cpu.ofType(NodeType::kNuma).size(), 2u);
  EXPECT_EQ(cpu.nodes[0].cores, 32);
  EXPECT_TRUE(cpu.gpus().empty());
  ASSERT_EQ(cpu.nics().size(), 1u);
  EXPECT_FALSE(cpu.nodes[static_cast<size_t>(cpu.nics()[0])].rdma);
  const System laptop = load(kData + "/laptop.xml");
  EXPECT_EQ(laptop.nodes[0].cores, 4);
  EXPECT_TRUE(laptop.gpus().empty()) << "an integrated display GPU is no compute device";
  EXPECT_EQ(laptop.nics().size(), 1u);
}

TEST(TopoFixtures, PlanIsDeterministic) {
  REQUIRE_HWLOC();
  const System sys = load(kData + "/dgx-8gpu-nvswitch.xml");
  const ClusterInput in = gpuCluster(sys, 3);
  const Plan a = planCluster(in);
  for (int i = 0; i < 3; ++i) {
    const System again = load(kData + "/dgx-8gpu-nvswitch.xml");
    const Plan b = planCluster(gpuCluster(again, 3));
    ASSERT_EQ(a.channels.size(), b.channels.size());
    for (size_t c = 0; c < a.channels.size(); ++c)
      EXPECT_EQ(a.channels[c].ring, b.channels[c].ring);
    EXPECT_EQ(a.treeParent[0], b.treeParent[0]);
    EXPECT_EQ(a.treeParent[1], b.treeParent[1]);
  }
  // The ranks listed in another order (GPUs reversed): the same quality of plan.
  ClusterInput permuted = in;
  for (size_t h = 0; h < 3; ++h) {
    std::reverse(permuted.ranks.begin() + static_cast<long>(h * 8),
                 permuted.ranks.begin() + static_cast<long>(h * 8 + 8));
  }
  const Plan p = planCluster(permuted);
  ASSERT_EQ(p.channels.size(), a.channels.size());
  for (size_t c = 0; c < a.channels.size(); ++c)
    EXPECT_DOUBLE_EQ(p.channels[c].bottleneckGBps, a.channels[c].bottleneckGBps);
}

TEST(TopoFixtures, BadFilesAreClearErrorsAndFallBack) {
  REQUIRE_HWLOC();
  char dir[] = "/tmp/braid-topo-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string text = std::string(dir) + "/notxml.xml";
  const std::string broken = std::string(dir) + "/broken.xml";
  std::ofstream(text) << "\n\nthis is not XML\n";
  std::ofstream(broken) << "<?xml version=\"1.0\"?>\n<topology version=\"2.0\">\n  <object type=";
  System sys;
  Status s = discover(text, "", &sys);
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find(text + ":3:"), std::string::npos) << s.message();
  s = discover(broken, "", &sys);
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find(broken + ":3: the file ends before </topology>"), std::string::npos)
      << s.message();
  const std::string unknown = std::string(dir) + "/unknown.xml";
  std::ofstream(unknown) << "<?xml version=\"1.0\"?>\n<topology version=\"2.0\">\n"
                            "  <object type=\"Machine\" os_index=\"0\" cpuset=\"0x1\">\n"
                            "    <object type=\"Banana\"/>\n  </object>\n</topology>\n";
  s = discover(unknown, "", &sys);
  EXPECT_NE(s.message().find(unknown + ":4: unknown object type 'Banana'"), std::string::npos)
      << s.message();
  unlink(unknown.c_str());
  s = discover(std::string(dir) + "/missing.xml", "", &sys);
  EXPECT_NE(s.message().find("missing.xml"), std::string::npos) << s.message();

  // BRAID_TOPO_FILE pointing at a bad file: a warning naming it, and the live machine.
  [[maybe_unused]] NoLivePciUnderAsan guard;
  Config config;
  config.topoFile = broken;
  std::string warning;
  s = discoverConfigured(config, &sys, &warning);
  EXPECT_TRUE(s.isOk()) << s.message();
  EXPECT_NE(warning.find(broken), std::string::npos) << warning;
  EXPECT_FALSE(sys.nodes.empty());

  // BRAID_TOPO_DUMP_FILE round trip: what was dumped loads again, with the same devices.
  const std::string dumped = std::string(dir) + "/dump.xml";
  System src;
  ASSERT_TRUE(discover(kData + "/pcie-4gpu-2switch.xml", dumped, &src).isOk());
  const System again = load(dumped);
  EXPECT_EQ(again.gpus().size(), src.gpus().size());
  EXPECT_EQ(again.nics().size(), src.nics().size());
  for (const std::string& f : {text, broken, dumped}) unlink(f.c_str());
  rmdir(dir);
}

TEST(Topo, LiveMachineLoads) {
  [[maybe_unused]] NoLivePciUnderAsan guard;
  System sys;
  Status s = discover("", "", &sys);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(sys.nodes[0].type, NodeType::kMachine);
  EXPECT_GE(sys.nodes[0].cores, 1);
}

// ---- the real machines in ../shared/topologies ---------------------------------------------

struct RealMachine {
  const char* file;
  size_t gpus;
  size_t rdmaNics;  // at least
  size_t nvswitches;
};

class SharedTopology : public ::testing::TestWithParam<RealMachine> {};

TEST_P(SharedTopology, LoadsAndPlans) {
  const RealMachine m = GetParam();
  REQUIRE_SHARED(m.file);
  const System sys = load(kShared + "/" + m.file);
  EXPECT_EQ(sys.gpus().size(), m.gpus);
  size_t rdma = 0;
  for (int n : sys.nics()) rdma += sys.nodes[static_cast<size_t>(n)].rdma ? 1 : 0;
  EXPECT_GE(rdma, m.rdmaNics);
  EXPECT_EQ(sys.ofType(NodeType::kNvSwitch).size(), m.nvswitches);
  const Plan plan = planCluster(gpuCluster(sys, 2));
  ASSERT_FALSE(plan.channels.empty());
  for (const Channel& ch : plan.channels) {
    EXPECT_TRUE(isPermutation(ch.ring, 2 * m.gpus));
    EXPECT_GT(ch.bottleneckGBps, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Real, SharedTopology,
                         ::testing::Values(RealMachine{"nvidia-dgx2.xml", 16, 0, 11},
                                           RealMachine{"xeon-2s-cuda-mlx5.xml", 4, 1, 0},
                                           RealMachine{"power8-4gpu-nvlink.xml", 4, 0, 0},
                                           RealMachine{"juwels-booster-4a100-4hdr.xml", 4, 4, 0},
                                           RealMachine{"lassen-power9-4v100-4mlx5.xml", 4, 4, 0},
                                           RealMachine{"aws-g4dn-metal-8t4-efa.xml", 8, 1, 0},
                                           RealMachine{"tioga-8mi250x-xgmi-slingshot.xml", 8, 4, 0},
                                           RealMachine{"aws-p4d-8a100-efa.xml", 8, 4, 6},
                                           RealMachine{"aws-p5en-8h200-16efa.xml", 8, 16, 4}),
                         [](const ::testing::TestParamInfo<RealMachine>& i) {
                           std::string name = i.param.file;
                           name = name.substr(0, name.find('.'));
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(SharedTopologyPaths, JuwelsGpuAndNicShareASwitch) {
  REQUIRE_SHARED("juwels-booster-4a100-4hdr.xml");
  const System sys = load(kShared + "/juwels-booster-4a100-4hdr.xml");
  // Every A100 has an HDR NIC under its own PCIe switch.
  for (int g : sys.gpus()) {
    bool pix = false;
    for (int n : sys.nics()) pix = pix || path(sys, g, n).cls == PathClass::kPix;
    EXPECT_TRUE(pix) << sys.label(g);
  }
}

TEST(SharedTopologyPaths, NvlinkMatrices) {
  REQUIRE_SHARED("power8-4gpu-nvlink.xml");
  const System p8 = load(kShared + "/power8-4gpu-nvlink.xml");
  EXPECT_EQ(path(p8, findGpu(p8, 0), findGpu(p8, 1)).cls, PathClass::kNvl);
  EXPECT_EQ(path(p8, findGpu(p8, 0), findGpu(p8, 2)).cls, PathClass::kSys);
  if (exists(kShared + "/nvidia-dgx2.xml")) {
    const System dgx2 = load(kShared + "/nvidia-dgx2.xml");
    EXPECT_EQ(path(dgx2, findGpu(dgx2, 0), findGpu(dgx2, 1)).cls, PathClass::kNvl);
  }
  if (exists(kShared + "/tioga-8mi250x-xgmi-slingshot.xml")) {
    const System tioga = load(kShared + "/tioga-8mi250x-xgmi-slingshot.xml");
    EXPECT_EQ(path(tioga, findGpu(tioga, 0), findGpu(tioga, 7)).cls, PathClass::kNvl);
  }
}

}  // namespace
}  // namespace braid::topo
