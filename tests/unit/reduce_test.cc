// Tests of src/reduce: every dtype x op x aliasing mode against references computed here
// independently (integers in __int128 wrapped by hand, floats in double, float16/bfloat16
// decoded with ldexp and rounded with nearbyint), plus conversion and wrap-around corner cases.
#include "reduce/reduce.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace braid {
namespace {

static_assert(std::endian::native == std::endian::little, "the references assume little endian");

// ---- independent references for the 16-bit formats ------------------------------------------

// Decodes a binary16-like format with `expBits` exponent and `mantBits` mantissa bits.
double refDecode(uint16_t bits, int expBits, int mantBits) {
  const int bias = (1 << (expBits - 1)) - 1;
  const int expMax = (1 << expBits) - 1;
  const bool negative = (bits >> 15) != 0;
  const int exp = (bits >> mantBits) & expMax;
  const int mant = bits & ((1 << mantBits) - 1);
  double value;
  if (exp == expMax) {
    value = mant == 0 ? std::numeric_limits<double>::infinity()
                      : std::numeric_limits<double>::quiet_NaN();
  } else if (exp == 0) {
    value = std::ldexp(static_cast<double>(mant), 1 - bias - mantBits);
  } else {
    value = std::ldexp(static_cast<double>(mant + (1 << mantBits)), exp - bias - mantBits);
  }
  return negative ? -value : value;
}

// Rounds a non-NaN double to the format, to nearest even, by scaling its binade's ulp to 1
// and calling nearbyint (default rounding mode: to nearest even).
uint16_t refEncode(double x, int expBits, int mantBits) {
  const int bias = (1 << (expBits - 1)) - 1;
  const int expMax = (1 << expBits) - 1;
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(x);
  const uint16_t inf = static_cast<uint16_t>(sign | (expMax << mantBits));
  if (std::isinf(a)) return inf;
  const int minNormalExp = 1 - bias;
  if (a < std::ldexp(1.0, minNormalExp)) {  // subnormal (or rounds up to the smallest normal)
    const double q = std::nearbyint(std::ldexp(a, mantBits - minNormalExp));
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(q));
  }
  int e = std::ilogb(a);
  double q = std::nearbyint(std::ldexp(a, mantBits - e));  // in [2^m, 2^(m+1)]
  if (q == std::ldexp(1.0, mantBits + 1)) {
    q = std::ldexp(1.0, mantBits);
    ++e;
  }
  if (e + bias >= expMax) return inf;
  const int mant = static_cast<int>(q) - (1 << mantBits);
  return static_cast<uint16_t>(sign | ((e + bias) << mantBits) | mant);
}

double refHalfToDouble(uint16_t h) { return refDecode(h, 5, 10); }
uint16_t refDoubleToHalf(double x) { return refEncode(x, 5, 10); }
double refBf16ToDouble(uint16_t b) { return refDecode(b, 8, 7); }
uint16_t refDoubleToBf16(double x) { return refEncode(x, 8, 7); }

bool isHalfNan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }
bool isBf16Nan(uint16_t b) { return (b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0; }

float floatFromBits(uint32_t u) { return std::bit_cast<float>(u); }

// ---- per-dtype reference element operations ------------------------------------------------

enum class Stage { kReduce, kFinal, kFinish };

// Truncating division toward zero done on magnitudes, not with C++'s signed division.
__int128 truncDiv(__int128 s, int n) {
  const __int128 q = (s < 0 ? -s : s) / n;
  return s < 0 ? -q : q;
}

template <typename T>
struct IntType {
  using S = T;
  // Reduces v modulo 2^bits and reinterprets the low bytes as T.
  static T wrap(__int128 v) {
    const auto low = static_cast<unsigned __int128>(v);
    T t;
    std::memcpy(&t, &low, sizeof(T));
    return t;
  }
  static T random(std::mt19937_64& rng) {
    const uint64_t r = rng();
    T t;
    std::memcpy(&t, &r, sizeof(T));
    return t;
  }
  static T ref(braidRedOp_t op, Stage stage, T a, T b, int nranks) {
    const __int128 x = a;
    const __int128 y = b;
    if (stage == Stage::kFinish) {
      return op == braidAvg ? wrap(truncDiv(x, nranks)) : a;
    }
    switch (op) {
      case braidSum:
        return wrap(x + y);
      case braidProd:  // unsigned: uint64 * uint64 does not fit a signed __int128
        return wrap(static_cast<__int128>(static_cast<unsigned __int128>(x) *
                                          static_cast<unsigned __int128>(y)));
      case braidMax:
        return x > y ? a : b;
      case braidMin:
        return x < y ? a : b;
      case braidAvg: {
        const T sum = wrap(x + y);
        return stage == Stage::kFinal ? wrap(truncDiv(sum, nranks)) : sum;
      }
    }
    return 0;
  }
  static bool same(T expected, T got) { return expected == got; }
  static std::string show(T v) { return std::to_string(static_cast<long long>(v)); }
};

// float and double: the reference computes in double and rounds to T. For float operands the
// double result of +, *, / rounded to float equals the float operation (double rounding is
// innocuous since 53 >= 2 * 24 + 2), so the comparison is exact.
template <typename T>
struct FloatType {
  using S = T;
  static T random(std::mt19937_64& rng) {
    std::uniform_real_distribution<double> mantissa(-2.0, 2.0);
    std::uniform_int_distribution<int> exponent(-30, 30);
    const uint64_t pick = rng() % 64;
    if (pick == 0) return static_cast<T>(0.0);
    if (pick == 1) return static_cast<T>(-0.0);
    if (pick == 2) return std::numeric_limits<T>::infinity();
    if (pick == 3) return std::numeric_limits<T>::quiet_NaN();
    return static_cast<T>(std::ldexp(mantissa(rng), exponent(rng)));
  }
  static T ref(braidRedOp_t op, Stage stage, T a, T b, int nranks) {
    const double x = a;
    const double y = b;
    if (stage == Stage::kFinish) {
      return op == braidAvg ? static_cast<T>(x / nranks) : a;
    }
    switch (op) {
      case braidSum:
        return static_cast<T>(x + y);
      case braidProd:
        return static_cast<T>(x * y);
      case braidMax:
        return x > y || std::isnan(x) ? a : b;  // documented: NaN in either operand wins
      case braidMin:
        return x < y || std::isnan(x) ? a : b;
      case braidAvg: {
        const T sum = static_cast<T>(x + y);
        return stage == Stage::kFinal ? static_cast<T>(static_cast<double>(sum) / nranks) : sum;
      }
    }
    return 0;
  }
  static bool same(T expected, T got) {
    if (std::isnan(expected)) return std::isnan(got);
    return std::memcmp(&expected, &got, sizeof(T)) == 0;  // also tells -0 from +0
  }
  static std::string show(T v) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%a", static_cast<double>(v));
    return buf;
  }
};

