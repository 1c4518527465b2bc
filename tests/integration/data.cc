#include "data.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace braidtest {

size_t DtypeSize(braidDataType_t dt) {
  switch (dt) {
    case braidInt8:
    case braidUint8:
      return 1;
    case braidFloat16:
    case braidBfloat16:
      return 2;
    case braidInt32:
    case braidUint32:
    case braidFloat32:
      return 4;
    case braidInt64:
    case braidUint64:
    case braidFloat64:
      return 8;
  }
  return 1;
}

bool IsFloatType(braidDataType_t dt) {
  return dt == braidFloat16 || dt == braidFloat32 || dt == braidFloat64 || dt == braidBfloat16;
}

bool IsSignedType(braidDataType_t dt) {
  return dt == braidInt8 || dt == braidInt32 || dt == braidInt64 || IsFloatType(dt);
}

const char* DtypeName(braidDataType_t dt) {
  switch (dt) {
    case braidInt8:
      return "int8";
    case braidUint8:
      return "uint8";
    case braidInt32:
      return "int32";
    case braidUint32:
      return "uint32";
    case braidInt64:
      return "int64";
    case braidUint64:
      return "uint64";
    case braidFloat16:
      return "float16";
    case braidFloat32:
      return "float32";
    case braidFloat64:
      return "float64";
    case braidBfloat16:
      return "bfloat16";
  }
  return "bad-dtype";
}

