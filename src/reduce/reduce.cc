// Reduction kernels: one template per (dtype, op), instantiated into function-pointer tables.
//
// Every kernel is an elementwise loop over a small functor that the compiler inlines and
// auto-vectorizes at -O3 (float16/bfloat16 conversions are branch-free bit manipulation, see
// core/half.h). The loops carry __restrict__, which is only true when out aliases neither input;
// the contract allows out == a and/or out == b exactly, so each call dispatches on the pointers
// to one of four loops whose restrict-qualified pointers really are distinct.
//
// Each kernel exists twice on x86-64: compiled for the baseline ISA (SSE2) and for AVX2 + F16C,
// picked at run time (see ReduceIsa in reduce.h). On the AVX2 path float16 converts through the
// F16C instructions; everywhere else both variants are the same C++.
//
// Semantics:
//  - Integers wrap: arithmetic is done in an unsigned type of at least the same width and
//    converted back (modular since C++20), so no signed overflow can happen.
//  - float16/bfloat16 are widened to float32, combined, and rounded to nearest even on store.
//  - max/min are `a > b ? a : b` / `a < b ? a : b`, except that a NaN in either operand is the
//    result (a when both are NaN): a NaN on any rank makes the reduced element NaN, whatever
//    order an algorithm combines the ranks in (with the bare comparison a NaN in a was dropped
//    and one in b kept, so whether the result was NaN depended on the algorithm). -0 vs +0
//    compare equal, so the result is b (its sign does depend on the order). For the 16-bit
//    types the chosen operand's bits are returned unchanged (on the AVX2 float16 path a
//    signalling NaN comes back quiet, as the hardware conversion quiets it).
//  - avg: ReduceFn is the plain sum. ReduceFinalFn and FinishFn divide by nranks: integers
//    truncate toward zero (of the wrapped sum); floats divide in the accumulation type
//    (float32 for float16/bfloat16/float32, float64 for float64).
#include "reduce/reduce.h"

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/half.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define BRAID_REDUCE_HAVE_AVX2 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define BRAID_REDUCE_HAVE_AVX2 0
#endif

namespace braid {
namespace {

// ---- element types ------------------------------------------------------------------------

// Storage is what lives in memory, Compute what the arithmetic uses.
template <braidDataType_t D>
struct Traits;

template <typename T>
struct PlainTraits {
  using Storage = T;
  using Compute = T;
  static Compute load(Storage s) { return s; }
  static Storage store(Compute c) { return c; }
};

template <>
struct Traits<braidInt8> : PlainTraits<int8_t> {};
template <>
struct Traits<braidUint8> : PlainTraits<uint8_t> {};
template <>
struct Traits<braidInt32> : PlainTraits<int32_t> {};
template <>
struct Traits<braidUint32> : PlainTraits<uint32_t> {};
template <>
struct Traits<braidInt64> : PlainTraits<int64_t> {};
template <>
struct Traits<braidUint64> : PlainTraits<uint64_t> {};
template <>
struct Traits<braidFloat32> : PlainTraits<float> {};
template <>
struct Traits<braidFloat64> : PlainTraits<double> {};

template <>
struct Traits<braidFloat16> {
  using Storage = uint16_t;
  using Compute = float;
  static Compute load(Storage s) { return half_detail::halfToFloatInline(s); }
  static Storage store(Compute c) { return half_detail::floatToHalfInline(c); }
};

template <>
struct Traits<braidBfloat16> {
  using Storage = uint16_t;
  using Compute = float;
  static Compute load(Storage s) { return half_detail::bfloat16ToFloatInline(s); }
  static Storage store(Compute c) { return half_detail::floatToBfloat16Inline(c); }
};

// ---- arithmetic ---------------------------------------------------------------------------

// Unsigned type in which integer T wraps: never narrower than unsigned int, so that the usual
// promotions cannot turn the operation back into (overflowing) signed int arithmetic.
template <typename T>
using WrapType =
    std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

template <typename T>
inline T addOp(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<WrapType<T>>(a) + static_cast<WrapType<T>>(b));
  } else {
    return a + b;
  }
}