// float16 / bfloat16: the result must be the correctly rounded value of the float32
// computation on the decoded operands; max/min return an operand's bits.
template <bool kHalf>
struct SixteenType {
  using S = uint16_t;
  static double decode(uint16_t v) { return kHalf ? refHalfToDouble(v) : refBf16ToDouble(v); }
  static uint16_t encode(float f) { return kHalf ? refDoubleToHalf(f) : refDoubleToBf16(f); }
  static bool isNan(uint16_t v) { return kHalf ? isHalfNan(v) : isBf16Nan(v); }
  static uint16_t random(std::mt19937_64& rng) {
    const uint64_t r = rng();
    if (r % 4 != 0) return static_cast<uint16_t>(r >> 8);  // any bit pattern
    // Values near 1 so that sums and products stay finite and round often.
    return encode(static_cast<float>(std::ldexp(static_cast<double>((r >> 8) % 4096), -11)) *
                  ((r >> 40) % 2 ? 1.0f : -1.0f));
  }
  static uint16_t ref(braidRedOp_t op, Stage stage, uint16_t a, uint16_t b, int nranks) {
    const double x = decode(a);
    const double y = decode(b);
    if (stage == Stage::kFinish) {
      if (op != braidAvg) return a;
      return toBits(static_cast<float>(x / nranks));
    }
    switch (op) {
      case braidSum:
        return toBits(static_cast<float>(x + y));
      case braidProd:
        return toBits(static_cast<float>(x * y));
      case braidMax:
        return x > y || std::isnan(x) ? a : b;
      case braidMin:
        return x < y || std::isnan(x) ? a : b;
      case braidAvg: {
        const float sum = static_cast<float>(x + y);
        if (stage == Stage::kReduce) return toBits(sum);
        return toBits(static_cast<float>(static_cast<double>(sum) / nranks));
      }
    }
    return 0;
  }
  static uint16_t toBits(float f) { return std::isnan(f) ? (kHalf ? 0x7e00 : 0x7fc0) : encode(f); }
  static bool same(uint16_t expected, uint16_t got) {
    if (isNan(expected)) return isNan(got);
    return expected == got;
  }
  static std::string show(uint16_t v) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "0x%04x (%a)", v, decode(v));
    return buf;
  }
};

template <braidDataType_t D>
struct TypeOf;
template <>
struct TypeOf<braidInt8> : IntType<int8_t> {};
template <>
struct TypeOf<braidUint8> : IntType<uint8_t> {};
template <>
struct TypeOf<braidInt32> : IntType<int32_t> {};
template <>
struct TypeOf<braidUint32> : IntType<uint32_t> {};
template <>
struct TypeOf<braidInt64> : IntType<int64_t> {};
template <>
struct TypeOf<braidUint64> : IntType<uint64_t> {};
template <>
struct TypeOf<braidFloat16> : SixteenType<true> {};
template <>
struct TypeOf<braidFloat32> : FloatType<float> {};
template <>
struct TypeOf<braidFloat64> : FloatType<double> {};
template <>
struct TypeOf<braidBfloat16> : SixteenType<false> {};

// ---- the dtype x op x aliasing sweep -------------------------------------------------------

enum class Alias { kSeparate, kOutIsA, kOutIsB, kAllSame, kInputsSame };
constexpr Alias kAliases[] = {Alias::kSeparate, Alias::kOutIsA, Alias::kOutIsB, Alias::kAllSame,
                              Alias::kInputsSame};
const char* aliasName(Alias a) {
  switch (a) {
    case Alias::kSeparate:
      return "separate";
    case Alias::kOutIsA:
      return "out==a";
    case Alias::kOutIsB:
      return "out==b";
    case Alias::kAllSame:
      return "out==a==b";
    case Alias::kInputsSame:
      return "a==b";
  }
  return "?";
}

constexpr size_t kCounts[] = {0, 1, 2, 3, 7, 15, 16, 17, 1000, 4099};
constexpr int kNranks[] = {1, 2, 3, 8, 255, 65537};
constexpr size_t kGuard = 8;  // elements after the range that must stay untouched