const char* OpName(braidRedOp_t op) {
  switch (op) {
    case braidSum:
      return "sum";
    case braidProd:
      return "prod";
    case braidMax:
      return "max";
    case braidMin:
      return "min";
    case braidAvg:
      return "avg";
  }
  return "bad-op";
}

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) {
    return static_cast<uint16_t>(sign | (absx > 0x7f800000u ? 0x7e00u : 0x7c00u));
  }
  if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520: inf
  if (absx < 0x38800000u) {  // below 2^-14: subnormal (or zero) in half
    float a;
    std::memcpy(&a, &absx, 4);
    const auto m = static_cast<uint32_t>(std::nearbyint(a * 16777216.0f));  // a * 2^24, exact
    return static_cast<uint16_t>(sign | m);
  }
  const uint32_t e = (absx >> 23) - 127 + 15;
  const uint32_t mant = absx & 0x7fffffu;
  uint32_t h = (e << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = (static_cast<uint32_t>(h) & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu;
  const uint32_t m = h & 0x3ffu;
  float out;
  if (e == 0) {
    out = std::ldexp(static_cast<float>(m), -24);
    return sign ? -out : out;
  }
  uint32_t bits;
  if (e == 31) {
    bits = sign | 0x7f800000u | (m << 13);
  } else {
    bits = sign | ((e - 15 + 127) << 23) | (m << 13);
  }
  std::memcpy(&out, &bits, 4);
  return out;
}

uint16_t FloatToBf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

float Bf16ToFloat(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

namespace {

template <typename T>
T LoadAs(const void* base, size_t index) {
  T v;
  std::memcpy(&v, static_cast<const char*>(base) + index * sizeof(T), sizeof(T));
  return v;
}

template <typename T>
void StoreAs(void* base, size_t index, T v) {
  std::memcpy(static_cast<char*>(base) + index * sizeof(T), &v, sizeof(T));
}

uint64_t Mix(uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t HashOf(uint64_t seed, braidDataType_t dt, int rank, size_t index) {
  return Mix(Mix(seed * 0x100000001b3ull + static_cast<uint64_t>(dt)) ^
             (static_cast<uint64_t>(rank) * 0xd6e8feb86659fd93ull) ^
             (static_cast<uint64_t>(index) * 0xa0761d6478bd642full));
}

double FiniteFloatFromBits(braidDataType_t dt, uint64_t h) {
  const uint64_t sign = h & 1u;
  switch (dt) {
    case braidFloat16: {
      uint16_t e = static_cast<uint16_t>(1 + (h >> 1) % 30);
      uint16_t bits = static_cast<uint16_t>((sign << 15) | (e << 10) | ((h >> 16) & 0x3ffu));
      return HalfToFloat(bits);
    }
    case braidBfloat16: {
      uint16_t e = static_cast<uint16_t>(1 + (h >> 1) % 254);
      uint16_t bits = static_cast<uint16_t>((sign << 15) | (e << 7) | ((h >> 16) & 0x7fu));
      return Bf16ToFloat(bits);
    }
    case braidFloat32: {
      uint32_t e = static_cast<uint32_t>(1 + (h >> 1) % 254);
      uint32_t bits = static_cast<uint32_t>((sign << 31) | (e << 23) | ((h >> 16) & 0x7fffffu));
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    default: {
      uint64_t e = 1 + (h >> 1) % 2046;
      uint64_t bits = (sign << 63) | (e << 52) | ((h >> 12) & 0xfffffffffffffull);
      double d;
      std::memcpy(&d, &bits, 8);
      return d;
    }
  }
}

__int128 TruncateToType(braidDataType_t dt, uint64_t h) {
  switch (dt) {
    case braidInt8:
      return static_cast<int8_t>(h);
    case braidUint8:
      return static_cast<uint8_t>(h);
    case braidInt32:
      return static_cast<int32_t>(h);
    case braidUint32:
      return static_cast<uint32_t>(h);
    case braidInt64:
      return static_cast<int64_t>(h);
    default:
      return static_cast<__int128>(h);
  }
}

}  // namespace

void StoreVal(braidDataType_t dt, void* base, size_t index, const Val& v) {
  switch (dt) {
    case braidInt8:
      StoreAs<int8_t>(base, index, static_cast<int8_t>(v.i));
      break;
    case braidUint8:
      StoreAs<uint8_t>(base, index, static_cast<uint8_t>(v.i));
      break;
    case braidInt32:
      StoreAs<int32_t>(base, index, static_cast<int32_t>(v.i));
      break;
    case braidUint32:
      StoreAs<uint32_t>(base, index, static_cast<uint32_t>(v.i));
      break;
    case braidInt64:
      StoreAs<int64_t>(base, index, static_cast<int64_t>(v.i));
      break;
    case braidUint64:
      StoreAs<uint64_t>(base, index, static_cast<uint64_t>(v.i));
      break;
    case braidFloat16:
      StoreAs<uint16_t>(base, index, FloatToHalf(static_cast<float>(v.f)));
      break;
    case braidFloat32:
      StoreAs<float>(base, index, static_cast<float>(v.f));
      break;
    case braidFloat64:
      StoreAs<double>(base, index, v.f);
      break;
    case braidBfloat16:
      StoreAs<uint16_t>(base, index, FloatToBf16(static_cast<float>(v.f)));
      break;
  }
}

Val LoadVal(braidDataType_t dt, const void* base, size_t index) {
  Val v;
  switch (dt) {
    case braidInt8:
      v.i = LoadAs<int8_t>(base, index);
      break;
    case braidUint8:
      v.i = LoadAs<uint8_t>(base, index);
      break;
    case braidInt32:
      v.i = LoadAs<int32_t>(base, index);
      break;
    case braidUint32:
      v.i = LoadAs<uint32_t>(base, index);
      break;
    case braidInt64:
      v.i = LoadAs<int64_t>(base, index);
      break;
    case braidUint64:
      v.i = LoadAs<uint64_t>(base, index);
      break;
    case braidFloat16:
      v.f = HalfToFloat(LoadAs<uint16_t>(base, index));
      break;
    case braidFloat32:
      v.f = LoadAs<float>(base, index);
      break;
    case braidFloat64:
      v.f = LoadAs<double>(base, index);
      break;
    case braidBfloat16:
      v.f = Bf16ToFloat(LoadAs<uint16_t>(base, index));
      break;
  }
  return v;
}

std::string FormatElem(braidDataType_t dt, const void* base, size_t index) {
  Val v = LoadVal(dt, base, index);
  char buf[96];
  if (!IsFloatType(dt)) {
    if (v.i < 0) {
      std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(v.i));
    } else {
      std::snprintf(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(v.i));
    }
    return buf;
  }
  uint64_t bits = 0;
  std::memcpy(&bits, static_cast<const char*>(base) + index * DtypeSize(dt), DtypeSize(dt));
  std::snprintf(buf, sizeof(buf), "%.17g (0x%0*" PRIx64 ")", v.f,
                static_cast<int>(2 * DtypeSize(dt)), bits);
  return buf;
}

Pattern PatternFor(braidRedOp_t op) {
  switch (op) {
    case braidProd:
      return Pattern::kProdSafe;
    case braidMax:
    case braidMin:
      return Pattern::kFullRange;
    default:
      return Pattern::kSmall;
  }
}

Val GenInput(braidDataType_t dt, Pattern p, uint64_t seed, int rank, size_t index) {
  const uint64_t h = HashOf(seed, dt, rank, index);
  const bool is_float = IsFloatType(dt);
  Val v;
  switch (p) {
    case Pattern::kSmall: {
      long long s = static_cast<long long>(h % 11);
      if (IsSignedType(dt)) s -= 5;
      v.i = s;
      v.f = static_cast<double>(s);
      break;
    }
    case Pattern::kProdSafe: {
      long long s = ((static_cast<size_t>(rank) + index) % 5 == 0) ? 2 : 1;
      if ((h >> 20) % 13 == 0) s = 0;
      if (IsSignedType(dt) && ((h >> 8) & 1u)) s = -s;
      v.i = s;
      v.f = static_cast<double>(s);
      break;
    }
    case Pattern::kFullRange:
      if (is_float) {
        v.f = FiniteFloatFromBits(dt, h);
      } else {
        v.i = TruncateToType(dt, h);
      }
      break;
    case Pattern::kRandomFloat: {
      v.f = static_cast<double>(h >> 11) * 0x1.0p-52 - 1.0;
      unsigned char tmp[8];
      StoreVal(dt, tmp, 0, v);
      v = LoadVal(dt, tmp, 0);
      if (!is_float) v.i = static_cast<long long>(h % 11);
      break;
    }
  }
  if (!is_float) v.f = 0;
  return v;
}

void FillInputs(braidDataType_t dt, Pattern p, uint64_t seed, int rank, size_t global_offset,
                size_t count, void* out) {
  for (size_t k = 0; k < count; ++k)
    StoreVal(dt, out, k, GenInput(dt, p, seed, rank, global_offset + k));
}

namespace {
Val Combine(braidDataType_t dt, braidRedOp_t op, const Val& a, const Val& b) {
  Val r;
  const bool f = IsFloatType(dt);
  switch (op) {
    case braidSum:
    case braidAvg:
      r.i = a.i + b.i;
      r.f = a.f + b.f;
      break;
    case braidProd:
      r.i = a.i * b.i;
      r.f = a.f * b.f;
      break;
    case braidMax:
      r = f ? (b.f > a.f ? b : a) : (b.i > a.i ? b : a);
      break;
    case braidMin:
      r = f ? (b.f < a.f ? b : a) : (b.i < a.i ? b : a);
      break;
  }
  return r;
}
}  // namespace

void FillExpectedReduction(braidDataType_t dt, braidRedOp_t op, Pattern p, uint64_t seed,
                           int nranks, size_t global_offset, size_t count, void* out) {
  for (size_t k = 0; k < count; ++k) {
    Val acc = GenInput(dt, p, seed, 0, global_offset + k);
    for (int r = 1; r < nranks; ++r) {
      acc = Combine(dt, op, acc, GenInput(dt, p, seed, r, global_offset + k));
    }
    if (op == braidAvg) {
      if (!IsFloatType(dt)) {
        acc.i = acc.i / nranks;  // truncates toward zero
      } else if (dt == braidFloat64) {
        acc.f = acc.f / nranks;
      } else {  // float32, and float16 / bfloat16 which accumulate in float32
        acc.f = static_cast<double>(static_cast<float>(acc.f) / static_cast<float>(nranks));
      }
    }
    StoreVal(dt, out, k, acc);
  }
}

bool CheckElements(RankContext& ctx, const std::string& label, braidDataType_t dt, const void* got,
                   const void* expected, size_t count) {
  const size_t sz = DtypeSize(dt);
  const auto* g = static_cast<const unsigned char*>(got);
  const auto* e = static_cast<const unsigned char*>(expected);
  size_t bad = 0;
  std::ostringstream os;
  for (size_t k = 0; k < count; ++k) {
    if (std::memcmp(g + k * sz, e + k * sz, sz) == 0) continue;
    if (IsFloatType(dt) && LoadVal(dt, got, k).f == LoadVal(dt, expected, k).f) continue;
    if (bad < 4) {
      os << " [" << k << "] expected " << FormatElem(dt, expected, k) << " got "
         << FormatElem(dt, got, k) << ";";
    }
    ++bad;
  }
  if (bad == 0) return true;
  ctx.Fail(__FILE__, __LINE__,
           label + ": " + std::to_string(bad) + " of " + std::to_string(count) +
               " elements wrong:" + os.str());
  return false;
}

bool CheckApproxSum(RankContext& ctx, const std::string& label, braidDataType_t dt, braidRedOp_t op,
                    uint64_t seed, int nranks, const void* got, size_t count) {
  double tol = 1e-12;
  if (dt == braidFloat32) tol = 1e-5;
  if (dt == braidFloat16) tol = 2e-2;
  if (dt == braidBfloat16) tol = 1.5e-1;
  size_t bad = 0;
  std::ostringstream os;
  for (size_t k = 0; k < count; ++k) {
    double ref = 0, mag = 0;
    for (int r = 0; r < nranks; ++r) {
      double x = GenInput(dt, Pattern::kRandomFloat, seed, r, k).f;
      ref += x;
      mag += std::fabs(x);
    }
    if (op == braidAvg) {
      ref /= nranks;
      mag /= nranks;
    }
    double g = LoadVal(dt, got, k).f;
    if (!(std::fabs(g - ref) <= tol * mag + 1e-30)) {
      if (bad < 4) os << " [" << k << "] reference " << ref << " got " << g << ";";
      ++bad;
    }
  }
  if (bad == 0) return true;
  ctx.Fail(__FILE__, __LINE__,
           label + ": " + std::to_string(bad) + " of " + std::to_string(count) +
               " elements outside tolerance:" + os.str());
  return false;
}

TestBuffer::TestBuffer(size_t bytes, size_t misalign, unsigned char fill)
    : storage_((bytes + 2 * kGuard + misalign + 7) / 8 + 1), bytes_(bytes), misalign_(misalign) {
  unsigned char* b = base();
  std::memset(b, 0xa5, storage_.size() * 8);
  std::memset(b + kGuard + misalign_, fill, bytes_);
}

bool TestBuffer::GuardsIntact() const {
  const unsigned char* b = base();
  const size_t total = storage_.size() * 8;
  for (size_t i = 0; i < total; ++i) {
    if (i >= kGuard + misalign_ && i < kGuard + misalign_ + bytes_) continue;
    if (b[i] != 0xa5) return false;
  }
  return true;
}

}  // namespace braidtest