template <typename T>
inline T mulOp(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<WrapType<T>>(a) * static_cast<WrapType<T>>(b));
  } else {
    return a * b;
  }
}

// Integer division truncating toward zero. For types of at most 32 bits the quotient is
// computed in double, which is exact after truncation: |s| < 2^32, so the rounding error of
// s / n is below |s| * 2^-53 < 1 / n, while a non-integer quotient is at least 1 / n away from
// the nearest integer. This is several times faster than integer division and vectorizes.
template <typename T>
inline T divideTrunc(T s, int nranks) {
  static_assert(std::is_integral_v<T>);
  if constexpr (sizeof(T) < 4 || (sizeof(T) == 4 && std::is_signed_v<T>)) {
    return static_cast<T>(
        static_cast<int32_t>(static_cast<double>(s) / static_cast<double>(nranks)));
  } else if constexpr (sizeof(T) == 4) {
    return static_cast<T>(
        static_cast<int64_t>(static_cast<double>(s) / static_cast<double>(nranks)));
  } else {
    return static_cast<T>(s / static_cast<T>(nranks));  // 64-bit: C++ truncates toward zero
  }
}

// Divisor prepared once per call: the accumulation type for floats, the int for integers.
template <typename C>
using Divisor = std::conditional_t<std::is_integral_v<C>, int, C>;

template <typename C>
inline C divideOp(C s, Divisor<C> d) {
  if constexpr (std::is_integral_v<C>) {
    return divideTrunc(s, d);
  } else {
    return s / d;
  }
}

// ---- operations on the compute type -----------------------------------------------------------

// sum, prod, max, min; avg is the sum here (partial results of an average are sums).
template <braidRedOp_t O>
struct ComputeOp {
  static constexpr bool kSelects = O == braidMax || O == braidMin;
  // For max/min: whether the result is the first operand (see the NaN note at the top).
  // `a != a` is NaN-ness (false for integers), kept as a comparison so the loop vectorizes.
  template <typename C>
  static bool takeFirst(C a, C b) {
    if constexpr (std::is_floating_point_v<C>) {
      return (O == braidMax ? (a > b) : (a < b)) || isNan(a);
    } else {
      return O == braidMax ? (a > b) : (a < b);
    }
  }
  template <typename C>
  static bool isNan(C a) {
    if constexpr (std::is_floating_point_v<C>) {
      return std::isnan(a);
    } else {
      return false;
    }
  }
  template <typename C>
  C operator()(C a, C b) const {
    if constexpr (kSelects) {
      return takeFirst(a, b) ? a : b;
    } else if constexpr (O == braidProd) {
      return mulOp(a, b);
    } else {
      return addOp(a, b);
    }
  }
};

// The last step of avg: (a + b) / nranks.
template <typename C>
struct AvgFinalOp {
  static constexpr bool kSelects = false;
  Divisor<C> divisor;
  C operator()(C a, C b) const { return divideOp<C>(addOp(a, b), divisor); }
};

// avg on a single buffer: x / nranks.
template <typename C>
struct AvgFinishOp {
  Divisor<C> divisor;
  C operator()(C x) const { return divideOp<C>(x, divisor); }
};

// Lifts an operation on the compute type to the storage type. max/min return the chosen
// operand's bits, so they never round (and keep a NaN's payload).
template <braidDataType_t D, typename Op>
struct OnStorage {
  using Tr = Traits<D>;
  using S = typename Tr::Storage;
  Op op;
  S operator()(S a, S b) const {
    if constexpr (Op::kSelects) {
      return Op::takeFirst(Tr::load(a), Tr::load(b)) ? a : b;
    } else {
      return Tr::store(op(Tr::load(a), Tr::load(b)));
    }
  }
  S operator()(S x) const { return Tr::store(op(Tr::load(x))); }
};