template <braidDataType_t D>
void checkAll(braidRedOp_t op, ReduceIsa isa) {
  using Ty = TypeOf<D>;
  using S = typename Ty::S;
  const ReduceFn reduce = getReduceFn(D, op, isa);
  const ReduceFinalFn reduceFinal = getReduceFinalFn(D, op, isa);
  const FinishFn finish = getFinishFn(D, op, isa);
  ASSERT_NE(reduce, nullptr);
  ASSERT_NE(reduceFinal, nullptr);
  ASSERT_NE(finish, nullptr);
  std::mt19937_64 rng(1234 + 97 * D + op);
  const S sentinel = Ty::random(rng);

  for (size_t count : kCounts) {
    for (size_t offset : {size_t{0}, size_t{1}}) {  // offset 1: misaligned for vector loads
      std::vector<S> a(offset + count + kGuard, sentinel);
      std::vector<S> b(offset + count + kGuard, sentinel);
      for (size_t i = 0; i < count; ++i) {
        a[offset + i] = Ty::random(rng);
        b[offset + i] = Ty::random(rng);
      }
      for (Stage stage : {Stage::kReduce, Stage::kFinal, Stage::kFinish}) {
        for (int nranks : kNranks) {
          if (stage == Stage::kReduce && nranks != 1) continue;  // nranks is unused there
          for (Alias alias : kAliases) {
            if (stage == Stage::kFinish && alias != Alias::kSeparate) continue;
            std::vector<S> out(offset + count + kGuard, sentinel);
            std::vector<S> ina = a;
            std::vector<S> inb = b;
            S* o = out.data() + offset;
            const S* pa = ina.data() + offset;
            const S* pb = inb.data() + offset;
            // Reference operands as the kernel sees them.
            const std::vector<S>* refA = &a;
            const std::vector<S>* refB = &b;
            switch (alias) {
              case Alias::kSeparate:
                break;
              case Alias::kOutIsA:
                o = ina.data() + offset;
                break;
              case Alias::kOutIsB:
                o = inb.data() + offset;
                break;
              case Alias::kAllSame:
                o = ina.data() + offset;
                pb = pa;
                refB = &a;
                break;
              case Alias::kInputsSame:
                pb = pa;
                refB = &a;
                break;
            }
            if (stage == Stage::kReduce) {
              reduce(o, pa, pb, count);
            } else if (stage == Stage::kFinal) {
              reduceFinal(o, pa, pb, count, nranks);
            } else {
              std::copy(a.begin(), a.end(), out.begin());
              finish(o, count, nranks);
            }
            const S* result = o;
            for (size_t i = 0; i < count; ++i) {
              const S x = (*refA)[offset + i];
              const S y = (*refB)[offset + i];
              const S expected = Ty::ref(op, stage, x, y, nranks);
              if (!Ty::same(expected, result[i])) {
                ADD_FAILURE() << dataTypeName(D) << " " << redOpName(op) << " stage "
                              << static_cast<int>(stage) << " " << aliasName(alias) << " count "
                              << count << " offset " << offset << " nranks " << nranks << " i " << i
                              << ": a=" << Ty::show(x) << " b=" << Ty::show(y) << " expected "
                              << Ty::show(expected) << " got " << Ty::show(result[i]);
                return;
              }
            }
            // Nothing past count was written, in whichever buffer is the output.
            const S* base = o - offset;
            for (size_t i = offset + count; i < offset + count + kGuard; ++i) {
              if (!Ty::same(sentinel, base[i])) {
                ADD_FAILURE() << dataTypeName(D) << " " << redOpName(op) << " " << aliasName(alias)
                              << " count " << count << ": wrote past the end at " << i;
                return;
              }
            }
            if (offset == 1 && !Ty::same(sentinel, base[0])) {
              ADD_FAILURE() << dataTypeName(D) << " " << redOpName(op) << " " << aliasName(alias)
                            << ": wrote before the start";
              return;
            }
            // An input that is not the output is left alone.
            if (alias == Alias::kSeparate || alias == Alias::kInputsSame) {
              for (size_t i = 0; i < count; ++i) {
                if (!Ty::same(a[offset + i], ina[offset + i]) ||
                    !Ty::same(b[offset + i], inb[offset + i])) {
                  ADD_FAILURE() << "input modified at " << i;
                  return;
                }
              }
            }
          }
        }
      }
    }
  }
}

std::vector<ReduceIsa> supportedIsas() {
  std::vector<ReduceIsa> isas;
  for (int i = 0; i < kNumReduceIsas; ++i) {
    if (isReduceIsaSupported(static_cast<ReduceIsa>(i))) isas.push_back(static_cast<ReduceIsa>(i));
  }
  return isas;
}

template <braidDataType_t D>
void checkAllOps() {
  for (ReduceIsa isa : supportedIsas()) {
    SCOPED_TRACE(reduceIsaName(isa));
    for (braidRedOp_t op : {braidSum, braidProd, braidMax, braidMin, braidAvg}) {
      SCOPED_TRACE(redOpName(op));
      checkAll<D>(op, isa);
    }
  }
}

