// Test data for the integration tests: every Braid dtype, inputs chosen so that the reduced
// result does not depend on the order of reduction (small integers for sums, +-1 / 2 / 0 for
// products, any finite value for max / min), a reference computed here, and element-wise
// checks that name the rank, index, expected and actual value. float16 / bfloat16 are converted
// here, independently of the library.
#ifndef BRAID_TESTS_INTEGRATION_DATA_H_
#define BRAID_TESTS_INTEGRATION_DATA_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "braid/braid.h"
#include "harness.h"

namespace braidtest {

inline constexpr braidDataType_t kAllDtypes[] = {
    braidInt8,   braidUint8,   braidInt32,   braidUint32,  braidInt64,
    braidUint64, braidFloat16, braidFloat32, braidFloat64, braidBfloat16};
inline constexpr braidRedOp_t kAllOps[] = {braidSum, braidProd, braidMax, braidMin, braidAvg};

size_t DtypeSize(braidDataType_t dt);
bool IsFloatType(braidDataType_t dt);
bool IsSignedType(braidDataType_t dt);
const char* DtypeName(braidDataType_t dt);
const char* OpName(braidRedOp_t op);

// IEEE binary16 and bfloat16, round to nearest even.
uint16_t FloatToHalf(float f);
float HalfToFloat(uint16_t h);
uint16_t FloatToBf16(float f);
float Bf16ToFloat(uint16_t b);

// A value of any dtype: `i` for the integer types, `f` for the float types.
struct Val {
  __int128 i = 0;
  double f = 0;
};
void StoreVal(braidDataType_t dt, void* base, size_t index, const Val& v);
Val LoadVal(braidDataType_t dt, const void* base, size_t index);
std::string FormatElem(braidDataType_t dt, const void* base, size_t index);

enum class Pattern {
  kSmall,        // sums: signed -5..5, unsigned 0..10 (exact in every dtype for <= 8 ranks)
  kProdSafe,     // products: 0, +-1, +-2 with |product| <= 4
  kFullRange,    // max / min: any finite, non-zero, normal value; any integer of the type
  kRandomFloat,  // floats in [-1, 1) with a full mantissa: sums are NOT exact
};
Pattern PatternFor(braidRedOp_t op);

// The input of `rank` at global element index `index`, representable in dt.
Val GenInput(braidDataType_t dt, Pattern p, uint64_t seed, int rank, size_t index);
void FillInputs(braidDataType_t dt, Pattern p, uint64_t seed, int rank, size_t global_offset,
                size_t count, void* out);
// out[k] = op over ranks 0..nranks-1 of GenInput(rank, global_offset + k).
void FillExpectedReduction(braidDataType_t dt, braidRedOp_t op, Pattern p, uint64_t seed,
                           int nranks, size_t global_offset, size_t count, void* out);

// Element-wise comparison (floats by value, so -0 == +0). Reports the first few mismatches.
bool CheckElements(RankContext& ctx, const std::string& label, braidDataType_t dt, const void* got,
                   const void* expected, size_t count);
// For inexact float sums: |got - ref| <= tol * sum(|inputs|) + tiny, with ref in double.
bool CheckApproxSum(RankContext& ctx, const std::string& label, braidDataType_t dt, braidRedOp_t op,
                    uint64_t seed, int nranks, const void* got, size_t count);

// A host buffer with guard bytes on both sides and an optional misalignment (in bytes) of the
// data pointer, so that writes out of bounds are caught.
class TestBuffer {
 public:
  explicit TestBuffer(size_t bytes, size_t misalign = 0, unsigned char fill = 0x5a);
  void* data() { return base() + kGuard + misalign_; }
  const void* data() const { return base() + kGuard + misalign_; }
  size_t size() const { return bytes_; }
  bool GuardsIntact() const;

 private:
  static constexpr size_t kGuard = 64;
  unsigned char* base() { return reinterpret_cast<unsigned char*>(storage_.data()); }
  const unsigned char* base() const {
    return reinterpret_cast<const unsigned char*>(storage_.data());
  }
  std::vector<uint64_t> storage_;
  size_t bytes_;
  size_t misalign_;
};

}  // namespace braidtest

#endif  // BRAID_TESTS_INTEGRATION_DATA_H_
