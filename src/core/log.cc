#include "core/log.h"

#include <strings.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace braid {

namespace {

LogLevel parseLevel() {
  const char* env = std::getenv("BRAID_DEBUG");  // NOLINT(concurrency-mt-unsafe): read once
  if (env == nullptr || *env == '\0') return LogLevel::kNone;
  if (strcasecmp(env, "WARN") == 0) return LogLevel::kWarn;
  if (strcasecmp(env, "INFO") == 0) return LogLevel::kInfo;
  if (strcasecmp(env, "TRACE") == 0) return LogLevel::kTrace;
  if (strcasecmp(env, "NONE") == 0 || strcasecmp(env, "0") == 0) return LogLevel::kNone;
  std::fprintf(stderr, "BRAID WARN unknown BRAID_DEBUG=%s (use WARN, INFO or TRACE); using WARN\n",
               env);
  return LogLevel::kWarn;
}

const char* levelName(LogLevel level) {
  switch (level) {
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kTrace:
      return "TRACE";
    default:
      return "";
  }
}

}  // namespace

LogLevel logLevel() {
  static const LogLevel level = parseLevel();  // read-once configuration
  return level;
}

void logMessage(LogLevel level, int rank, const char* fmt, ...) {
  char host[64] = {0};
  gethostname(host, sizeof(host) - 1);
  char body[2048];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(body, sizeof(body), fmt, args);
  va_end(args);
  char line[2300];
  if (rank >= 0) {
    std::snprintf(line, sizeof(line), "%s:%d [%d] BRAID %s %s\n", host, getpid(), rank,
                  levelName(level), body);
  } else {
    std::snprintf(line, sizeof(line), "%s:%d [-] BRAID %s %s\n", host, getpid(), levelName(level),
                  body);
  }
  // One write per line so lines of concurrent threads and processes do not interleave.
  ssize_t ignored = write(STDERR_FILENO, line, std::strlen(line));
  (void)ignored;
}

}  // namespace braid