TEST(ReduceKernels, Int8) { checkAllOps<braidInt8>(); }
TEST(ReduceKernels, Uint8) { checkAllOps<braidUint8>(); }
TEST(ReduceKernels, Int32) { checkAllOps<braidInt32>(); }
TEST(ReduceKernels, Uint32) { checkAllOps<braidUint32>(); }
TEST(ReduceKernels, Int64) { checkAllOps<braidInt64>(); }
TEST(ReduceKernels, Uint64) { checkAllOps<braidUint64>(); }
TEST(ReduceKernels, Float16) { checkAllOps<braidFloat16>(); }
TEST(ReduceKernels, Float32) { checkAllOps<braidFloat32>(); }
TEST(ReduceKernels, Float64) { checkAllOps<braidFloat64>(); }
TEST(ReduceKernels, Bfloat16) { checkAllOps<braidBfloat16>(); }

// ---- names, sizes, look-ups ----------------------------------------------------------------

TEST(ReduceTables, NamesAndSizes) {
  const struct {
    braidDataType_t type;
    size_t size;
    const char* name;
  } kExpected[] = {{braidInt8, 1, "int8"},       {braidUint8, 1, "uint8"},
                   {braidInt32, 4, "int32"},     {braidUint32, 4, "uint32"},
                   {braidInt64, 8, "int64"},     {braidUint64, 8, "uint64"},
                   {braidFloat16, 2, "float16"}, {braidFloat32, 4, "float32"},
                   {braidFloat64, 8, "float64"}, {braidBfloat16, 2, "bfloat16"}};
  for (const auto& e : kExpected) {
    EXPECT_EQ(dataTypeSize(e.type), e.size) << e.name;
    EXPECT_STREQ(dataTypeName(e.type), e.name);
    EXPECT_TRUE(isValidDataType(e.type));
  }
  EXPECT_STREQ(redOpName(braidSum), "sum");
  EXPECT_STREQ(redOpName(braidProd), "prod");
  EXPECT_STREQ(redOpName(braidMax), "max");
  EXPECT_STREQ(redOpName(braidMin), "min");
  EXPECT_STREQ(redOpName(braidAvg), "avg");
  EXPECT_FALSE(isValidDataType(-1));
  EXPECT_FALSE(isValidDataType(10));
  EXPECT_FALSE(isValidRedOp(-1));
  EXPECT_FALSE(isValidRedOp(5));
  EXPECT_TRUE(isValidRedOp(braidAvg));
  EXPECT_EQ(dataTypeSize(static_cast<braidDataType_t>(10)), 0u);
}

// One table (core/datatype.h): every printed name parses back to its type, the usual aliases
// parse to the same types, and each type prints one canonical name (the C API's spelling).
TEST(ReduceTables, NamesParseBackAndAliasesAgree) {
  for (int t = 0; t < kNumDataTypes; ++t) {
    const auto type = static_cast<braidDataType_t>(t);
    braidDataType_t parsed = braidInt8;
    ASSERT_TRUE(parseDataType(dataTypeName(type), &parsed)) << dataTypeName(type);
    EXPECT_EQ(parsed, type) << dataTypeName(type);
  }
  const struct {
    const char* alias;
    braidDataType_t type;
  } kTypeAliases[] = {
      {"half", braidFloat16},  {"fp16", braidFloat16},     {"FLOAT16", braidFloat16},
      {"float", braidFloat32}, {"fp32", braidFloat32},     {"double", braidFloat64},
      {"fp64", braidFloat64},  {"bf16", braidBfloat16},    {"char", braidInt8},
      {"int", braidInt32},     {"BFloat16", braidBfloat16}};
  for (const auto& a : kTypeAliases) {
    braidDataType_t parsed = braidInt8;
    ASSERT_TRUE(parseDataType(a.alias, &parsed)) << a.alias;
    EXPECT_EQ(parsed, a.type) << a.alias;
  }
  braidDataType_t unused = braidInt8;
  for (const char* bad : {"", "float1", "floa", "float16x", "int16", "fp8"}) {
    EXPECT_FALSE(parseDataType(bad, &unused)) << bad;
  }
  for (int o = 0; o < kNumRedOps; ++o) {
    braidRedOp_t parsed = braidSum;
    ASSERT_TRUE(parseRedOp(redOpName(static_cast<braidRedOp_t>(o)), &parsed));
    EXPECT_EQ(parsed, static_cast<braidRedOp_t>(o));
  }
  braidRedOp_t op = braidSum;
  EXPECT_TRUE(parseRedOp("MAX", &op));
  EXPECT_EQ(op, braidMax);
  EXPECT_FALSE(parseRedOp("mean", &op));
}

TEST(ReduceTables, IsaVariants) {
  EXPECT_TRUE(isReduceIsaSupported(ReduceIsa::kPortable));
  EXPECT_TRUE(isReduceIsaSupported(activeReduceIsa()));
  EXPECT_STREQ(reduceIsaName(ReduceIsa::kPortable), "portable");
  EXPECT_STREQ(reduceIsaName(ReduceIsa::kAvx2), "avx2");
  // The two-argument look-ups use the active variant.
  EXPECT_EQ(getReduceFn(braidFloat16, braidSum),
            getReduceFn(braidFloat16, braidSum, activeReduceIsa()));
  for (int i = 0; i < kNumReduceIsas; ++i) {
    const auto isa = static_cast<ReduceIsa>(i);
    EXPECT_EQ(getReduceFn(braidFloat32, braidSum, isa) != nullptr, isReduceIsaSupported(isa));
    EXPECT_EQ(getFinishFn(braidFloat32, braidAvg, isa) != nullptr, isReduceIsaSupported(isa));
  }
#if defined(__x86_64__)
  std::printf("reduce kernels: %s (avx2 %s)\n", reduceIsaName(activeReduceIsa()),
              isReduceIsaSupported(ReduceIsa::kAvx2) ? "supported" : "not supported");
#endif
}