template <braidDataType_t D>
Divisor<typename Traits<D>::Compute> makeDivisor(int nranks) {
  return static_cast<Divisor<typename Traits<D>::Compute>>(nranks);
}

// ---- loops --------------------------------------------------------------------------------
// always_inline: every kernel gets its own copy, compiled for the kernel's target ISA (a
// function without a target attribute may be inlined into one with a wider ISA, not back).

#define BRAID_ALWAYS_INLINE inline __attribute__((always_inline))

template <typename S, typename F>
BRAID_ALWAYS_INLINE void loopSeparate(S* __restrict__ out, const S* __restrict__ a,
                                      const S* __restrict__ b, size_t count, F f) {
  for (size_t i = 0; i < count; ++i) out[i] = f(a[i], b[i]);
}

template <typename S, typename F>
BRAID_ALWAYS_INLINE void loopOutIsA(S* __restrict__ out, const S* __restrict__ b, size_t count,
                                    F f) {
  for (size_t i = 0; i < count; ++i) out[i] = f(out[i], b[i]);
}

template <typename S, typename F>
BRAID_ALWAYS_INLINE void loopOutIsB(S* __restrict__ out, const S* __restrict__ a, size_t count,
                                    F f) {
  for (size_t i = 0; i < count; ++i) out[i] = f(a[i], out[i]);
}

template <typename S, typename F>
BRAID_ALWAYS_INLINE void loopAllSame(S* __restrict__ out, size_t count, F f) {
  for (size_t i = 0; i < count; ++i) out[i] = f(out[i], out[i]);
}

template <typename S, typename F>
BRAID_ALWAYS_INLINE void loopUnary(S* __restrict__ buf, size_t count, F f) {
  for (size_t i = 0; i < count; ++i) buf[i] = f(buf[i]);
}

// Buffers at any byte address are allowed (the C API does not require element alignment), and
// reading a float through a misaligned float* is undefined behaviour: such buffers take these
// loops, which move each element with memcpy (one unaligned load or store on x86). Each
// element is read before it is written, so out may alias a or b.
template <typename S>
BRAID_ALWAYS_INLINE bool misaligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % alignof(S) != 0;
}

template <typename S>
BRAID_ALWAYS_INLINE S loadAt(const void* base, size_t i) {
  S v;
  std::memcpy(&v, static_cast<const char*>(base) + i * sizeof(S), sizeof(S));
  return v;
}

template <typename S>
BRAID_ALWAYS_INLINE void storeAt(void* base, size_t i, S v) {
  std::memcpy(static_cast<char*>(base) + i * sizeof(S), &v, sizeof(S));
}

template <typename S, typename F>
BRAID_ALWAYS_INLINE void binaryUnaligned(void* out, const void* a, const void* b, size_t count,
                                         F f) {
  for (size_t i = 0; i < count; ++i) storeAt<S>(out, i, f(loadAt<S>(a, i), loadAt<S>(b, i)));
}

template <typename S, typename F>
BRAID_ALWAYS_INLINE void unary(void* bufV, size_t count, F f) {
  if (misaligned<S>(bufV)) {
    for (size_t i = 0; i < count; ++i) storeAt<S>(bufV, i, f(loadAt<S>(bufV, i)));
    return;
  }
  loopUnary(static_cast<S*>(bufV), count, f);
}

