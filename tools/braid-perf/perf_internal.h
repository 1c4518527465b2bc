// Internals of the perf harness shared by its files (perf_harness.cc, perf_options.cc,
// perf_run.cc, perf_data.cc): the name tables and small parsing helpers. Not for drivers.
#pragma once

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "perf_harness.h"

namespace braid::perf::detail {

// ---- names ------------------------------------------------------------------------------------

// Types and ops come from the library's one table (core/datatype.h), whose enums these mirror.

struct CollName {
  Collective coll;
  const char* name;
  const char* testName;
};
inline constexpr CollName kCollNames[] = {
    {Collective::kAllReduce, "allreduce", "all_reduce_perf"},
    {Collective::kReduceScatter, "reducescatter", "reduce_scatter_perf"},
    {Collective::kAllGather, "allgather", "all_gather_perf"},
    {Collective::kBroadcast, "broadcast", "broadcast_perf"},
    {Collective::kReduce, "reduce", "reduce_perf"},
};

inline std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline bool parseInt(const char* text, long min, long max, long* value) {
  if (text == nullptr || *text == '\0') return false;
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 0);
  if (errno != 0 || end == text || *end != '\0' || v < min || v > max) return false;
  *value = v;
  return true;
}

}  // namespace braid::perf::detail
