// The fuzz target's parsers, picked by the first input byte (modulo kBraidFuzzTargets). The
// values are part of the regression inputs' format (tests/fuzz/regressions/<name>/): append,
// never renumber.
#pragma once

#include <cstddef>
#include <cstdint>

enum class BraidFuzzTarget : uint8_t {
  kHello = 0,
  kFrames = 1,
  kTable = 2,
  kUniqueId = 3,
  kText = 4,  // error payloads, secrets, sizes, interface specs, wire addresses
  kAddressText = 5,
  kRingFile = 6,
  kTunerFile = 7,
  kFailureNotice = 8,
};
inline constexpr int kBraidFuzzTargets = 9;

// The name of the parser a first byte picks: hello, frames, table, unique_id, text, address,
// ring_file, tuner_file, failure_notice.
const char* braidFuzzTargetName(uint8_t selector);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