// Partial overlap is outside the contract; exact aliasing picks a loop with no false restrict.
template <typename S, typename F>
BRAID_ALWAYS_INLINE void binary(void* outV, const void* aV, const void* bV, size_t count, F f) {
  if (misaligned<S>(outV) || misaligned<S>(aV) || misaligned<S>(bV)) {
    binaryUnaligned<S>(outV, aV, bV, count, f);
    return;
  }
  S* out = static_cast<S*>(outV);
  const S* a = static_cast<const S*>(aV);
  const S* b = static_cast<const S*>(bV);
  if (out == a) {
    if (out == b) {
      loopAllSame(out, count, f);
    } else {
      loopOutIsA(out, b, count, f);
    }
  } else if (out == b) {
    loopOutIsB(out, a, count, f);
  } else {
    // a == b with a separate out is fine: restrict only forbids aliasing of modified objects.
    loopSeparate(out, a, b, count, f);
  }
}

// ---- bfloat16, two values per 32-bit word ------------------------------------------------------
// Both halves of a word widen to float32 with one shift or one mask, and narrow back the same
// way, so the loop runs on 32-bit lanes only; converting element by element instead spends
// most of its time packing and unpacking 16-bit lanes (1.5x slower). Each half is treated
// alike and written back where it came from, so byte order does not matter.

struct __attribute__((packed, may_alias)) Bf16Pair {
  uint32_t bits;
};

template <typename Op>
struct OnBf16Pair {
  Op op;
  static float low(uint32_t w) { return std::bit_cast<float>(w << 16); }
  static float high(uint32_t w) { return std::bit_cast<float>(w & 0xffff0000u); }
  static uint32_t pack(float h, float l) {
    return half_detail::floatToBfloat16HighInline(h) |
           (half_detail::floatToBfloat16HighInline(l) >> 16);
  }
  Bf16Pair operator()(Bf16Pair a, Bf16Pair b) const {
    if constexpr (Op::kSelects) {
      const uint32_t l = Op::takeFirst(low(a.bits), low(b.bits)) ? a.bits : b.bits;
      const uint32_t h = Op::takeFirst(high(a.bits), high(b.bits)) ? a.bits : b.bits;
      return {(h & 0xffff0000u) | (l & 0xffffu)};
    } else {
      return {pack(op(high(a.bits), high(b.bits)), op(low(a.bits), low(b.bits)))};
    }
  }
  Bf16Pair operator()(Bf16Pair x) const { return {pack(op(high(x.bits)), op(low(x.bits)))}; }
};

// ---- AVX2 + F16C: float16 through the hardware converters ------------------------------------
// GCC 12 cannot auto-vectorize _Float16 conversions, so two F16C intrinsics convert blocks to
// and from float32 scratch in L1, and the operation itself runs as an auto-vectorized float
// loop. A block is read completely before its output is written, so out may alias a or b.

#if BRAID_REDUCE_HAVE_AVX2
#define BRAID_TARGET_AVX2 __attribute__((target("avx2,f16c")))

constexpr size_t kHalfBlock = 512;

BRAID_TARGET_AVX2 inline void halfBlockToFloat(float* __restrict__ dst,
                                               const uint16_t* __restrict__ src, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) dst[i] = half_detail::halfToFloatInline(loadAt<uint16_t>(src, i));
}

BRAID_TARGET_AVX2 inline void floatBlockToHalf(uint16_t* __restrict__ dst,
                                               const float* __restrict__ src, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h =
        _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
  for (; i < n; ++i) storeAt<uint16_t>(dst, i, half_detail::floatToHalfInline(src[i]));
}

template <typename F>
BRAID_TARGET_AVX2 void halfBinaryF16c(void* outV, const void* aV, const void* bV, size_t count,
                                      F f) {
  auto* out = static_cast<uint16_t*>(outV);
  const auto* a = static_cast<const uint16_t*>(aV);
  const auto* b = static_cast<const uint16_t*>(bV);
  alignas(32) float fa[kHalfBlock];
  alignas(32) float fb[kHalfBlock];
  for (size_t start = 0; start < count; start += kHalfBlock) {
    const size_t n = count - start < kHalfBlock ? count - start : kHalfBlock;
    halfBlockToFloat(fa, a + start, n);
    halfBlockToFloat(fb, b + start, n);
    loopOutIsA(fa, fb, n, f);
    floatBlockToHalf(out + start, fa, n);
  }
}

