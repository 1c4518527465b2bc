#include "core/datatype.h"

#include <array>
#include <cctype>

namespace braid {
namespace {

struct TypeInfo {
  braidDataType_t type;
  size_t size;
  const char* name;
};

// In enum order (checked below), so a type's entry is kTypes[type].
constexpr std::array<TypeInfo, kNumDataTypes> kTypes = {{
    {braidInt8, 1, "int8"},
    {braidUint8, 1, "uint8"},
    {braidInt32, 4, "int32"},
    {braidUint32, 4, "uint32"},
    {braidInt64, 8, "int64"},
    {braidUint64, 8, "uint64"},
    {braidFloat16, 2, "float16"},
    {braidFloat32, 4, "float32"},
    {braidFloat64, 8, "float64"},
    {braidBfloat16, 2, "bfloat16"},
}};

constexpr bool inEnumOrder() {
  for (size_t i = 0; i < kTypes.size(); ++i) {
    if (static_cast<size_t>(kTypes[i].type) != i) return false;
  }
  return true;
}
static_assert(inEnumOrder(), "kTypes must follow braidDataType_t's order");

struct Alias {
  const char* name;
  braidDataType_t type;
};
constexpr Alias kAliases[] = {
    {"char", braidInt8},      {"int", braidInt32},     {"half", braidFloat16},
    {"fp16", braidFloat16},   {"float", braidFloat32}, {"fp32", braidFloat32},
    {"double", braidFloat64}, {"fp64", braidFloat64},  {"bf16", braidBfloat16},
};

constexpr std::array<const char*, kNumRedOps> kOpNames = {"sum", "prod", "max", "min", "avg"};
static_assert(braidSum == 0 && braidProd == 1 && braidMax == 2 && braidMin == 3 && braidAvg == 4,
              "kOpNames must follow braidRedOp_t's order");

bool equalsIgnoreCase(std::string_view a, const char* b) {
  size_t i = 0;
  for (; i < a.size() && b[i] != '\0'; ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != static_cast<unsigned char>(b[i])) {
      return false;
    }
  }
  return i == a.size() && b[i] == '\0';
}

}  // namespace

bool isValidDataType(int type) { return type >= 0 && type < kNumDataTypes; }
bool isValidRedOp(int op) { return op >= 0 && op < kNumRedOps; }

size_t dataTypeSize(braidDataType_t type) {
  return isValidDataType(type) ? kTypes[static_cast<size_t>(type)].size : 0;
}

const char* dataTypeName(braidDataType_t type) {
  return isValidDataType(type) ? kTypes[static_cast<size_t>(type)].name : "invalid";
}

const char* redOpName(braidRedOp_t op) {
  return isValidRedOp(op) ? kOpNames[static_cast<size_t>(op)] : "invalid";
}

bool parseDataType(std::string_view name, braidDataType_t* type) {
  for (const TypeInfo& t : kTypes) {
    if (equalsIgnoreCase(name, t.name)) {
      *type = t.type;
      return true;
    }
  }
  for (const Alias& a : kAliases) {
    if (equalsIgnoreCase(name, a.name)) {
      *type = a.type;
      return true;
    }
  }
  return false;
}

bool parseRedOp(std::string_view name, braidRedOp_t* op) {
  for (size_t o = 0; o < kOpNames.size(); ++o) {
    if (equalsIgnoreCase(name, kOpNames[o])) {
      *op = static_cast<braidRedOp_t>(o);
      return true;
    }
  }
  return false;
}

}  // namespace braid
