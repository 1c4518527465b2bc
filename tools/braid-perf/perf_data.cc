// Data: half / bfloat16 conversion, element stores, the reference reduction kernels, the input
// and expected-output patterns and the check.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "perf_harness.h"

namespace braid::perf {

namespace {

// ---- half / bfloat16 ---------------------------------------------------------------------------

uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}
float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

// ---- element access ----------------------------------------------------------------------------

// Stores a double (exact for every value the check uses) as element i of a typed buffer.
template <typename T>
void storeAs(void* buf, size_t i, double v) {
  static_cast<T*>(buf)[i] = static_cast<T>(v);
}

void storeValue(void* buf, size_t i, DataType type, double v) {
  switch (type) {
    case DataType::kInt8:
      storeAs<int8_t>(buf, i, v);
      break;
    case DataType::kUint8:
      storeAs<uint8_t>(buf, i, v);
      break;
    case DataType::kInt32:
      storeAs<int32_t>(buf, i, v);
      break;
    case DataType::kUint32:
      storeAs<uint32_t>(buf, i, v);
      break;
    case DataType::kInt64:
      storeAs<int64_t>(buf, i, v);
      break;
    case DataType::kUint64:
      storeAs<uint64_t>(buf, i, v);
      break;
    case DataType::kHalf:
      static_cast<uint16_t*>(buf)[i] = floatToHalf(static_cast<float>(v));
      break;
    case DataType::kFloat:
      storeAs<float>(buf, i, v);
      break;
    case DataType::kDouble:
      storeAs<double>(buf, i, v);
      break;
    case DataType::kBfloat16:
      static_cast<uint16_t*>(buf)[i] = floatToBfloat16(static_cast<float>(v));
      break;
  }
}

// Integer types store results modulo 2^bits, which is what any order of wrapping arithmetic
// gives; the check keeps sums in range anyway, only products of many ranks can wrap.
void storeWrapped(void* buf, size_t i, DataType type, uint64_t v) {
  switch (type) {
    case DataType::kInt8:
    case DataType::kUint8:
      static_cast<uint8_t*>(buf)[i] = static_cast<uint8_t>(v);
      break;
    case DataType::kInt32:
    case DataType::kUint32:
      static_cast<uint32_t*>(buf)[i] = static_cast<uint32_t>(v);
      break;
    case DataType::kInt64:
    case DataType::kUint64:
      static_cast<uint64_t*>(buf)[i] = v;
      break;
    default:
      storeValue(buf, i, type, static_cast<double>(v));
      break;
  }
}

bool isFloating(DataType type) {
  return type == DataType::kHalf || type == DataType::kFloat || type == DataType::kDouble ||
         type == DataType::kBfloat16;
}

// Largest integer M such that every integer in [0, M] and every sum of such values that the
// check builds is exact in the type (and, for the narrow types, in every partial sum).
double exactLimit(DataType type) {
  switch (type) {
    case DataType::kInt8:
      return 127;
    case DataType::kUint8:
      return 255;
    case DataType::kHalf:
      return 2048;
    case DataType::kBfloat16:
      return 256;
    default:
      return 1 << 24;
  }
}

uint64_t mix(uint64_t x) {
  x ^= x >> 31;
  x *= 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return x;
}

// A rank's input: value(rank, index) = scale * (hash(rank, index, seed) % (span + 1)) + offset.
struct Pattern {
  uint64_t span = 0;  // values hash % (span + 1)
  uint64_t scale = 1;
  uint64_t offset = 0;
  uint64_t value(int rank, size_t index, uint64_t seed) const {
    const uint64_t h = mix((static_cast<uint64_t>(index) << 20) ^
                           (static_cast<uint64_t>(rank) * 0x100000001B3ull) ^ (seed << 52) ^ seed);
    return scale * (span == 0 ? 0 : h % (span + 1)) + offset;
  }
};

Pattern patternFor(DataType type, Collective coll, RedOp op, int nranks) {
  Pattern p;
  const double lim = exactLimit(type);
  const double n = std::max(nranks, 1);
  if (!collectiveHasOp(coll)) {
    p.span = static_cast<uint64_t>(std::min(lim, 1048576.0));
    return p;
  }
  switch (op) {
    case RedOp::kSum:
      p.span = static_cast<uint64_t>(lim / n);
      break;
    case RedOp::kProd:
      p.span = 1;  // {1, 2}: products are powers of two
      p.offset = 1;
      break;
    case RedOp::kMax:
    case RedOp::kMin:
      p.span = static_cast<uint64_t>(std::min(lim, 1000.0));
      break;
    case RedOp::kAvg:
      if (isFloating(type)) {
        // Multiples of nranks: x / n is exact, so sum-then-divide and divide-then-sum agree.
        p.span = static_cast<uint64_t>(lim / (n * n));
        p.scale = static_cast<uint64_t>(n);
      } else {
        p.span = static_cast<uint64_t>(lim / n);
      }
      break;
  }
  return p;
}

// ---- reduction kernels -------------------------------------------------------------------------

template <typename T>
struct Wide {
  using U = std::make_unsigned_t<T>;
  static T add(T a, T b) { return static_cast<T>(static_cast<U>(a) + static_cast<U>(b)); }
  static T mul(T a, T b) {
    using P = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;
    return static_cast<T>(
        static_cast<U>(static_cast<P>(static_cast<U>(a)) * static_cast<P>(static_cast<U>(b))));
  }
};

template <typename T>
T applyInt(T a, T b, RedOp op) {
  switch (op) {
    case RedOp::kSum:
    case RedOp::kAvg:
      return Wide<T>::add(a, b);
    case RedOp::kProd:
      return Wide<T>::mul(a, b);
    case RedOp::kMax:
      return std::max(a, b);
    case RedOp::kMin:
      return std::min(a, b);
  }
  return a;
}

template <typename T>
T applyFloat(T a, T b, RedOp op) {
  switch (op) {
    case RedOp::kSum:
    case RedOp::kAvg:
      return a + b;
    case RedOp::kProd:
      return a * b;
    case RedOp::kMax:
      return std::max(a, b);
    case RedOp::kMin:
      return std::min(a, b);
  }
  return a;
}

template <typename T>
void reduceTyped(T* out, const T* a, const T* b, size_t n, RedOp op) {
  // One switch outside the loop keeps each loop simple enough to vectorize.
  if constexpr (std::is_integral_v<T>) {
    switch (op) {
      case RedOp::kSum:
      case RedOp::kAvg:
        for (size_t i = 0; i < n; ++i) out[i] = Wide<T>::add(a[i], b[i]);
        return;
      case RedOp::kProd:
        for (size_t i = 0; i < n; ++i) out[i] = Wide<T>::mul(a[i], b[i]);
        return;
      default:
        for (size_t i = 0; i < n; ++i) out[i] = applyInt(a[i], b[i], op);
        return;
    }
  } else {
    switch (op) {
      case RedOp::kSum:
      case RedOp::kAvg:
        for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
        return;
      case RedOp::kProd:
        for (size_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
        return;
      default:
        for (size_t i = 0; i < n; ++i) out[i] = applyFloat(a[i], b[i], op);
        return;
    }
  }
}

template <float (*ToFloat)(uint16_t), uint16_t (*FromFloat)(float)>
void reduce16(uint16_t* out, const uint16_t* a, const uint16_t* b, size_t n, RedOp op) {
  for (size_t i = 0; i < n; ++i) out[i] = FromFloat(applyFloat(ToFloat(a[i]), ToFloat(b[i]), op));
}

template <typename T>
void divideTyped(T* buf, size_t n, int nranks) {
  const T d = static_cast<T>(nranks);
  for (size_t i = 0; i < n; ++i) buf[i] = static_cast<T>(buf[i] / d);
}

template <float (*ToFloat)(uint16_t), uint16_t (*FromFloat)(float)>
void divide16(uint16_t* buf, size_t n, int nranks) {
  const float d = static_cast<float>(nranks);
  for (size_t i = 0; i < n; ++i) buf[i] = FromFloat(ToFloat(buf[i]) / d);
}

}  // namespace

// ---- data ------------------------------------------------------------------------------------

float halfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign != 0 ? -v : v;
  }
  if (exp == 31) return bitsFloat(sign | 0x7f800000u | (mant << 13));
  return bitsFloat(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t floatToHalf(float value) {
  // Round to nearest even, overflow to infinity, subnormals kept (as in F. Giesen's
  // float_to_half_fast3_rtne).
  constexpr uint32_t kF32Infinity = 255u << 23;
  constexpr uint32_t kF16Max = (127u + 16u) << 23;
  constexpr uint32_t kDenormMagic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
  uint32_t f = floatBits(value);
  const uint32_t sign = f & 0x80000000u;
  f ^= sign;
  uint16_t o;
  if (f >= kF16Max) {
    o = f > kF32Infinity ? 0x7e00 : 0x7c00;
  } else if (f < (113u << 23)) {
    const float t = bitsFloat(f) + bitsFloat(kDenormMagic);
    o = static_cast<uint16_t>(floatBits(t) - kDenormMagic);
  } else {
    const uint32_t mantOdd = (f >> 13) & 1u;
    f += (static_cast<uint32_t>(15 - 127) << 23) + 0xfffu;
    f += mantOdd;
    o = static_cast<uint16_t>(f >> 13);
  }
  return static_cast<uint16_t>(o | (sign >> 16));
}

float bfloat16ToFloat(uint16_t b) { return bitsFloat(static_cast<uint32_t>(b) << 16); }

uint16_t floatToBfloat16(float value) {
  const uint32_t f = floatBits(value);
  if ((f & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((f >> 16) | 0x40u);  // NaN
  return static_cast<uint16_t>((f + 0x7fffu + ((f >> 16) & 1u)) >> 16);
}

void reduce3(void* out, const void* a, const void* b, size_t n, DataType type, RedOp op) {
  switch (type) {
    case DataType::kInt8:
      reduceTyped(static_cast<int8_t*>(out), static_cast<const int8_t*>(a),
                  static_cast<const int8_t*>(b), n, op);
      break;
    case DataType::kUint8:
      reduceTyped(static_cast<uint8_t*>(out), static_cast<const uint8_t*>(a),
                  static_cast<const uint8_t*>(b), n, op);
      break;
    case DataType::kInt32:
      reduceTyped(static_cast<int32_t*>(out), static_cast<const int32_t*>(a),
                  static_cast<const int32_t*>(b), n, op);
      break;
    case DataType::kUint32:
      reduceTyped(static_cast<uint32_t*>(out), static_cast<const uint32_t*>(a),
                  static_cast<const uint32_t*>(b), n, op);
      break;
    case DataType::kInt64:
      reduceTyped(static_cast<int64_t*>(out), static_cast<const int64_t*>(a),
                  static_cast<const int64_t*>(b), n, op);
      break;
    case DataType::kUint64:
      reduceTyped(static_cast<uint64_t*>(out), static_cast<const uint64_t*>(a),
                  static_cast<const uint64_t*>(b), n, op);
      break;
    case DataType::kFloat:
      reduceTyped(static_cast<float*>(out), static_cast<const float*>(a),
                  static_cast<const float*>(b), n, op);
      break;
    case DataType::kDouble:
      reduceTyped(static_cast<double*>(out), static_cast<const double*>(a),
                  static_cast<const double*>(b), n, op);
      break;
    case DataType::kHalf:
      reduce16<halfToFloat, floatToHalf>(static_cast<uint16_t*>(out),
                                         static_cast<const uint16_t*>(a),
                                         static_cast<const uint16_t*>(b), n, op);
      break;
    case DataType::kBfloat16:
      reduce16<bfloat16ToFloat, floatToBfloat16>(static_cast<uint16_t*>(out),
                                                 static_cast<const uint16_t*>(a),
                                                 static_cast<const uint16_t*>(b), n, op);
      break;
  }
}

void reduceInto(void* inout, const void* in, size_t n, DataType type, RedOp op) {
  reduce3(inout, inout, in, n, type, op);
}

void divideByRanks(void* buf, size_t n, DataType type, int nranks) {
  switch (type) {
    case DataType::kInt8:
      divideTyped(static_cast<int8_t*>(buf), n, nranks);
      break;
    case DataType::kUint8:
      divideTyped(static_cast<uint8_t*>(buf), n, nranks);
      break;
    case DataType::kInt32:
      divideTyped(static_cast<int32_t*>(buf), n, nranks);
      break;
    case DataType::kUint32:
      divideTyped(static_cast<uint32_t*>(buf), n, nranks);
      break;
    case DataType::kInt64:
      divideTyped(static_cast<int64_t*>(buf), n, nranks);
      break;
    case DataType::kUint64:
      divideTyped(static_cast<uint64_t*>(buf), n, nranks);
      break;
    case DataType::kFloat:
      divideTyped(static_cast<float*>(buf), n, nranks);
      break;
    case DataType::kDouble:
      divideTyped(static_cast<double*>(buf), n, nranks);
      break;
    case DataType::kHalf:
      divide16<halfToFloat, floatToHalf>(static_cast<uint16_t*>(buf), n, nranks);
      break;
    case DataType::kBfloat16:
      divide16<bfloat16ToFloat, floatToBfloat16>(static_cast<uint16_t*>(buf), n, nranks);
      break;
  }
}

void fillInput(void* buf, size_t count, DataType type, Collective coll, RedOp op, int rank,
               int nranks, uint64_t seed) {
  const Pattern p = patternFor(type, coll, op, nranks);
  for (size_t i = 0; i < count; ++i) {
    storeValue(buf, i, type, static_cast<double>(p.value(rank, i, seed)));
  }
}

void fillExpected(void* buf, const CollCounts& counts, DataType type, Collective coll, RedOp op,
                  int root, bool inPlace, int rank, int nranks, uint64_t seed) {
  const Pattern p = patternFor(type, coll, op, nranks);
  const size_t n = counts.recvCount;
  switch (coll) {
    case Collective::kAllGather:
      for (size_t i = 0; i < n; ++i) {
        const size_t per = counts.sendCount;
        const int src = static_cast<int>(i / per);
        storeValue(buf, i, type, static_cast<double>(p.value(src, i % per, seed)));
      }
      return;
    case Collective::kBroadcast:
      for (size_t i = 0; i < n; ++i) {
        storeValue(buf, i, type, static_cast<double>(p.value(root, i, seed)));
      }
      return;
    case Collective::kReduce:
      if (rank != root) {
        // recv untouched: zeros out of place, the rank's own input in place.
        for (size_t i = 0; i < n; ++i) {
          storeValue(buf, i, type, inPlace ? static_cast<double>(p.value(rank, i, seed)) : 0.0);
        }
        return;
      }
      break;
    default:
      break;
  }
  // allreduce, reducescatter (this rank's block of the reduced vector), reduce on the root.
  const size_t base = coll == Collective::kReduceScatter ? static_cast<size_t>(rank) * n : 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t idx = base + i;
    uint64_t acc = p.value(0, idx, seed);
    double prod = static_cast<double>(acc);
    for (int r = 1; r < nranks; ++r) {
      const uint64_t v = p.value(r, idx, seed);
      switch (op) {
        case RedOp::kSum:
        case RedOp::kAvg:
          acc += v;
          break;
        case RedOp::kProd:
          acc *= v;
          prod *= static_cast<double>(v);
          break;
        case RedOp::kMax:
          acc = std::max(acc, v);
          break;
        case RedOp::kMin:
          acc = std::min(acc, v);
          break;
      }
    }
    if (op == RedOp::kAvg) {
      storeValue(buf, i, type, static_cast<double>(acc / static_cast<uint64_t>(nranks)));
    } else if (op == RedOp::kProd && isFloating(type)) {
      storeValue(buf, i, type, prod);
    } else {
      storeWrapped(buf, i, type, acc);
    }
  }
}

int64_t countWrong(const void* got, const void* expected, size_t count, DataType type) {
  const size_t size = dataTypeSize(type);
  if (count == 0 || std::memcmp(got, expected, count * size) == 0) return 0;
  const auto* g = static_cast<const unsigned char*>(got);
  const auto* e = static_cast<const unsigned char*>(expected);
  int64_t wrong = 0;
  for (size_t i = 0; i < count; ++i) {
    if (std::memcmp(g + i * size, e + i * size, size) != 0) ++wrong;
  }
  return wrong;
}

}  // namespace braid::perf