TEST(ReduceTables, LookupsNullOnlyForInvalid) {
  // Out-of-range values stay within the enums' value ranges (0..15, 0..7): converting e.g. -1
  // to these unscoped enums would itself be undefined behaviour in C++.
  for (int t = 0; t <= 15; ++t) {
    for (int o = 0; o <= 7; ++o) {
      const auto type = static_cast<braidDataType_t>(t);
      const auto op = static_cast<braidRedOp_t>(o);
      const bool valid = t >= 0 && t < 10 && o >= 0 && o < 5;
      EXPECT_EQ(getReduceFn(type, op) != nullptr, valid) << t << " " << o;
      EXPECT_EQ(getReduceFinalFn(type, op) != nullptr, valid) << t << " " << o;
      EXPECT_EQ(getFinishFn(type, op) != nullptr, valid) << t << " " << o;
    }
  }
}

// ---- integer wrap and avg truncation --------------------------------------------------------

template <typename T>
T reduceOne(braidDataType_t type, braidRedOp_t op, T a, T b) {
  T out;
  getReduceFn(type, op)(&out, &a, &b, 1);
  return out;
}

template <typename T>
T finalOne(braidDataType_t type, braidRedOp_t op, T a, T b, int nranks) {
  T out;
  getReduceFinalFn(type, op)(&out, &a, &b, 1, nranks);
  return out;
}

TEST(ReduceIntegers, Wraps) {
  EXPECT_EQ(reduceOne<int8_t>(braidInt8, braidSum, 127, 1), -128);
  EXPECT_EQ(reduceOne<int8_t>(braidInt8, braidSum, -128, -1), 127);
  EXPECT_EQ(reduceOne<uint8_t>(braidUint8, braidSum, 255, 1), 0);
  EXPECT_EQ(reduceOne<int8_t>(braidInt8, braidProd, 16, 16), 0);
  EXPECT_EQ(reduceOne<int8_t>(braidInt8, braidProd, -128, -1), -128);
  EXPECT_EQ(reduceOne<int8_t>(braidInt8, braidProd, 100, 3), 44);  // 300 - 256
  EXPECT_EQ(reduceOne<uint8_t>(braidUint8, braidProd, 255, 255), 1);
  EXPECT_EQ(reduceOne<int32_t>(braidInt32, braidSum, INT32_MAX, 1), INT32_MIN);
  EXPECT_EQ(reduceOne<int32_t>(braidInt32, braidProd, 65536, 65536), 0);
  EXPECT_EQ(reduceOne<int32_t>(braidInt32, braidProd, INT32_MIN, -1), INT32_MIN);
  EXPECT_EQ(reduceOne<uint32_t>(braidUint32, braidProd, 0xffffffffu, 0xffffffffu), 1u);
  EXPECT_EQ(reduceOne<int64_t>(braidInt64, braidSum, INT64_MAX, 1), INT64_MIN);
  EXPECT_EQ(reduceOne<int64_t>(braidInt64, braidProd, INT64_MIN, -1), INT64_MIN);
  EXPECT_EQ(reduceOne<int64_t>(braidInt64, braidProd, INT64_MAX, 2), -2);
  EXPECT_EQ(reduceOne<uint64_t>(braidUint64, braidSum, UINT64_MAX, 2), 1u);
  EXPECT_EQ(reduceOne<uint64_t>(braidUint64, braidProd, 1ull << 32, 1ull << 32), 0u);
  // The avg partial result is the wrapped sum, not an average.
  EXPECT_EQ(reduceOne<int8_t>(braidInt8, braidAvg, 100, 100), -56);
}

TEST(ReduceIntegers, AvgTruncatesTowardZero) {
  EXPECT_EQ(finalOne<int32_t>(braidInt32, braidAvg, -3, -4, 2), -3);  // -7 / 2
  EXPECT_EQ(finalOne<int32_t>(braidInt32, braidAvg, 3, 4, 2), 3);
  EXPECT_EQ(finalOne<int8_t>(braidInt8, braidAvg, -3, -4, 2), -3);
  EXPECT_EQ(finalOne<int64_t>(braidInt64, braidAvg, -3, -4, 2), -3);
  EXPECT_EQ(finalOne<int32_t>(braidInt32, braidAvg, -1, 0, 3), 0);
  EXPECT_EQ(finalOne<int32_t>(braidInt32, braidAvg, INT32_MIN, 0, 1), INT32_MIN);
  EXPECT_EQ(finalOne<int64_t>(braidInt64, braidAvg, INT64_MIN, 0, 3), INT64_MIN / 3);
  // Wrapped sum first: 100 + 100 = -56 in int8, / 2 = -28; 255 + 255 = 254 in uint8, / 2.
  EXPECT_EQ(finalOne<int8_t>(braidInt8, braidAvg, 100, 100, 2), -28);
  EXPECT_EQ(finalOne<uint8_t>(braidUint8, braidAvg, 255, 255, 2), 127);
  EXPECT_EQ(finalOne<uint32_t>(braidUint32, braidAvg, 0xfffffffeu, 1u, 3), 0x55555555u);
  EXPECT_EQ(finalOne<uint64_t>(braidUint64, braidAvg, UINT64_MAX, 0, 2), UINT64_MAX / 2);

  int32_t buf[] = {-7, 7, -1, INT32_MIN};
  getFinishFn(braidInt32, braidAvg)(buf, 4, 2);
  EXPECT_EQ(buf[0], -3);
  EXPECT_EQ(buf[1], 3);
  EXPECT_EQ(buf[2], 0);
  EXPECT_EQ(buf[3], INT32_MIN / 2);
  int32_t same[] = {-7, 5};
  getFinishFn(braidInt32, braidSum)(same, 2, 2);  // not avg: no-op
  EXPECT_EQ(same[0], -7);
  EXPECT_EQ(same[1], 5);
}

