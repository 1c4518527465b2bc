// NaN, +-Inf, subnormals and overflow through every float dtype and op, and integer
// wraparound through every integer dtype and op, for AllReduce, ReduceScatter and Reduce.
//
// The inputs are chosen so that the result does not depend on the order in which the ranks'
// values are combined (each algorithm combines them in its own order, and 16-bit partial
// results are rounded to storage at every hop): sums of small multiples of a subnormal are
// exact; products have at most factors of magnitude >= 1 next to an overflowing value and no
// zero next to an infinity; max / min propagate NaN (the library's documented rule, see
// src/reduce/reduce.cc). The reference folds in double and rounds once to the dtype. Results
// are compared bit for bit, except that any NaN matches any NaN (the sign and payload of a NaN
// made by Inf - Inf are the hardware's); the parent also checks that every rank's AllReduce
// result is bitwise identical.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "braid/braid.h"
#include "data.h"
#include "harness.h"

namespace braidtest {
namespace {

uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

size_t Pick(uint64_t seed, int rank, size_t index, size_t n) {
  return static_cast<size_t>(
      Mix(seed * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(rank) * 0x100000001b3ull + index) %
      n);
}

struct FloatLimits {
  double min_sub, max_sub, max_finite;
};

FloatLimits LimitsOf(braidDataType_t dt) {
  switch (dt) {
    case braidFloat16:
      return {std::ldexp(1.0, -24), 1023 * std::ldexp(1.0, -24), 65504.0};
    case braidBfloat16:
      return {std::ldexp(1.0, -133), 127 * std::ldexp(1.0, -133),
              std::ldexp(255.0, 120)};  // 0x7f7f
    case braidFloat32:
      return {std::numeric_limits<float>::denorm_min(),
              std::numeric_limits<float>::min() - std::numeric_limits<float>::denorm_min(),
              std::numeric_limits<float>::max()};
    default:
      return {std::numeric_limits<double>::denorm_min(),
              std::numeric_limits<double>::min() - std::numeric_limits<double>::denorm_min(),
              std::numeric_limits<double>::max()};
  }
}

// The input of `rank` at `index` for a float dtype. Element classes (index % 3): specials,
// subnormals, values at the overflow limit; each op gets an alphabet per class for which every
// combination order gives the same result.
double FloatInput(braidDataType_t dt, braidRedOp_t op, uint64_t seed, int rank, size_t index) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const FloatLimits l = LimitsOf(dt);
  const bool select = op == braidMax || op == braidMin;
  const bool narrow = dt == braidFloat16 || dt == braidBfloat16;
  size_t cls = index % 3;
  // avg of 16-bit values near the overflow limit depends on whether a partial sum was rounded
  // to 16 bits before the division (it is computed in float32): not order-free, so not here.
  if (cls == 2 && op == braidAvg && narrow) cls = 0;
  std::vector<double> alphabet;
  if (cls == 0) {
    alphabet = {nan, inf, -inf, 1.0, -1.0, 0.0, 2.0};
    if (!select) alphabet.push_back(-0.0);  // max/min of +0 and -0 is order-dependent
  } else if (cls == 1) {
    if (op == braidProd) {
      // Two subnormals underflow to +-0 whatever comes next (only +-1 besides them).
      alphabet = {l.min_sub, -l.min_sub, l.max_sub, -l.max_sub, 1.0, -1.0, 0.0};
    } else if (select) {
      alphabet = {0.0, l.min_sub, -l.min_sub, l.max_sub, -l.max_sub, 1.0, -1.0};
    } else {
      alphabet = {0.0, l.min_sub, -l.min_sub, 2 * l.min_sub, -2 * l.min_sub, 3 * l.min_sub};
      if (rank == 0) {
        alphabet.push_back(l.max_sub);  // + a few min_sub stays exact (crosses into normals)
        alphabet.push_back(-l.max_sub);
      }
    }
  } else {
    if (op == braidProd) {
      alphabet = {l.max_finite, -l.max_finite, 2.0, 1.0, -1.0};  // |x| >= 1: monotone
    } else if (select) {
      alphabet = {l.max_finite, -l.max_finite, 0.0, 1.0, inf};
    } else {
      alphabet = {l.max_finite, l.max_finite / 2, 0.0};  // positive: monotone partial sums
    }
  }
  return alphabet[Pick(seed, rank, index, alphabet.size())];
}

// Integer inputs: full range, with the extremes and -1 / 0 / 1 common.
__int128 IntInput(braidDataType_t dt, uint64_t seed, int rank, size_t index) {
  const uint64_t r = Mix(seed ^ (static_cast<uint64_t>(rank) << 40) ^ (index * 0x9e37ull));
  const unsigned bits = static_cast<unsigned>(DtypeSize(dt) * 8);
  const bool sgn = IsSignedType(dt);
  const __int128 lo = sgn ? -(static_cast<__int128>(1) << (bits - 1)) : 0;
  const __int128 hi =
      sgn ? (static_cast<__int128>(1) << (bits - 1)) - 1 : (static_cast<__int128>(1) << bits) - 1;
  switch (r % 6) {
    case 0:
      return lo;
    case 1:
      return hi;
    case 2:
      return sgn ? -1 : 1;
    default: {
      const unsigned __int128 span = static_cast<unsigned __int128>(hi - lo) + 1;
      return lo + static_cast<__int128>(static_cast<unsigned __int128>(Mix(r)) % span);
    }
  }
}

// Two's complement wrap of v into dt.
__int128 Wrap(braidDataType_t dt, __int128 v) {
  const unsigned bits = static_cast<unsigned>(DtypeSize(dt) * 8);
  const unsigned __int128 mask = (static_cast<unsigned __int128>(1) << bits) - 1;
  unsigned __int128 u = static_cast<unsigned __int128>(v) & mask;
  if (IsSignedType(dt) && (u >> (bits - 1)) != 0) {
    return static_cast<__int128>(u) - static_cast<__int128>(mask) - 1;
  }
  return static_cast<__int128>(u);
}

Val Input(braidDataType_t dt, braidRedOp_t op, uint64_t seed, int rank, size_t index) {
  Val v;
  if (IsFloatType(dt)) {
    v.f = FloatInput(dt, op, seed, rank, index);
  } else {
    v.i = IntInput(dt, seed, rank, index);
  }
  return v;
}

// Writes op over ranks of Input(...) into out[index - offset], in dt.
void Expected(braidDataType_t dt, braidRedOp_t op, uint64_t seed, int nranks, size_t offset,
              size_t count, void* out) {
  for (size_t k = 0; k < count; ++k) {
    const size_t index = offset + k;
    Val acc = Input(dt, op, seed, 0, index);
    bool nan = IsFloatType(dt) && std::isnan(acc.f);
    for (int r = 1; r < nranks; ++r) {
      const Val x = Input(dt, op, seed, r, index);
      if (IsFloatType(dt)) {
        nan = nan || std::isnan(x.f);
        switch (op) {
          case braidSum:
          case braidAvg:
            acc.f += x.f;
            break;
          case braidProd:
            acc.f *= x.f;
            break;
          case braidMax:
            acc.f = std::isnan(acc.f) || acc.f > x.f ? acc.f : x.f;
            break;
          case braidMin:
            acc.f = std::isnan(acc.f) || acc.f < x.f ? acc.f : x.f;
            break;
        }
      } else {
        switch (op) {
          case braidSum:
          case braidAvg:
            acc.i = Wrap(dt, acc.i + x.i);
            break;
          case braidProd: {
            // Modular product without signed overflow: in unsigned 128-bit, then wrapped.
            const unsigned __int128 p =
                static_cast<unsigned __int128>(acc.i) * static_cast<unsigned __int128>(x.i);
            acc.i = Wrap(dt, static_cast<__int128>(p));
            break;
          }
          case braidMax:
            acc.i = acc.i > x.i ? acc.i : x.i;
            break;
          case braidMin:
            acc.i = acc.i < x.i ? acc.i : x.i;
            break;
        }
      }
    }
    if (op == braidAvg) {
      if (!IsFloatType(dt)) {
        acc.i = acc.i / nranks;  // the wrapped sum, truncated toward zero
      } else if (dt == braidFloat64) {
        acc.f = acc.f / nranks;
      } else {
        // Divided in float32 (the sum is exact in float32 for these inputs).
        acc.f = static_cast<double>(static_cast<float>(acc.f) / static_cast<float>(nranks));
      }
    }
    if (nan) acc.f = std::numeric_limits<double>::quiet_NaN();
    StoreVal(dt, out, k, acc);
  }
}

bool IsNanAt(braidDataType_t dt, const void* base, size_t k) {
  return IsFloatType(dt) && std::isnan(LoadVal(dt, base, k).f);
}

// Bit for bit, except NaN == NaN.
void CheckBits(RankContext& ctx, const std::string& label, braidDataType_t dt, const void* got,
               const void* expected, size_t count) {
  const size_t sz = DtypeSize(dt);
  size_t bad = 0;
  std::ostringstream os;
  for (size_t k = 0; k < count; ++k) {
    const auto* g = static_cast<const unsigned char*>(got) + k * sz;
    const auto* e = static_cast<const unsigned char*>(expected) + k * sz;
    if (std::memcmp(g, e, sz) == 0) continue;
    if (IsNanAt(dt, expected, k) && IsNanAt(dt, got, k)) continue;
    if (bad < 4) {
      os << " [" << k << "] expected " << FormatElem(dt, expected, k) << " got "
         << FormatElem(dt, got, k) << ";";
    }
    ++bad;
  }
  BT_CHECK(ctx, bad == 0) << label << ": " << bad << " of " << count
                          << " elements wrong:" << os.str();
}

void Fill(braidDataType_t dt, braidRedOp_t op, uint64_t seed, int rank, size_t count, void* out) {
  for (size_t k = 0; k < count; ++k) StoreVal(dt, out, k, Input(dt, op, seed, rank, k));
}

std::string Label(const char* coll, braidDataType_t dt, braidRedOp_t op, int nranks) {
  return std::string(coll) + "(" + DtypeName(dt) + " " + OpName(op) +
         " nranks=" + std::to_string(nranks) + ")";
}

void RunEdgeCases(RankContext& ctx) {
  constexpr size_t kPer = 201;  // per rank for ReduceScatter; AllReduce / Reduce use kPer * n
  const size_t n = static_cast<size_t>(ctx.nranks);
  const size_t count = kPer * n;
  uint64_t seed = 31;
  for (braidDataType_t dt : kAllDtypes) {
    const size_t sz = DtypeSize(dt);
    for (braidRedOp_t op : kAllOps) {
      ++seed;
      std::vector<unsigned char> send(count * sz), recv(count * sz), expected(count * sz);
      Fill(dt, op, seed, ctx.rank, count, send.data());
      Expected(dt, op, seed, ctx.nranks, 0, count, expected.data());

      std::string label = Label("AllReduce", dt, op, ctx.nranks);
      BT_CHECK_OK(ctx, braidAllReduce(send.data(), recv.data(), count, dt, op, ctx.comm, nullptr))
          << label;
      CheckBits(ctx, label, dt, recv.data(), expected.data(), count);
      ctx.ReportHash(label, recv.data(), recv.size());

      label = Label("Reduce", dt, op, ctx.nranks);
      const int root = ctx.nranks - 1;
      std::fill(recv.begin(), recv.end(), 0);
      BT_CHECK_OK(ctx,
                  braidReduce(send.data(), recv.data(), count, dt, op, root, ctx.comm, nullptr))
          << label;
      if (ctx.rank == root) CheckBits(ctx, label, dt, recv.data(), expected.data(), count);

      label = Label("ReduceScatter", dt, op, ctx.nranks);
      std::fill(recv.begin(), recv.end(), 0);
      BT_CHECK_OK(ctx,
                  braidReduceScatter(send.data(), recv.data(), kPer, dt, op, ctx.comm, nullptr))
          << label;
      CheckBits(ctx, label, dt, recv.data(),
                expected.data() + static_cast<size_t>(ctx.rank) * kPer * sz, kPer);
      if (ctx.failures() > 0) return;
    }
  }
}

class EdgeValues : public ::testing::TestWithParam<int> {};

TEST_P(EdgeValues, NanInfSubnormalsAndWraparound) {
  RunOptions opts;
  opts.timeout_ms = 180000;
  RunRanks(GetParam(), RunEdgeCases, opts);
}

INSTANTIATE_TEST_SUITE_P(Ranks, EdgeValues, ::testing::Values(2, 3, 5),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return "n" + std::to_string(p.param);
                         });

// The reference's own premises, checked locally: NaN propagates through max/min in either
// operand order, and integer sums wrap.
TEST(EdgeValuesReference, Premises) {
  EXPECT_EQ(Wrap(braidInt8, 127 + 1), -128);
  EXPECT_EQ(Wrap(braidUint8, 255 + 2), 1);
  EXPECT_EQ(Wrap(braidInt32, static_cast<__int128>(INT32_MAX) * 2), -2);
  std::vector<unsigned char> out(4);
  // rank 0 NaN at a specials index, other ranks finite: result NaN for max.
  bool found = false;
  for (size_t i = 0; i < 300 && !found; i += 3) {
    if (std::isnan(FloatInput(braidFloat32, braidMax, 5, 1, i)) &&
        !std::isnan(FloatInput(braidFloat32, braidMax, 5, 0, i))) {
      Expected(braidFloat32, braidMax, 5, 2, i, 1, out.data());
      EXPECT_TRUE(IsNanAt(braidFloat32, out.data(), 0));
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace braidtest
