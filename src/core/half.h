// Inline float16 / bfloat16 <-> float32 conversions, written as branch-free integer and float
// operations so that loops calling them auto-vectorize (no F16C or AVX-512 FP16 needed).
//
// Conversions to the 16-bit types round to nearest, ties to even (float16 relies on the float
// adder doing so, i.e. the default rounding mode; FTZ/DAZ do not change its results). NaN
// stays NaN (made quiet, sign and top payload bits kept); values too large become inf.
#pragma once

#include <bit>
#include <cstdint>

namespace braid {
namespace half_detail {

// All-ones when c, else zero. The float16 conversions select with masks rather than with
// ?: because GCC turns a ?: into a branch, duplicates float arithmetic into its arms, and then
// may not if-convert it back (float ops may trap under the default -ftrapping-math), which
// leaves the loop scalar. Integer-only ?: and min/max are harmless.
inline uint32_t maskIf(bool c) { return 0u - static_cast<uint32_t>(c); }

// float16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
inline float halfToFloatInline(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  // Value = (implicit bit | mant) * 2^(e - 25), e = max(exp, 1): one exact int->float
  // conversion and one exact multiply by a power of two cover normals, subnormals and zero.
  const uint32_t isNormal = static_cast<uint32_t>(exp != 0);
  const uint32_t e = exp + (isNormal ^ 1u);
  const float scale = std::bit_cast<float>((e + 102u) << 23);
  const float mag = static_cast<float>(static_cast<int32_t>((isNormal << 10) | mant)) * scale;
  // exp == 31 gave 2^6 * (1024 + mant), whose mantissa bits are mant << 13: forcing the
  // exponent to all ones yields inf (mant == 0) or a NaN with the same payload.
  const uint32_t infNan = maskIf(exp == 0x1f) & 0x7f800000u;
  return std::bit_cast<float>(std::bit_cast<uint32_t>(mag) | infNan | sign);
}

inline uint16_t floatToHalfInline(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t absBits = u & 0x7fffffffu;
  // Let the float adder round: with e the float exponent clamped to the float16 range
  // [2^-14, 2^16], |f| + 2^(e + 13 - 127) has a ulp of 2^(e - 137), exactly the float16 ulp at
  // |f|'s binade (2^-24 for subnormals), so the sum is rounded to nearest even there, and its
  // bits minus those of the magic number are the rounded significand: 1024 + mantissa for
  // normals (2048 when rounding carries into the next binade), the subnormal mantissa
  // (1024 = the smallest normal on a carry) below 2^-14.
  uint32_t e = absBits >> 23;
  e = e < 113u ? 113u : e;
  e = e > 143u ? 143u : e;
  const float magic = std::bit_cast<float>((e + 13u) << 23);
  const uint32_t rounded = std::bit_cast<uint32_t>(std::bit_cast<float>(absBits) + magic) -
                           std::bit_cast<uint32_t>(magic);
  uint32_t r = ((e - 113u) << 10) + rounded;
  // [65520, 65536) carries to exactly 0x7c00 (inf) above; >= 2^16, inf and NaN saturate.
  r |= maskIf(absBits >= (143u << 23));
  r = r < 0x7c00u ? r : 0x7c00u;
  // NaN: quiet NaN keeping the top payload bits.
  r |= maskIf(absBits > 0x7f800000u) & (0x200u | ((absBits >> 13) & 0x3ffu));
  return static_cast<uint16_t>(r | sign);
}

// bfloat16: the top 16 bits of a float32.
inline float bfloat16ToFloatInline(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

// Rounded bfloat16 in the high 16 bits of the result, low 16 bits zero: lets two values that
// share a 32-bit word be converted without shifting them down first.
inline uint32_t floatToBfloat16HighInline(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  // Round to nearest even on the 16 dropped bits; a carry into the exponent is right, and
  // the largest finite values round up to inf as they should.
  const uint32_t rounded = u + 0x7fffu + ((u >> 16) & 1u);
  // NaN: keep sign and top payload bits, force the quiet bit so it cannot become inf.
  const uint32_t nan = u | 0x00400000u;
  const bool isNan = (u & 0x7fffffffu) > 0x7f800000u;
  return (isNan ? nan : rounded) & 0xffff0000u;
}

inline uint16_t floatToBfloat16Inline(float f) {
  return static_cast<uint16_t>(floatToBfloat16HighInline(f) >> 16);
}

}  // namespace half_detail
}  // namespace braid