// Quotients just below, at and above integers, where an inexact division would truncate wrong.
TEST(ReduceIntegers, AvgExactNearMultiples) {
  for (int n : {3, 7, 1000, 65537, 1 << 20, INT32_MAX}) {
    for (int64_t k : {int64_t{1}, int64_t{2}, int64_t{1000}, int64_t{INT32_MAX} / n}) {
      for (int64_t d : {-1, 0, 1}) {
        const int64_t s = k * n + d;
        if (s > INT32_MAX || s < 0) continue;
        for (int64_t signedS : {s, -s}) {
          int32_t v = static_cast<int32_t>(signedS);
          getFinishFn(braidInt32, braidAvg)(&v, 1, n);
          EXPECT_EQ(v, signedS / n) << signedS << " / " << n;
        }
        uint32_t u = static_cast<uint32_t>(s) * 2u + (d == 1 ? 1u : 0u);
        const uint32_t expected = u / static_cast<uint32_t>(n);
        getFinishFn(braidUint32, braidAvg)(&u, 1, n);
        EXPECT_EQ(u, expected) << n;
      }
    }
  }
  uint32_t big = 0xffffffffu;
  getFinishFn(braidUint32, braidAvg)(&big, 1, 1);
  EXPECT_EQ(big, 0xffffffffu);
}

// ---- floats: max/min NaN behaviour, avg ------------------------------------------------------

TEST(ReduceFloats, MaxMinNanPropagates) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(reduceOne<float>(braidFloat32, braidMax, nan, 1.0f)));
  EXPECT_TRUE(std::isnan(reduceOne<float>(braidFloat32, braidMax, 1.0f, nan)));
  EXPECT_TRUE(std::isnan(reduceOne<float>(braidFloat32, braidMin, nan, 1.0f)));
  EXPECT_TRUE(std::isnan(reduceOne<float>(braidFloat32, braidMin, 1.0f, nan)));
  EXPECT_TRUE(std::isnan(reduceOne<double>(braidFloat64, braidMax, std::nan(""), 1.0)));
  EXPECT_EQ(reduceOne<uint16_t>(braidBfloat16, braidMin, 0x7fc1, 0x3f80), 0x7fc1);
  EXPECT_EQ(reduceOne<float>(braidFloat32, braidMax, -2.0f, 3.0f), 3.0f);
  EXPECT_EQ(reduceOne<double>(braidFloat64, braidMin, -2.0, 3.0), -2.0);
  EXPECT_EQ(reduceOne<uint16_t>(braidFloat16, braidMax, 0x7e01, 0x3c00), 0x7e01);  // bits kept
  EXPECT_EQ(reduceOne<uint16_t>(braidFloat16, braidMax, 0x3c00, 0x7e01), 0x7e01);  // bits kept
  EXPECT_EQ(reduceOne<uint16_t>(braidFloat16, braidMax, 0xbc00, 0x3c00), 0x3c00);  // -1, 1
  EXPECT_EQ(reduceOne<uint16_t>(braidFloat16, braidMin, 0xbc00, 0x3c00), 0xbc00);
  EXPECT_EQ(reduceOne<uint16_t>(braidBfloat16, braidMin, 0xbf80, 0x3f80), 0xbf80);
  EXPECT_EQ(reduceOne<uint16_t>(braidBfloat16, braidMax, 0xbf80, 0x3f80), 0x3f80);
  // +0 and -0 compare equal: b is returned, bits unchanged.
  EXPECT_TRUE(std::signbit(reduceOne<float>(braidFloat32, braidMax, 0.0f, -0.0f)));
  EXPECT_FALSE(std::signbit(reduceOne<float>(braidFloat32, braidMin, -0.0f, 0.0f)));
  EXPECT_EQ(reduceOne<uint16_t>(braidFloat16, braidMax, 0x0000, 0x8000), 0x8000);
  EXPECT_EQ(reduceOne<uint16_t>(braidBfloat16, braidMin, 0x8000, 0x0000), 0x0000);
}

TEST(ReduceFloats, AvgDividesInAccumulationType) {
  EXPECT_EQ(finalOne<float>(braidFloat32, braidAvg, 1.0f, 2.0f, 2), 1.5f);
  EXPECT_EQ(finalOne<double>(braidFloat64, braidAvg, 1.0, 0.0, 3), 1.0 / 3.0);
  EXPECT_EQ(finalOne<uint16_t>(braidFloat16, braidAvg, 0x3c00, 0x4000, 2), 0x3e00);  // 1.5
  EXPECT_EQ(finalOne<uint16_t>(braidBfloat16, braidAvg, 0x3f80, 0x4000, 2), 0x3fc0);
  // 65504 + 65504 overflows float16 but not the float32 accumulator: avg is 65504.
  EXPECT_EQ(finalOne<uint16_t>(braidFloat16, braidAvg, 0x7bff, 0x7bff, 2), 0x7bff);
  EXPECT_EQ(reduceOne<uint16_t>(braidFloat16, braidSum, 0x7bff, 0x7bff), 0x7c00);
  uint16_t h[] = {0x4000, 0xc000};  // 2, -2
  getFinishFn(braidFloat16, braidAvg)(h, 2, 4);
  EXPECT_EQ(h[0], 0x3800);  // 0.5
  EXPECT_EQ(h[1], 0xb800);
}