template <typename F>
BRAID_TARGET_AVX2 void halfUnaryF16c(void* bufV, size_t count, F f) {
  auto* buf = static_cast<uint16_t*>(bufV);
  alignas(32) float fx[kHalfBlock];
  for (size_t start = 0; start < count; start += kHalfBlock) {
    const size_t n = count - start < kHalfBlock ? count - start : kHalfBlock;
    halfBlockToFloat(fx, buf + start, n);
    loopUnary(fx, n, f);
    floatBlockToHalf(buf + start, fx, n);
  }
}
#endif  // BRAID_REDUCE_HAVE_AVX2

// ---- kernels ------------------------------------------------------------------------------
// One body per entry point, templated on the ISA; the kAvx2 instantiation is inlined into a
// function compiled for AVX2.

template <ReduceIsa I, braidDataType_t D, typename Op>
BRAID_ALWAYS_INLINE void binaryBody(void* out, const void* a, const void* b, size_t count, Op op) {
#if BRAID_REDUCE_HAVE_AVX2
  if constexpr (I == ReduceIsa::kAvx2 && D == braidFloat16) {
    halfBinaryF16c(out, a, b, count, op);
    return;
  }
#endif
  if constexpr (D == braidBfloat16) {
    binary<Bf16Pair>(out, a, b, count / 2, OnBf16Pair<Op>{op});
    if (count % 2 != 0) {  // the odd last element
      const size_t last = count - 1;
      binary<uint16_t>(static_cast<uint16_t*>(out) + last, static_cast<const uint16_t*>(a) + last,
                       static_cast<const uint16_t*>(b) + last, 1, OnStorage<D, Op>{op});
    }
    return;
  }
  binary<typename Traits<D>::Storage>(out, a, b, count, OnStorage<D, Op>{op});
}

template <ReduceIsa I, braidDataType_t D, braidRedOp_t O>
BRAID_ALWAYS_INLINE void reduceBody(void* out, const void* a, const void* b, size_t count) {
  binaryBody<I, D>(out, a, b, count, ComputeOp<O>{});
}

template <ReduceIsa I, braidDataType_t D, braidRedOp_t O>
BRAID_ALWAYS_INLINE void reduceFinalBody(void* out, const void* a, const void* b, size_t count,
                                         int nranks) {
  if constexpr (O == braidAvg) {
    using C = typename Traits<D>::Compute;
    binaryBody<I, D>(out, a, b, count, AvgFinalOp<C>{makeDivisor<D>(nranks)});
  } else {
    binaryBody<I, D>(out, a, b, count, ComputeOp<O>{});
  }
}

template <ReduceIsa I, braidDataType_t D, braidRedOp_t O>
BRAID_ALWAYS_INLINE void finishBody(void* buf, size_t count, int nranks) {
  if constexpr (O == braidAvg) {
    using C = typename Traits<D>::Compute;
    const AvgFinishOp<C> op{makeDivisor<D>(nranks)};
#if BRAID_REDUCE_HAVE_AVX2
    if constexpr (I == ReduceIsa::kAvx2 && D == braidFloat16) {
      halfUnaryF16c(buf, count, op);
      return;
    }
#endif
    unary<typename Traits<D>::Storage>(buf, count, OnStorage<D, AvgFinishOp<C>>{op});
  }
}

template <braidDataType_t D, braidRedOp_t O>
void reduceKernel(void* out, const void* a, const void* b, size_t count) {
  reduceBody<ReduceIsa::kPortable, D, O>(out, a, b, count);
}
template <braidDataType_t D, braidRedOp_t O>
void reduceFinalKernel(void* out, const void* a, const void* b, size_t count, int nranks) {
  reduceFinalBody<ReduceIsa::kPortable, D, O>(out, a, b, count, nranks);
}
template <braidDataType_t D, braidRedOp_t O>
void finishKernel(void* buf, size_t count, int nranks) {
  finishBody<ReduceIsa::kPortable, D, O>(buf, count, nranks);
}

