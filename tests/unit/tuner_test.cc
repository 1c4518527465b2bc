// The tuner (algo/tuner.h): a pure function of shape, cost model and overrides.
#include "algo/tuner.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "algo/direct.h"
#include "algo/rooted_tree.h"

namespace braid {
namespace {

Shape shapeOf(Collective coll, size_t bytes, int n, bool mesh = true,
              LinkClass link = LinkClass::kSocket) {
  Shape s;
  s.coll = coll;
  s.bytes = bytes;
  s.nranks = n;
  s.meshConnected = mesh;
  s.link = link;
  return s;
}

// A 1 Gbit/s network with 100 us per step: the namespace cluster of benchmarks/crossover.
CostModel slowNetwork() {
  CostModel m = CostModel::defaults();
  m.of(LinkClass::kSocket) = {100.0, 0.125, 20.0, 5.0};
  return m;
}

constexpr size_t kMax = size_t{1} << 20;

TEST(Tuner, TreeAtSmallRingAtLargeWithoutMesh) {
  const CostModel m = slowNetwork();
  // 16 ranks: no mesh, so no direct; the tree's log2(n) steps beat the ring's 2(n-1) on small
  // messages, the ring's 2(n-1)/n bytes win on large ones.
  EXPECT_EQ(choose(m, shapeOf(Collective::kAllReduce, 8 << 10, 16, false), {}, kMax).algo,
            Algo::kTree);
  EXPECT_EQ(choose(m, shapeOf(Collective::kAllReduce, 64 << 20, 16, false), {}, kMax).algo,
            Algo::kRing);
}

TEST(Tuner, PicksTheCheapestPrediction) {
  const CostModel m = slowNetwork();
  for (int n : {2, 3, 5, 8, 16, 64}) {
    for (size_t bytes = 4; bytes <= (size_t{256} << 20); bytes *= 4) {
      const Shape s = shapeOf(Collective::kAllReduce, bytes, n, n <= kMeshMaxRanks);
      const Choice c = choose(m, s, {}, kMax);
      for (Algo a : {Algo::kRing, Algo::kTree, Algo::kDirect}) {
        if (!algoAvailable(a, s)) continue;
        for (size_t chunk = 16 << 10; chunk <= kMax; chunk *= 2) {
          EXPECT_LE(c.predictedUs, predictUs(m.of(s.link), m.cpuShare, a, s, chunk) * (1 + 1e-9))
              << "n " << n << " bytes " << bytes << " " << algoName(a) << " chunk " << chunk;
        }
      }
      EXPECT_LE(c.chunkBytes, kMax);
      EXPECT_GE(c.chunkBytes, size_t{4096});
      EXPECT_EQ(c.nchannels, 1);
    }
  }
}

// The channel count is the tuner's: every connected channel for a ring AllReduce with at least
// kChannelMinBytes per channel, one otherwise (other collectives, other algorithms, no extra
// channels, the shared window).
TEST(Tuner, ChannelsOnlyForALargeEnoughRingAllReduce) {
  const CostModel m = slowNetwork();
  Overrides ring;
  ring.algo = "ring";
  for (int channels : {2, 3, 4}) {
    const size_t enough = kChannelMinBytes * static_cast<size_t>(channels);
    Shape s = shapeOf(Collective::kAllReduce, enough, 4, true, LinkClass::kLoopback);
    s.channels = channels;
    EXPECT_EQ(choose(m, s, ring, kMax).nchannels, channels) << channels << " channels";
    s.bytes = enough - 1;
    EXPECT_EQ(choose(m, s, ring, kMax).nchannels, 1) << "just below " << channels << " x 256 KiB";
    s.bytes = size_t{1} << 30;
    EXPECT_EQ(choose(m, s, ring, kMax).nchannels, channels);
    // Not an AllReduce: one channel whatever the size.
    for (Collective c : {Collective::kReduceScatter, Collective::kAllGather, Collective::kBroadcast,
                         Collective::kReduce}) {
      s.coll = c;
      EXPECT_EQ(choose(m, s, {}, kMax).nchannels, 1) << collectiveName(c);
    }
    // Another algorithm: one channel.
    s.coll = Collective::kAllReduce;
    Overrides tree;
    tree.algo = "tree";
    const Choice t = choose(m, s, tree, kMax);
    EXPECT_EQ(t.algo, Algo::kTree);
    EXPECT_EQ(t.nchannels, 1);
    // Every rank on one host sharing memory: the window algorithms, one channel.
    s.sharedWindow = true;
    s.link = LinkClass::kShm;
    EXPECT_EQ(choose(m, s, {}, kMax).nchannels, 1);
  }
  // One channel connected: never more.
  Shape one = shapeOf(Collective::kAllReduce, size_t{1} << 30, 4);
  EXPECT_EQ(choose(m, one, ring, kMax).nchannels, 1);
  // The model's choice (no override) still gets the channels when it picks the ring.
  Shape big = shapeOf(Collective::kAllReduce, size_t{256} << 20, 16, false);
  big.channels = 4;
  const Choice c = choose(m, big, {}, kMax);
  EXPECT_EQ(c.nchannels, c.algo == Algo::kRing ? 4 : 1) << describeChoice(c);
}

TEST(Tuner, DirectOnlyWhereItCanRun) {
  const CostModel m = CostModel::defaults();
  // Without a full mesh, or past its scratch on more than two ranks, direct is never chosen.
  EXPECT_NE(choose(m, shapeOf(Collective::kAllReduce, 64, 16, false), {}, kMax).algo,
            Algo::kDirect);
  EXPECT_FALSE(
      algoAvailable(Algo::kDirect, shapeOf(Collective::kAllReduce, kDirectMaxBytes + 1, 4, true)));
  EXPECT_TRUE(algoAvailable(Algo::kDirect, shapeOf(Collective::kAllReduce, 64 << 20, 2, true)));
  // Small messages on a small mesh: one step wins.
  EXPECT_EQ(
      choose(m, shapeOf(Collective::kAllReduce, 1024, 4, true, LinkClass::kLoopback), {}, kMax)
          .algo,
      Algo::kDirect);
  // Two ranks on loopback: direct up to about 1 MiB, a two-step algorithm past it
  // (docs/performance.md).
  EXPECT_EQ(
      choose(m, shapeOf(Collective::kAllReduce, 256 << 10, 2, true, LinkClass::kLoopback), {}, kMax)
          .algo,
      Algo::kDirect);
  EXPECT_NE(
      choose(m, shapeOf(Collective::kAllReduce, 8 << 20, 2, true, LinkClass::kLoopback), {}, kMax)
          .algo,
      Algo::kDirect);
}

TEST(Tuner, ForcedAlgorithmAndFallback) {
  const CostModel m = CostModel::defaults();
  Overrides o;
  o.algo = "tree";
  Choice c = choose(m, shapeOf(Collective::kAllReduce, 64 << 20, 8), o, kMax);
  EXPECT_EQ(c.algo, Algo::kTree);
  EXPECT_TRUE(c.forcedAlgo);
  // Broadcast and Reduce have a tree on a full mesh only; ReduceScatter has none: the forced
  // tree falls back to the ring.
  EXPECT_EQ(choose(m, shapeOf(Collective::kBroadcast, 1024, 8), o, kMax).algo, Algo::kTree);
  EXPECT_EQ(choose(m, shapeOf(Collective::kReduce, 1024, 16, false), o, kMax).algo, Algo::kRing);
  EXPECT_EQ(choose(m, shapeOf(Collective::kReduceScatter, 1024, 8), o, kMax).algo, Algo::kRing);
  // The fallback is visible: the description names the algorithm that could not run.
  EXPECT_NE(describeChoice(choose(m, shapeOf(Collective::kReduceScatter, 1024, 8), o, kMax))
                .find("ring (BRAID_ALGO=tree cannot run this shape)"),
            std::string::npos);
  EXPECT_NE(describeChoice(c).find("tree (BRAID_ALGO),"), std::string::npos) << describeChoice(c);
  o.algo = "direct";
  EXPECT_EQ(choose(m, shapeOf(Collective::kAllReduce, 1 << 20, 16, false), o, kMax).algo,
            Algo::kRing);
  EXPECT_EQ(choose(m, shapeOf(Collective::kAllReduce, 1 << 20, 4, true), o, kMax).algo,
            Algo::kRing);  // past the direct scratch
  EXPECT_EQ(choose(m, shapeOf(Collective::kAllReduce, 1 << 10, 4, true), o, kMax).algo,
            Algo::kDirect);
  o.algo = "ring";
  EXPECT_EQ(choose(m, shapeOf(Collective::kAllReduce, 8, 64, false), o, kMax).algo, Algo::kRing);
}

TEST(Tuner, ChunkOverrideAndBound) {
  const CostModel m = slowNetwork();
  Overrides o;
  o.chunkBytes = 64 << 10;
  EXPECT_EQ(choose(m, shapeOf(Collective::kAllReduce, 64 << 20, 8), o, kMax).chunkBytes,
            size_t{64} << 10);
  // Never above the scratch slice.
  o.chunkBytes = 8 << 20;
  EXPECT_EQ(choose(m, shapeOf(Collective::kAllReduce, 64 << 20, 8), o, kMax).chunkBytes, kMax);
  // The pipelined tree wants chunks smaller than the slice on medium messages.
  const Choice c = choose(m, shapeOf(Collective::kAllReduce, 64 << 10, 32, false), {}, kMax);
  EXPECT_EQ(c.algo, Algo::kTree);
  EXPECT_LT(c.chunkBytes, kMax);
}

TEST(Tuner, BroadcastChainPipelinesWithSmallerChunksOnLongChains) {
  const CostModel m = slowNetwork();
  const Choice few = choose(m, shapeOf(Collective::kBroadcast, 16 << 20, 2), {}, kMax);
  const Choice many = choose(m, shapeOf(Collective::kBroadcast, 16 << 20, 8), {}, kMax);
  EXPECT_EQ(few.algo, Algo::kRing);
  EXPECT_LE(many.chunkBytes, few.chunkBytes);
  EXPECT_LT(many.chunkBytes, kMax);
}

TEST(Tuner, RingWithFewerElementsThanRanksSendsFewerMessages) {
  const CostModel m = slowNetwork();
  Shape two = shapeOf(Collective::kAllReduce, 8, 8);
  two.count = 2;
  Shape full = two;
  full.count = 8;
  EXPECT_LT(predictUs(m.of(LinkClass::kSocket), 0.25, Algo::kRing, two, kMax),
            predictUs(m.of(LinkClass::kSocket), 0.25, Algo::kRing, full, kMax));
}

TEST(Tuner, Monotone) {
  const CostModel m = slowNetwork();
  for (Algo a : {Algo::kRing, Algo::kTree}) {
    double last = 0;
    for (size_t bytes = 4; bytes <= (size_t{64} << 20); bytes *= 2) {
      const double t = predictUs(m.of(LinkClass::kSocket), 1, a,
                                 shapeOf(Collective::kAllReduce, bytes, 8), kMax);
      EXPECT_GE(t, last) << algoName(a) << " " << bytes;
      last = t;
    }
  }
  EXPECT_EQ(predictUs(m.of(LinkClass::kSocket), 1, Algo::kRing,
                      shapeOf(Collective::kAllReduce, 1 << 20, 1), kMax),
            0);
}

TEST(Tuner, OversubscribedCoresFavourFewerMessagesPerRank) {
  // Eight ranks sharing two cores (cpu share 0.25): direct's 14 messages per rank cost more
  // than the tree's three per hop, so small messages go to the tree; with a core per rank,
  // fewer steps win (direct's one, or recursive halving-doubling's 2 log2(n)).
  CostModel m = CostModel::defaults();
  m.of(LinkClass::kSocket) = {5.0, 0.118, 10.0, 8.0};
  m.cpuShare = 0.25;
  EXPECT_EQ(choose(m, shapeOf(Collective::kAllReduce, 512, 8), {}, kMax).algo, Algo::kTree);
  m.cpuShare = 1;
  const Algo own = choose(m, shapeOf(Collective::kAllReduce, 512, 8), {}, kMax).algo;
  EXPECT_TRUE(own == Algo::kDirect || own == Algo::kRabenseifner) << algoName(own);
}

TEST(Tuner, RabenseifnerOnlyOnAMeshAndForAllReduce) {
  const CostModel m = CostModel::defaults();
  EXPECT_TRUE(algoAvailable(Algo::kRabenseifner, shapeOf(Collective::kAllReduce, 1 << 20, 5)));
  EXPECT_FALSE(
      algoAvailable(Algo::kRabenseifner, shapeOf(Collective::kAllReduce, 1 << 20, 16, false)));
  EXPECT_FALSE(algoAvailable(Algo::kRabenseifner, shapeOf(Collective::kBroadcast, 1 << 20, 4)));
  Overrides o;
  o.algo = "rabenseifner";
  EXPECT_EQ(choose(m, shapeOf(Collective::kAllReduce, 1 << 20, 16, false), o, kMax).algo,
            Algo::kRing);
  EXPECT_EQ(choose(m, shapeOf(Collective::kAllReduce, 1 << 20, 8), o, kMax).algo,
            Algo::kRabenseifner);
  // The ring's bytes in 2 log2(8) = 6 steps instead of 14: it beats the ring on 8 ranks at
  // medium sizes (past them, its unpipelined steps lose to the ring's streaming).
  const Shape s = shapeOf(Collective::kAllReduce, 64 << 10, 8, true, LinkClass::kLoopback);
  EXPECT_LT(predictUs(m.of(s.link), 1, Algo::kRabenseifner, s, kMax),
            predictUs(m.of(s.link), 1, Algo::kRing, s, kMax));
  const Shape big = shapeOf(Collective::kAllReduce, 64 << 20, 8, true, LinkClass::kLoopback);
  EXPECT_GT(predictUs(m.of(big.link), 1, Algo::kRabenseifner, big, kMax),
            predictUs(m.of(big.link), 1, Algo::kRing, big, kMax));
}

TEST(Tuner, BroadcastTreeOnLongChainsChainOnTwoRanks) {
  const CostModel m = slowNetwork();
  EXPECT_EQ(choose(m, shapeOf(Collective::kBroadcast, 4096, 8), {}, kMax).algo, Algo::kTree);
  EXPECT_EQ(choose(m, shapeOf(Collective::kReduce, 4096, 8), {}, kMax).algo, Algo::kTree);
  EXPECT_EQ(choose(m, shapeOf(Collective::kBroadcast, 4096, 2), {}, kMax).algo, Algo::kRing);
  EXPECT_EQ(choose(m, shapeOf(Collective::kBroadcast, 4096, 16, false), {}, kMax).algo,
            Algo::kRing);
}

TEST(RootedTree, EveryRankReachedOnceFromAnyRoot) {
  for (int n = 1; n <= 9; ++n) {
    for (int root = 0; root < n; ++root) {
      std::vector<int> parentOf(static_cast<size_t>(n), -2);
      for (int r = 0; r < n; ++r) {
        const RootedTreeLinks l = rootedTreeLinks(n, r, root);
        EXPECT_EQ(l.parent < 0, r == root) << n << " " << root << " " << r;
        EXPECT_LE(l.children.size(), 2u);
        for (int c : l.children) {
          EXPECT_EQ(rootedTreeLinks(n, c, root).parent, r);
          EXPECT_EQ(parentOf[static_cast<size_t>(c)], -2) << "child twice";
          parentOf[static_cast<size_t>(c)] = r;
        }
      }
      for (int r = 0; r < n; ++r) EXPECT_EQ(parentOf[static_cast<size_t>(r)] == -2, r == root);
    }
  }
}

TEST(TunerCostFile, ParsesAndKeepsUnlisted) {
  CostModel m = CostModel::defaults();
  const LinkCost loop = m.of(LinkClass::kLoopback);
  ASSERT_TRUE(
      parseCostModel("# cluster\n\nsocket 120 0.125   # alpha, GB/s\nshm 1.5 12 25\n", "f.txt", &m)
          .isOk());
  EXPECT_DOUBLE_EQ(m.of(LinkClass::kSocket).alphaUs, 120);
  EXPECT_DOUBLE_EQ(m.of(LinkClass::kSocket).gbPerS, 0.125);
  EXPECT_DOUBLE_EQ(m.of(LinkClass::kSocket).reduceGbPerS,
                   CostModel::defaults().of(LinkClass::kSocket).reduceGbPerS);
  EXPECT_DOUBLE_EQ(m.of(LinkClass::kShm).reduceGbPerS, 25);
  EXPECT_DOUBLE_EQ(m.of(LinkClass::kLoopback).alphaUs, loop.alphaUs);
}

TEST(TunerCostFile, ErrorsNameFileAndLine) {
  CostModel m = CostModel::defaults();
  const CostModel before = m;
  Status s = parseCostModel("socket 1 2\nethernet 1 2\n", "c.txt", &m);
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("c.txt:2:"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("ethernet"), std::string::npos) << s.message();
  EXPECT_DOUBLE_EQ(m.of(LinkClass::kSocket).alphaUs, before.of(LinkClass::kSocket).alphaUs);
  s = parseCostModel("\nsocket 1\n", "c.txt", &m);
  EXPECT_NE(s.message().find("c.txt:2:"), std::string::npos) << s.message();
  s = parseCostModel("loopback 1 -2\n", "c.txt", &m);
  EXPECT_NE(s.message().find("c.txt:1: bandwidth"), std::string::npos) << s.message();
  s = parseCostModel("loopback 1 2 x\n", "c.txt", &m);
  EXPECT_NE(s.message().find("reduce"), std::string::npos) << s.message();
  s = parseCostModel("cpu_share 2\n", "c.txt", &m);
  EXPECT_NE(s.message().find("c.txt:1: expected 'cpu_share"), std::string::npos) << s.message();
  s = loadCostModel("/nonexistent/braid-cost", &m);
  EXPECT_NE(s.message().find("/nonexistent/braid-cost"), std::string::npos) << s.message();
}

TEST(TunerDescribe, OneLine) {
  Choice c;
  c.algo = Algo::kTree;
  c.chunkBytes = 64 << 10;
  c.predictedUs = 12.5;
  EXPECT_EQ(describeChoice(c), "tree, chunk 64 KiB, 1 channel, predicted 12.5 us");
}

}  // namespace
}  // namespace braid