// ---- float16 / bfloat16 conversions -----------------------------------------------------------

TEST(HalfConversion, KnownValues) {
  EXPECT_EQ(halfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(halfToFloat(0xc000), -2.0f);
  EXPECT_EQ(halfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(halfToFloat(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(halfToFloat(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(halfToFloat(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(halfToFloat(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(halfToFloat(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(halfToFloat(0x7e00)));
  EXPECT_TRUE(std::isnan(halfToFloat(0x7c01)));
  EXPECT_TRUE(std::isnan(halfToFloat(0xfc01)));
  EXPECT_TRUE(std::signbit(halfToFloat(0x8000)));
  EXPECT_EQ(halfToFloat(0x8000), 0.0f);
}

TEST(HalfConversion, RoundsToNearestEven) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(floatToHalf(0.0f), 0x0000);
  // Ties between 1 and 1 + 2^-10 go to the even mantissa.
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(floatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3c01);
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11) - std::ldexp(1.0f, -20)), 0x3c00);
  EXPECT_EQ(floatToHalf(-(1.0f + 3 * std::ldexp(1.0f, -11))), 0xbc02);
  // Rounding carries into the exponent: 2 - 2^-12 -> 2.
  EXPECT_EQ(floatToHalf(2.0f - std::ldexp(1.0f, -12)), 0x4000);
}

TEST(HalfConversion, Subnormals) {
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25)), 0x0000);      // tie -> even (0)
  EXPECT_EQ(floatToHalf(3 * std::ldexp(1.0f, -25)), 0x0002);  // tie -> even (2)
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25) * 1.0001f), 0x0001);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -26)), 0x0000);
  EXPECT_EQ(floatToHalf(-std::ldexp(1.0f, -26)), 0x8000);
  EXPECT_EQ(floatToHalf(std::ldexp(1023.0f, -24)), 0x03ff);
  EXPECT_EQ(floatToHalf(std::ldexp(1023.5f, -24)), 0x0400);  // tie -> smallest normal
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -14)), 0x0400);
  EXPECT_EQ(floatToHalf(1e-40f), 0x0000);  // float subnormal
  EXPECT_EQ(floatToHalf(-1e-40f), 0x8000);
}

TEST(HalfConversion, OverflowInfNan) {
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65519.99f), 0x7bff);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00);  // tie between 65504 and 2^16 -> inf
  EXPECT_EQ(floatToHalf(65536.0f), 0x7c00);
  EXPECT_EQ(floatToHalf(1e6f), 0x7c00);
  EXPECT_EQ(floatToHalf(-1e6f), 0xfc00);
  EXPECT_EQ(floatToHalf(FLT_MAX), 0x7c00);
  EXPECT_EQ(floatToHalf(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(floatToHalf(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_TRUE(isHalfNan(floatToHalf(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(isHalfNan(floatToHalf(floatFromBits(0x7f800001))));  // payload only in low bits
  EXPECT_TRUE(isHalfNan(floatToHalf(floatFromBits(0x7fa00000))));  // signalling NaN
  const uint16_t negNan = floatToHalf(floatFromBits(0xffc00000));
  EXPECT_TRUE(isHalfNan(negNan));
  EXPECT_EQ(negNan & 0x8000, 0x8000);
}

TEST(HalfConversion, ExhaustiveRoundTrip) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const float f = halfToFloat(h);
    if (isHalfNan(h)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << i;
      ASSERT_TRUE(isHalfNan(floatToHalf(f))) << std::hex << i;
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), refHalfToDouble(h)) << std::hex << i;
    ASSERT_EQ(std::signbit(f), (i & 0x8000) != 0) << std::hex << i;
    ASSERT_EQ(floatToHalf(f), h) << std::hex << i;
  }
}

// Every rounding boundary: for each pair of adjacent float16 values, the float exactly at the
// midpoint and its float neighbours on both sides, against the reference rounding.
TEST(HalfConversion, AllMidpoints) {
  for (uint32_t i = 0; i < 0x7c00; ++i) {
    const double lo = refHalfToDouble(static_cast<uint16_t>(i));
    const double hi = i + 1 == 0x7c00 ? 65536.0 : refHalfToDouble(static_cast<uint16_t>(i + 1));
    const auto mid = static_cast<float>((lo + hi) / 2);  // exact: needs 12 significant bits
    ASSERT_EQ(static_cast<double>(mid), (lo + hi) / 2);
    for (float f : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f)}) {
      ASSERT_EQ(floatToHalf(f), refDoubleToHalf(f)) << std::hexfloat << f;
      ASSERT_EQ(floatToHalf(-f), refDoubleToHalf(-f)) << std::hexfloat << -f;
    }
  }
}

// A stride through all 2^32 float bit patterns.
TEST(HalfConversion, SampledFloats) {
  for (uint64_t u = 0; u < (1ull << 32); u += 4093) {
    const float f = floatFromBits(static_cast<uint32_t>(u));
    if (std::isnan(f)) {
      ASSERT_TRUE(isHalfNan(floatToHalf(f))) << std::hex << u;
    } else {
      ASSERT_EQ(floatToHalf(f), refDoubleToHalf(f)) << std::hex << u;
    }
  }
}

TEST(Bfloat16Conversion, KnownValues) {
  EXPECT_EQ(bfloat16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(bfloat16ToFloat(0xc000), -2.0f);
  EXPECT_EQ(bfloat16ToFloat(0x0001), std::ldexp(1.0f, -133));
  EXPECT_EQ(bfloat16ToFloat(0x7f80), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(0x7fc0)));
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(0x7f81)));
  EXPECT_TRUE(std::signbit(bfloat16ToFloat(0x8000)));
}

