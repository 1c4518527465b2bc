#include "options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#ifndef BRAID_RUN_VERSION
#define BRAID_RUN_VERSION "unknown"
#endif

namespace braid {
namespace {

bool parseInt(const std::string& text, long min, long max, int* out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long value = std::strtol(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || value < min || value > max) return false;
  *out = static_cast<int>(value);
  return true;
}

bool parseSeconds(const std::string& text, double* out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  // Upper bound: about 30 years, far below what the deadline arithmetic can hold.
  if (errno != 0 || *end != '\0' || !std::isfinite(value) || value <= 0 || value > 1e9) {
    return false;
  }
  *out = value;
  return true;
}

}  // namespace

std::string launcherUsage() {
  return "Usage: braid-run -n N [options] [--] program [args...]\n"
         "\n"
         "Starts N ranks of a Braid program on this host and relays their output.\n"
         "\n"
         "Options:\n"
         "  -n, --nranks N      number of ranks to start (required, 1 to " +
         std::to_string(kMaxRanks) +
         ")\n"
         "      --timeout SEC   terminate all ranks after SEC seconds (default: no limit)\n"
         "      --no-prefix     do not prefix output lines with \"[rank] \"\n"
         "      --port P        root port (default: a free port on the root address)\n"
         "      --host ADDR     root address (default: 127.0.0.1)\n"
         "  -h, --help          print this help and exit\n"
         "      --version       print the version and exit\n"
         "\n"
         "Each rank runs in its own process group with BRAID_RANK, BRAID_NRANKS,\n"
         "BRAID_LOCAL_RANK, BRAID_LOCAL_SIZE, BRAID_ROOT_ADDR, BRAID_SECRET (generated unless\n"
         "already set) and BRAID_LAUNCHER=braid-run in its environment. Rank 0 inherits stdin;\n"
         "the other ranks read /dev/null.\n"
         "\n"
         "SIGINT, SIGTERM and SIGHUP are forwarded to all ranks; a second one kills them.\n"
         "When a rank fails, the others are terminated (SIGTERM, then SIGKILL after 5 s).\n"
         "\n"
         "Exit status: 0 when every rank exits 0; otherwise the status of the first rank to\n"
         "fail (128+N for signal N); 124 on timeout; 127 if the program cannot be executed;\n"
         "2 on a usage error.\n";
}

ParseOutcome parseLaunchOptions(int argc, const char* const* argv, LaunchOptions* options,
                                std::string* message) {
  *options = LaunchOptions{};
  bool have_nranks = false;
  int i = 1;
  while (i < argc) {
    std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') break;  // the program ("-" alone is one too)

    // Split "--name=value" and "-nVALUE".
    std::string name = arg;
    std::string value;
    bool has_value = false;
    if (arg.rfind("--", 0) == 0) {
      size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        has_value = true;
      }
    } else if (arg.size() > 2) {
      name = arg.substr(0, 2);
      value = arg.substr(2);
      has_value = true;
    }

    auto takeValue = [&]() -> bool {
      if (has_value) return true;
      if (i + 1 >= argc) {
        *message = "option '" + name + "' needs a value";
        return false;
      }
      value = argv[++i];
      return true;
    };
    auto noValue = [&]() -> bool {
      if (!has_value) return true;
      *message = "option '" + name + "' takes no value";
      return false;
    };

    if (name == "-h" || name == "--help") {
      if (!noValue()) return ParseOutcome::kUsageError;
      *message = launcherUsage();
      return ParseOutcome::kExitOk;
    } else if (name == "--version") {
      if (!noValue()) return ParseOutcome::kUsageError;
      *message = std::string("braid-run (Braid) ") + BRAID_RUN_VERSION + "\n";
      return ParseOutcome::kExitOk;
    } else if (name == "-n" || name == "--nranks") {
      if (!takeValue()) return ParseOutcome::kUsageError;
      if (!parseInt(value, 1, kMaxRanks, &options->nranks)) {
        *message = "invalid number of ranks '" + value + "' (expected 1 to " +
                   std::to_string(kMaxRanks) + ")";
        return ParseOutcome::kUsageError;
      }
      have_nranks = true;
    } else if (name == "--timeout") {
      if (!takeValue()) return ParseOutcome::kUsageError;
      if (!parseSeconds(value, &options->timeout_s)) {
        *message = "invalid timeout '" + value + "' (expected a positive number of seconds)";
        return ParseOutcome::kUsageError;
      }
    } else if (name == "--no-prefix") {
      if (!noValue()) return ParseOutcome::kUsageError;
      options->prefix = false;
    } else if (name == "--port") {
      if (!takeValue()) return ParseOutcome::kUsageError;
      if (!parseInt(value, 1, 65535, &options->port)) {
        *message = "invalid port '" + value + "' (expected 1 to 65535)";
        return ParseOutcome::kUsageError;
      }
    } else if (name == "--host") {
      if (!takeValue()) return ParseOutcome::kUsageError;
      if (value.empty()) {
        *message = "empty --host";
        return ParseOutcome::kUsageError;
      }
      options->host = value;
    } else {
      *message = "unknown option '" + arg + "'";
      return ParseOutcome::kUsageError;
    }
    ++i;
  }

  if (!have_nranks) {
    *message = "the number of ranks is required (-n N)";
    return ParseOutcome::kUsageError;
  }
  if (i >= argc) {
    *message = "no program given";
    return ParseOutcome::kUsageError;
  }
  for (; i < argc; ++i) options->command.emplace_back(argv[i]);
  return ParseOutcome::kRun;
}

}  // namespace braid
