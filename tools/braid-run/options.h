// Command line of braid-run: braid-run -n N [options] [--] program [args...]
#pragma once

#include <string>
#include <vector>

namespace braid {

struct LaunchOptions {
  int nranks = 0;
  double timeout_s = 0;  // 0: no limit
  bool prefix = true;    // prefix each output line with "[rank] "
  int port = 0;          // 0: pick a free port on host
  std::string host = "127.0.0.1";
  std::vector<std::string> command;  // program and its arguments
};

enum class ParseOutcome {
  kRun,         // *options is filled in
  kExitOk,      // --help / --version: print *message to stdout, exit 0
  kUsageError,  // print *message (one line, no "braid-run: " prefix) to stderr, exit 2
};

inline constexpr int kMaxRanks = 65536;

// Options end at "--" or at the first argument that is not an option: everything from there on
// is the program and its arguments, passed through untouched.
ParseOutcome parseLaunchOptions(int argc, const char* const* argv, LaunchOptions* options,
                                std::string* message);

std::string launcherUsage();

}  // namespace braid
