// Reduction kernels: every dtype x op of the C API, on host memory.
//
// float16 and bfloat16 are computed in float32 and rounded to nearest even on store. Integer
// arithmetic wraps (two's complement) like the hardware, never undefined behaviour. Integer
// avg is the wrapped sum divided by nranks, truncated toward zero; float avg divides in the
// accumulation type (float32 for the 16-bit types).
#pragma once

#include <cstddef>
#include <cstdint>

#include "braid/braid.h"
#include "core/datatype.h"  // the type table: sizes, names, validity

namespace braid {

// out[i] = a[i] (op) b[i] for i < count. out may alias a or b (exactly, not partially).
// For braidAvg this is the plain sum: partial results of an average are sums.
using ReduceFn = void (*)(void* out, const void* a, const void* b, size_t count);
// The last reduction of an element: out[i] = finish(a[i] (op) b[i]); for braidAvg that is
// (a + b) / nranks, for every other op the same as ReduceFn.
using ReduceFinalFn = void (*)(void* out, const void* a, const void* b, size_t count, int nranks);
// In-place finish for paths that never reduce (nranks == 1): buf[i] = buf[i] / nranks for avg,
// nothing for other ops.
using FinishFn = void (*)(void* buf, size_t count, int nranks);

// Look-ups never fail for valid (type, op); they return nullptr for invalid values.
ReduceFn getReduceFn(braidDataType_t type, braidRedOp_t op);
ReduceFinalFn getReduceFinalFn(braidDataType_t type, braidRedOp_t op);
FinishFn getFinishFn(braidDataType_t type, braidRedOp_t op);

// Instruction-set variants of the kernels. Both are the same auto-vectorized C++: kPortable
// for the baseline ISA the library is compiled for, kAvx2 compiled for AVX2 + F16C (x86-64
// only; float16 converts through F16C there). The three-argument look-ups above use the best
// variant the CPU supports, chosen once per process; results are identical except that a
// signalling NaN may come back quiet. Tests and benchmarks can ask for a specific variant.
enum class ReduceIsa { kPortable = 0, kAvx2 = 1 };
inline constexpr int kNumReduceIsas = 2;
bool isReduceIsaSupported(ReduceIsa isa);  // compiled in and supported by this CPU
ReduceIsa activeReduceIsa();
const char* reduceIsaName(ReduceIsa isa);  // "portable", "avx2"
// nullptr for invalid (type, op) or an unsupported isa.
ReduceFn getReduceFn(braidDataType_t type, braidRedOp_t op, ReduceIsa isa);
ReduceFinalFn getReduceFinalFn(braidDataType_t type, braidRedOp_t op, ReduceIsa isa);
FinishFn getFinishFn(braidDataType_t type, braidRedOp_t op, ReduceIsa isa);

// Conversions used by the kernels and by tests (round to nearest even, NaN stays NaN).
float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);
float bfloat16ToFloat(uint16_t b);
uint16_t floatToBfloat16(float f);

}  // namespace braid
