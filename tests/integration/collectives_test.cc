// Correctness of every collective through the public C API: dtypes x ops x counts x in place /
// out of place x nranks, element by element against a reference whose inputs make the result
// independent of the reduction order, plus bitwise identity across ranks.
#include "collectives.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "braid/braid.h"
#include "data.h"
#include "harness.h"

namespace braidtest {
namespace {

const std::vector<size_t> kCounts = {0, 1, 2, 3, 7, 1000, 4099, 65537};
const std::vector<size_t> kFewCounts = {0, 1, 7, 1000, 4099};
constexpr size_t kLarge = 1048579;

std::string DtName(const ::testing::TestParamInfo<std::tuple<int, braidDataType_t>>& info) {
  return "n" + std::to_string(std::get<0>(info.param)) + "_" + DtypeName(std::get<1>(info.param));
}
std::string NName(const ::testing::TestParamInfo<int>& info) {
  return "n" + std::to_string(info.param);
}

// ---- AllReduce: the full dtype x op x placement x count matrix for 1..4 ranks --------------

class AllReduceMatrix : public ::testing::TestWithParam<std::tuple<int, braidDataType_t>> {};

TEST_P(AllReduceMatrix, EveryOpPlacementAndCount) {
  const auto [nranks, dt] = GetParam();
  RunRanks(nranks, [dt = dt](RankContext& ctx) {
    uint64_t seed = 100;
    for (braidRedOp_t op : kAllOps) {
      for (bool in_place : {false, true}) {
        for (size_t count : kCounts) {
          CollCase c;
          c.dt = dt;
          c.op = op;
          c.count = count;
          c.in_place = in_place;
          c.seed = ++seed;
          c.misalign_elems = count % 2;
          CheckedAllReduce(ctx, c);
        }
      }
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, AllReduceMatrix,
                         ::testing::Combine(::testing::Values(1, 2, 3, 4),
                                            ::testing::ValuesIn(kAllDtypes)),
                         DtName);

// ---- AllReduce with more ranks than cores: a subset --------------------------------------

struct Combo {
  braidDataType_t dt;
  braidRedOp_t op;
};
const std::vector<Combo> kSubset = {
    {braidFloat32, braidSum}, {braidInt32, braidMax},   {braidBfloat16, braidAvg},
    {braidInt8, braidProd},   {braidUint64, braidMin},  {braidFloat16, braidSum},
    {braidFloat64, braidAvg}, {braidInt64, braidAvg},   {braidUint8, braidSum},
    {braidUint32, braidProd}, {braidFloat32, braidMin}, {braidInt8, braidAvg},
};

class AllReduceManyRanks : public ::testing::TestWithParam<int> {};

TEST_P(AllReduceManyRanks, Subset) {
  RunRanks(GetParam(), [](RankContext& ctx) {
    uint64_t seed = 500;
    int k = 0;
    for (const Combo& combo : kSubset) {
      for (size_t count : {size_t{0}, size_t{1}, size_t{3}, size_t{7}, size_t{1000}, size_t{4099},
                           size_t{65537}}) {
        CollCase c;
        c.dt = combo.dt;
        c.op = combo.op;
        c.count = count;
        c.in_place = (k++ % 2) == 1;
        c.seed = ++seed;
        CheckedAllReduce(ctx, c);
      }
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, AllReduceManyRanks, ::testing::Values(5, 7, 8), NName);

// ---- AllReduce of a large, odd count ----------------------------------------------------------

class AllReduceLarge : public ::testing::TestWithParam<int> {};

TEST_P(AllReduceLarge, OddMillion) {
  const int nranks = GetParam();
  RunRanks(nranks, [](RankContext& ctx) {
    CollCase c;
    c.count = kLarge;
    c.dt = braidFloat32;
    c.op = braidSum;
    c.seed = 900;
    CheckedAllReduce(ctx, c);
    if (ctx.nranks > 4) return;
    c.dt = braidInt8;
    c.op = braidMax;
    c.in_place = true;
    c.seed = 901;
    CheckedAllReduce(ctx, c);
    c.dt = braidBfloat16;
    c.op = braidAvg;
    c.in_place = false;
    c.misalign_elems = 1;
    c.seed = 902;
    CheckedAllReduce(ctx, c);
    c.dt = braidInt64;
    c.op = braidMin;
    c.in_place = true;
    c.misalign_elems = 0;
    c.seed = 903;
    CheckedAllReduce(ctx, c);
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, AllReduceLarge, ::testing::Values(2, 3, 4, 8), NName);

// ---- Inexact float sums: results must still be bitwise identical on every rank --------------

class AllReduceInexactFloats : public ::testing::TestWithParam<int> {};

TEST_P(AllReduceInexactFloats, BitwiseIdenticalAcrossRanks) {
  RunRanks(GetParam(), [](RankContext& ctx) {
    uint64_t seed = 1200;
    for (braidDataType_t dt : {braidFloat32, braidFloat16, braidBfloat16, braidFloat64}) {
      for (braidRedOp_t op : {braidSum, braidAvg}) {
        for (bool in_place : {false, true}) {
          CollCase c;
          c.dt = dt;
          c.op = op;
          c.count = 65537;
          c.in_place = in_place;
          c.random_floats = true;
          c.seed = ++seed;
          CheckedAllReduce(ctx, c);
        }
      }
    }
    CollCase c;
    c.dt = braidFloat32;
    c.op = braidSum;
    c.count = kLarge;
    c.random_floats = true;
    c.seed = 1299;
    CheckedAllReduce(ctx, c);
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, AllReduceInexactFloats, ::testing::Values(3, 5, 8), NName);

// ---- ReduceScatter / AllGather / Broadcast / Reduce ---------------------------------------

// Every dtype with sum and one other op; every op with float32 and int32.
std::vector<Combo> ReductionCombos() {
  std::vector<Combo> out;
  for (size_t i = 0; i < std::size(kAllDtypes); ++i) {
    out.push_back({kAllDtypes[i], braidSum});
    if (kAllDtypes[i] != braidFloat32 && kAllDtypes[i] != braidInt32) {
      out.push_back({kAllDtypes[i], kAllOps[1 + i % 4]});
    }
  }
  for (braidDataType_t dt : {braidFloat32, braidInt32}) {
    for (braidRedOp_t op : {braidProd, braidMax, braidMin, braidAvg}) out.push_back({dt, op});
  }
  return out;
}

class Collectives : public ::testing::TestWithParam<int> {
 protected:
  static const std::vector<size_t>& CountsFor(int nranks) {
    return nranks <= 4 ? kCounts : kFewCounts;
  }
};

TEST_P(Collectives, ReduceScatter) {
  const int nranks = GetParam();
  RunRanks(nranks, [](RankContext& ctx) {
    uint64_t seed = 2000;
    int k = 0;
    for (const Combo& combo : ReductionCombos()) {
      for (size_t count : CountsFor(ctx.nranks)) {
        for (bool in_place : {false, true}) {
          if (ctx.nranks > 4 && (k++ % 2) == 0) continue;
          CollCase c;
          c.dt = combo.dt;
          c.op = combo.op;
          c.count = count;
          c.in_place = in_place;
          c.seed = ++seed;
          c.misalign_elems = (count / 2) % 2;
          CheckedReduceScatter(ctx, c);
        }
      }
    }
  });
}

TEST_P(Collectives, AllGather) {
  const int nranks = GetParam();
  RunRanks(nranks, [](RankContext& ctx) {
    uint64_t seed = 3000;
    for (braidDataType_t dt : kAllDtypes) {
      for (size_t count : CountsFor(ctx.nranks)) {
        for (bool in_place : {false, true}) {
          CollCase c;
          c.dt = dt;
          c.count = count;
          c.in_place = in_place;
          c.seed = ++seed;
          c.misalign_elems = count % 2;
          CheckedAllGather(ctx, c);
        }
      }
    }
    if (ctx.nranks <= 4) {
      CollCase c;
      c.dt = braidInt8;
      c.count = kLarge;
      c.seed = 3999;
      CheckedAllGather(ctx, c);
    }
  });
}

TEST_P(Collectives, Broadcast) {
  const int nranks = GetParam();
  RunRanks(nranks, [](RankContext& ctx) {
    uint64_t seed = 4000;
    int k = 0;
    for (int root = 0; root < ctx.nranks; ++root) {
      for (braidDataType_t dt : kAllDtypes) {
        if (ctx.nranks > 4 && dt != braidFloat32 && dt != braidUint8 && dt != braidBfloat16) {
          continue;
        }
        for (size_t count : CountsFor(ctx.nranks)) {
          CollCase c;
          c.dt = dt;
          c.count = count;
          c.root = root;
          c.in_place = (k % 2) == 1;
          c.non_root = static_cast<NonRootBuffer>(k % 3);
          c.seed = ++seed;
          ++k;
          CheckedBroadcast(ctx, c);
        }
      }
    }
    CollCase c;
    c.dt = braidFloat32;
    c.count = kLarge;
    c.root = ctx.nranks - 1;
    c.seed = 4999;
    CheckedBroadcast(ctx, c);
  });
}

TEST_P(Collectives, Reduce) {
  const int nranks = GetParam();
  RunRanks(nranks, [](RankContext& ctx) {
    uint64_t seed = 5000;
    int k = 0;
    // Every root, a few types and counts.
    for (int root = 0; root < ctx.nranks; ++root) {
      for (Combo combo : {Combo{braidFloat32, braidSum}, Combo{braidInt32, braidMax}}) {
        for (size_t count : {size_t{1}, size_t{7}, size_t{4099}}) {
          for (bool in_place : {false, true}) {
            CollCase c;
            c.dt = combo.dt;
            c.op = combo.op;
            c.count = count;
            c.root = root;
            c.in_place = in_place;
            c.non_root = (k++ % 2) ? NonRootBuffer::kNull : NonRootBuffer::kBuffer;
            c.seed = ++seed;
            CheckedReduce(ctx, c);
          }
        }
      }
    }
    // Every reduction combo, at a root that rotates.
    int ci = 0;
    for (const Combo& combo : ReductionCombos()) {
      for (size_t count : {size_t{0}, size_t{3}, size_t{1000}, size_t{65537}}) {
        CollCase c;
        c.dt = combo.dt;
        c.op = combo.op;
        c.count = count;
        c.root = ci % ctx.nranks;
        c.in_place = (k % 2) == 0;
        c.non_root = (k % 3) ? NonRootBuffer::kBuffer : NonRootBuffer::kNull;
        c.misalign_elems = count % 2;
        c.seed = ++seed;
        ++k;
        CheckedReduce(ctx, c);
      }
      ++ci;
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, Collectives, ::testing::Values(1, 2, 3, 4, 5, 8), NName);

// ---- count == 0 with NULL buffers --------------------------------------------------------------

class ZeroCount : public ::testing::TestWithParam<int> {};

TEST_P(ZeroCount, NullBuffersSucceedForEveryCollective) {
  RunRanks(GetParam(), [](RankContext& ctx) {
    for (braidDataType_t dt : {braidFloat32, braidInt8, braidBfloat16}) {
      BT_CHECK_OK(ctx, braidAllReduce(nullptr, nullptr, 0, dt, braidSum, ctx.comm, nullptr));
      BT_CHECK_OK(ctx, braidAllReduce(nullptr, nullptr, 0, dt, braidAvg, ctx.comm, nullptr));
      BT_CHECK_OK(ctx, braidReduceScatter(nullptr, nullptr, 0, dt, braidMax, ctx.comm, nullptr));
      BT_CHECK_OK(ctx, braidAllGather(nullptr, nullptr, 0, dt, ctx.comm, nullptr));
      for (int root = 0; root < ctx.nranks; ++root) {
        BT_CHECK_OK(ctx, braidBroadcast(nullptr, nullptr, 0, dt, root, ctx.comm, nullptr));
        BT_CHECK_OK(ctx, braidReduce(nullptr, nullptr, 0, dt, braidSum, root, ctx.comm, nullptr));
      }
      braidRequest_t req = nullptr;
      BT_CHECK_OK(ctx, braidIAllReduce(nullptr, nullptr, 0, dt, braidSum, ctx.comm, &req));
      BT_CHECK(ctx, req != nullptr) << "braidIAllReduce(count=0) gave no request";
      if (req != nullptr) {
        int done = 0;
        BT_CHECK_OK(ctx, braidTest(req, &done));
        BT_CHECK_OK(ctx, braidWait(req));
      }
    }
    SanityAllReduce(ctx, ctx.comm, 1000, 77, "after the count==0 calls");
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, ZeroCount, ::testing::Values(1, 2, 3), NName);

// ---- Many back-to-back collectives of random sizes -----------------------------------------

class RandomSequence : public ::testing::TestWithParam<int> {};

TEST_P(RandomSequence, TwoHundredAllReduces) {
  RunRanks(GetParam(), [](RankContext& ctx) {
    std::mt19937_64 rng(12345);  // same seed on every rank: same sequence of calls
    for (int i = 0; i < 200; ++i) {
      CollCase c;
      c.dt = kAllDtypes[rng() % std::size(kAllDtypes)];
      c.op = kAllOps[rng() % std::size(kAllOps)];
      c.count = rng() % 100001;
      c.in_place = (rng() % 2) == 1;
      c.misalign_elems = rng() % 3;
      c.seed = 7000 + static_cast<uint64_t>(i);
      CheckedAllReduce(ctx, c);
      if (ctx.failures() > 10) return;
    }
  });
}

TEST_P(RandomSequence, MixedCollectives) {
  RunRanks(GetParam(), [](RankContext& ctx) {
    std::mt19937_64 rng(777);
    for (int i = 0; i < 120; ++i) {
      CollCase c;
      c.dt = kAllDtypes[rng() % std::size(kAllDtypes)];
      c.op = kAllOps[rng() % std::size(kAllOps)];
      c.count = rng() % 30001;
      c.in_place = (rng() % 2) == 1;
      c.root = static_cast<int>(rng() % static_cast<uint64_t>(ctx.nranks));
      c.non_root = static_cast<NonRootBuffer>(rng() % 3);
      c.seed = 8000 + static_cast<uint64_t>(i);
      switch (rng() % 5) {
        case 0:
          CheckedAllReduce(ctx, c);
          break;
        case 1:
          CheckedReduceScatter(ctx, c);
          break;
        case 2:
          CheckedAllGather(ctx, c);
          break;
        case 3:
          CheckedBroadcast(ctx, c);
          break;
        default:
          if (c.non_root == NonRootBuffer::kSameAsOther) c.non_root = NonRootBuffer::kBuffer;
          CheckedReduce(ctx, c);
          break;
      }
      if (ctx.failures() > 10) return;
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, RandomSequence, ::testing::Values(3, 4), NName);

}  // namespace
}  // namespace braidtest