TEST(Bfloat16Conversion, RoundsToNearestEven) {
  EXPECT_EQ(floatToBfloat16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBfloat16(floatFromBits(0x3f808000)), 0x3f80);  // tie -> even
  EXPECT_EQ(floatToBfloat16(floatFromBits(0x3f818000)), 0x3f82);  // tie -> even
  EXPECT_EQ(floatToBfloat16(floatFromBits(0x3f808001)), 0x3f81);
  EXPECT_EQ(floatToBfloat16(floatFromBits(0x3f807fff)), 0x3f80);
  EXPECT_EQ(floatToBfloat16(floatFromBits(0xbf818000)), 0xbf82);
  EXPECT_EQ(floatToBfloat16(floatFromBits(0x3fffffff)), 0x4000);  // carry into exponent
  EXPECT_EQ(floatToBfloat16(-0.0f), 0x8000);
}

TEST(Bfloat16Conversion, SubnormalsOverflowInfNan) {
  EXPECT_EQ(floatToBfloat16(floatFromBits(0x00008000)), 0x0000);  // tie -> even (0)
  EXPECT_EQ(floatToBfloat16(floatFromBits(0x00018000)), 0x0002);  // tie -> even (2)
  EXPECT_EQ(floatToBfloat16(floatFromBits(0x00008001)), 0x0001);
  EXPECT_EQ(floatToBfloat16(floatFromBits(0x00000001)), 0x0000);
  EXPECT_EQ(floatToBfloat16(floatFromBits(0x007fffff)), 0x0080);  // up to the smallest normal
  EXPECT_EQ(floatToBfloat16(floatFromBits(0x807fffff)), 0x8080);
  EXPECT_EQ(floatToBfloat16(FLT_MAX), 0x7f80);  // rounds up past the largest finite
  EXPECT_EQ(floatToBfloat16(floatFromBits(0x7f7f7fff)), 0x7f7f);
  EXPECT_EQ(floatToBfloat16(floatFromBits(0x7f7f8000)), 0x7f80);  // tie, odd -> up -> inf
  EXPECT_EQ(floatToBfloat16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(floatToBfloat16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_TRUE(isBf16Nan(floatToBfloat16(floatFromBits(0x7f800001))));  // would round to inf
  EXPECT_TRUE(isBf16Nan(floatToBfloat16(floatFromBits(0x7fffffff))));  // would carry to 0x8000
  const uint16_t negNan = floatToBfloat16(floatFromBits(0xffc00000));
  EXPECT_TRUE(isBf16Nan(negNan));
  EXPECT_EQ(negNan & 0x8000, 0x8000);
}

TEST(Bfloat16Conversion, ExhaustiveRoundTrip) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto b = static_cast<uint16_t>(i);
    const float f = bfloat16ToFloat(b);
    if (isBf16Nan(b)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << i;
      ASSERT_TRUE(isBf16Nan(floatToBfloat16(f))) << std::hex << i;
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), refBf16ToDouble(b)) << std::hex << i;
    ASSERT_EQ(std::signbit(f), (i & 0x8000) != 0) << std::hex << i;
    ASSERT_EQ(floatToBfloat16(f), b) << std::hex << i;
  }
}

TEST(Bfloat16Conversion, AllMidpoints) {
  for (uint32_t i = 0; i < 0x7f80; ++i) {
    const double lo = refBf16ToDouble(static_cast<uint16_t>(i));
    const double hi =
        i + 1 == 0x7f80 ? std::ldexp(1.0, 128) : refBf16ToDouble(static_cast<uint16_t>(i + 1));
    const double midD = (lo + hi) / 2;
    if (midD > FLT_MAX) continue;  // the last midpoint is not a float
    const auto mid = static_cast<float>(midD);
    ASSERT_EQ(static_cast<double>(mid), midD);
    for (float f : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, FLT_MAX)}) {
      ASSERT_EQ(floatToBfloat16(f), refDoubleToBf16(f)) << std::hexfloat << f;
      ASSERT_EQ(floatToBfloat16(-f), refDoubleToBf16(-f)) << std::hexfloat << -f;
    }
  }
}

TEST(Bfloat16Conversion, SampledFloats) {
  for (uint64_t u = 0; u < (1ull << 32); u += 4093) {
    const float f = floatFromBits(static_cast<uint32_t>(u));
    if (std::isnan(f)) {
      ASSERT_TRUE(isBf16Nan(floatToBfloat16(f))) << std::hex << u;
    } else {
      ASSERT_EQ(floatToBfloat16(f), refDoubleToBf16(f)) << std::hex << u;
    }
  }
}

}  // namespace
}  // namespace braid