#if BRAID_REDUCE_HAVE_AVX2
template <braidDataType_t D, braidRedOp_t O>
BRAID_TARGET_AVX2 void reduceKernelAvx2(void* out, const void* a, const void* b, size_t count) {
  reduceBody<ReduceIsa::kAvx2, D, O>(out, a, b, count);
}
template <braidDataType_t D, braidRedOp_t O>
BRAID_TARGET_AVX2 void reduceFinalKernelAvx2(void* out, const void* a, const void* b, size_t count,
                                             int nranks) {
  reduceFinalBody<ReduceIsa::kAvx2, D, O>(out, a, b, count, nranks);
}
template <braidDataType_t D, braidRedOp_t O>
BRAID_TARGET_AVX2 void finishKernelAvx2(void* buf, size_t count, int nranks) {
  finishBody<ReduceIsa::kAvx2, D, O>(buf, count, nranks);
}
#endif

// ---- tables -------------------------------------------------------------------------------

constexpr int kNumTypes = kNumDataTypes;
constexpr int kNumOps = kNumRedOps;

// The kernels of one ISA, as three variable templates.
struct PortableKernels {
  template <braidDataType_t D, braidRedOp_t O>
  static constexpr ReduceFn kReduce = &reduceKernel<D, O>;
  template <braidDataType_t D, braidRedOp_t O>
  static constexpr ReduceFinalFn kReduceFinal = &reduceFinalKernel<D, O>;
  template <braidDataType_t D, braidRedOp_t O>
  static constexpr FinishFn kFinish = &finishKernel<D, O>;
};

#if BRAID_REDUCE_HAVE_AVX2
struct Avx2Kernels {
  template <braidDataType_t D, braidRedOp_t O>
  static constexpr ReduceFn kReduce = &reduceKernelAvx2<D, O>;
  template <braidDataType_t D, braidRedOp_t O>
  static constexpr ReduceFinalFn kReduceFinal = &reduceFinalKernelAvx2<D, O>;
  template <braidDataType_t D, braidRedOp_t O>
  static constexpr FinishFn kFinish = &finishKernelAvx2<D, O>;
};
#endif

// Rows in braidDataType_t order, columns in braidRedOp_t order.
struct Table {
  std::array<std::array<ReduceFn, kNumOps>, kNumTypes> reduce;
  std::array<std::array<ReduceFinalFn, kNumOps>, kNumTypes> reduceFinal;
  std::array<std::array<FinishFn, kNumOps>, kNumTypes> finish;
};

template <typename K, braidDataType_t D>
constexpr void fillRow(Table& t) {
  constexpr auto d = static_cast<size_t>(D);
  t.reduce[d] = {K::template kReduce<D, braidSum>, K::template kReduce<D, braidProd>,
                 K::template kReduce<D, braidMax>, K::template kReduce<D, braidMin>,
                 K::template kReduce<D, braidAvg>};
  t.reduceFinal[d] = {K::template kReduceFinal<D, braidSum>, K::template kReduceFinal<D, braidProd>,
                      K::template kReduceFinal<D, braidMax>, K::template kReduceFinal<D, braidMin>,
                      K::template kReduceFinal<D, braidAvg>};
  t.finish[d] = {K::template kFinish<D, braidSum>, K::template kFinish<D, braidProd>,
                 K::template kFinish<D, braidMax>, K::template kFinish<D, braidMin>,
                 K::template kFinish<D, braidAvg>};
}

