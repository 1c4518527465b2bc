// Logging to stderr, controlled by BRAID_DEBUG=WARN|INFO|TRACE (read once). Each line is
// prefixed "host:pid [rank] BRAID LEVEL" so interleaved output of many ranks stays readable.
#pragma once

#include <cstdarg>

namespace braid {

enum class LogLevel { kNone = 0, kWarn = 1, kInfo = 2, kTrace = 3 };

LogLevel logLevel();
inline bool logEnabled(LogLevel level) {
  return static_cast<int>(logLevel()) >= static_cast<int>(level);
}

// rank < 0: no rank known yet.
void logMessage(LogLevel level, int rank, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

}  // namespace braid

#define BRAID_LOG(level, rank, ...)                                                \
  do {                                                                             \
    if (::braid::logEnabled(level)) ::braid::logMessage(level, rank, __VA_ARGS__); \
  } while (0)
#define BRAID_WARN(rank, ...) BRAID_LOG(::braid::LogLevel::kWarn, rank, __VA_ARGS__)
#define BRAID_INFO(rank, ...) BRAID_LOG(::braid::LogLevel::kInfo, rank, __VA_ARGS__)
#define BRAID_TRACE(rank, ...) BRAID_LOG(::braid::LogLevel::kTrace, rank, __VA_ARGS__)
