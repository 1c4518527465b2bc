// The one table of the C API's element types and reduction ops: sizes, names and the
// spellings accepted on command lines. Every name Braid prints (logs, error messages, BRAID_CHECK,
// braid-perf's table, gradsync) comes from here, spelled as the C API spells the type
// (braidFloat16 -> "float16").
#pragma once

#include <cstddef>
#include <string_view>

#include "braid/braid.h"

namespace braid {

inline constexpr int kNumDataTypes = 10;
inline constexpr int kNumRedOps = 5;

// Takes an int: a C caller may pass any value as an enum.
bool isValidDataType(int type);
bool isValidRedOp(int op);
// Bytes per element, or 0 for a value outside the enum.
size_t dataTypeSize(braidDataType_t type);
// int8, uint8, int32, uint32, int64, uint64, float16, float32, float64, bfloat16; "invalid"
// for a value outside the enum.
const char* dataTypeName(braidDataType_t type);
// sum, prod, max, min, avg; "invalid" outside the enum.
const char* redOpName(braidRedOp_t op);

// A type from its name or a common alias, case-insensitive: the names above, and nccl-tests'
// and frameworks' spellings (char, int, half, fp16, float, fp32, double, fp64, bf16). False for
// anything else.
bool parseDataType(std::string_view name, braidDataType_t* type);
bool parseRedOp(std::string_view name, braidRedOp_t* op);

}  // namespace braid
