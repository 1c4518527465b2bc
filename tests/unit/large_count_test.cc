// Counts and sizes past 32 bits through the tuner's arithmetic (algo/tuner.h): for every
// collective, algorithm, link and rank count, sizes from 2^31 - 1 to 2^50 bytes give a chunk
// within bounds and a finite prediction that grows with the size (a size cut to 32 bits
// somewhere would make a larger message look cheaper). The data path itself runs past 2^31
// elements in tests/integration/large/large_count_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "algo/tuner.h"

namespace braid {
namespace {

TEST(LargeCountTuner, ChunksAndPredictionsPast32Bits) {
  const CostModel model = CostModel::defaults();
  constexpr size_t kMaxChunk = size_t{1} << 20;
  const size_t sizes[] = {(size_t{1} << 31) - 1, size_t{1} << 31, (size_t{1} << 32) + 1,
                          size_t{1} << 40, size_t{1} << 50};
  for (Collective coll : {Collective::kAllReduce, Collective::kReduceScatter,
                          Collective::kAllGather, Collective::kBroadcast, Collective::kReduce}) {
    for (int n : {2, 3, 16}) {
      for (LinkClass link : {LinkClass::kSocket, LinkClass::kLoopback, LinkClass::kShm}) {
        for (const char* algo : {"", "ring", "tree", "direct", "rabenseifner"}) {
          double previous = 0;
          for (size_t bytes : sizes) {
            Shape s;
            s.coll = coll;
            s.bytes = bytes;
            s.count = bytes;  // int8
            s.nranks = n;
            s.meshConnected = n <= kMeshMaxRanks;
            s.link = link;
            s.sharedWindow = link == LinkClass::kShm;
            Overrides o;
            o.algo = algo;
            const Choice c = choose(model, s, o, kMaxChunk);
            const std::string what = std::string(collectiveName(coll)) + " n=" + std::to_string(n) +
                                     " " + linkClassName(link) + " algo='" + algo +
                                     "' bytes=" + std::to_string(bytes) + ": " + describeChoice(c);
            EXPECT_GT(c.chunkBytes, 0u) << what;
            EXPECT_LE(c.chunkBytes, kMaxChunk) << what;
            EXPECT_GE(c.nchannels, 1) << what;
            EXPECT_TRUE(std::isfinite(c.predictedUs) && c.predictedUs > 0) << what;
            EXPECT_GE(c.predictedUs, previous) << what;
            previous = c.predictedUs;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace braid