template <typename K>
constexpr Table makeTable() {
  Table t{};
  fillRow<K, braidInt8>(t);
  fillRow<K, braidUint8>(t);
  fillRow<K, braidInt32>(t);
  fillRow<K, braidUint32>(t);
  fillRow<K, braidInt64>(t);
  fillRow<K, braidUint64>(t);
  fillRow<K, braidFloat16>(t);
  fillRow<K, braidFloat32>(t);
  fillRow<K, braidFloat64>(t);
  fillRow<K, braidBfloat16>(t);
  return t;
}

constexpr Table kPortableTable = makeTable<PortableKernels>();

#if BRAID_REDUCE_HAVE_AVX2
constexpr Table kAvx2Table = makeTable<Avx2Kernels>();

bool cpuHasAvx2() {
  __builtin_cpu_init();
  // avx2 also checks that the OS saves the YMM state; F16C through cpuid (leaf 1, ecx), as
  // clang's __builtin_cpu_supports does not know "f16c".
  if (!__builtin_cpu_supports("avx2")) return false;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}
#endif

// nullptr for an ISA this build or CPU lacks.
const Table* tableFor(ReduceIsa isa) {
  switch (isa) {
    case ReduceIsa::kPortable:
      return &kPortableTable;
    case ReduceIsa::kAvx2: {
#if BRAID_REDUCE_HAVE_AVX2
      static const bool kSupported = cpuHasAvx2();
      return kSupported ? &kAvx2Table : nullptr;
#else
      return nullptr;
#endif
    }
  }
  return nullptr;
}

}  // namespace

bool isReduceIsaSupported(ReduceIsa isa) { return tableFor(isa) != nullptr; }

ReduceIsa activeReduceIsa() {
  static const ReduceIsa kActive =
      isReduceIsaSupported(ReduceIsa::kAvx2) ? ReduceIsa::kAvx2 : ReduceIsa::kPortable;
  return kActive;
}

const char* reduceIsaName(ReduceIsa isa) {
  switch (isa) {
    case ReduceIsa::kPortable:
      return "portable";
    case ReduceIsa::kAvx2:
      return "avx2";
  }
  return "invalid";
}

ReduceFn getReduceFn(braidDataType_t type, braidRedOp_t op, ReduceIsa isa) {
  const Table* t = tableFor(isa);
  if (t == nullptr || !isValidDataType(type) || !isValidRedOp(op)) return nullptr;
  return t->reduce[static_cast<size_t>(type)][static_cast<size_t>(op)];
}

ReduceFinalFn getReduceFinalFn(braidDataType_t type, braidRedOp_t op, ReduceIsa isa) {
  const Table* t = tableFor(isa);
  if (t == nullptr || !isValidDataType(type) || !isValidRedOp(op)) return nullptr;
  return t->reduceFinal[static_cast<size_t>(type)][static_cast<size_t>(op)];
}

FinishFn getFinishFn(braidDataType_t type, braidRedOp_t op, ReduceIsa isa) {
  const Table* t = tableFor(isa);
  if (t == nullptr || !isValidDataType(type) || !isValidRedOp(op)) return nullptr;
  return t->finish[static_cast<size_t>(type)][static_cast<size_t>(op)];
}

ReduceFn getReduceFn(braidDataType_t type, braidRedOp_t op) {
  return getReduceFn(type, op, activeReduceIsa());
}

ReduceFinalFn getReduceFinalFn(braidDataType_t type, braidRedOp_t op) {
  return getReduceFinalFn(type, op, activeReduceIsa());
}

FinishFn getFinishFn(braidDataType_t type, braidRedOp_t op) {
  return getFinishFn(type, op, activeReduceIsa());
}

float halfToFloat(uint16_t h) { return half_detail::halfToFloatInline(h); }
uint16_t floatToHalf(float f) { return half_detail::floatToHalfInline(f); }
float bfloat16ToFloat(uint16_t b) { return half_detail::bfloat16ToFloatInline(b); }
uint16_t floatToBfloat16(float f) { return half_detail::floatToBfloat16Inline(f); }

}  // namespace braid
