// braid-run's process manager: starts the ranks, relays their output line by line, forwards
// signals, and tears everything down when a rank fails.
//
// One thread, one poll() loop over a signalfd (SIGCHLD, SIGINT, SIGTERM, SIGHUP, all blocked)
// and the ranks' stdout/stderr pipes. Each rank leads its own process group, so signals reach
// its descendants too; braid-run is a child subreaper, so descendants a rank leaves behind are
// reparented to it and can be found, killed and reaped before it exits.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <string>
#include <unordered_map>
#include <vector>

#include "options.h"

namespace braid {

class Launcher {
 public:
  explicit Launcher(LaunchOptions options);
  ~Launcher();
  Launcher(const Launcher&) = delete;
  Launcher& operator=(const Launcher&) = delete;

  // Runs the job to the end and returns braid-run's exit status.
  int run();

 private:
  using Clock = std::chrono::steady_clock;

  struct OutputStream {
    int fd = -1;            // read end of the pipe; -1 once closed
    int sink = 1;           // braid-run's stdout or stderr
    std::string pending;    // bytes of an incomplete line
    bool mid_line = false;  // a part of the current line was already written (prefixed)
  };

  struct Rank {
    int index = 0;
    pid_t pid = -1;  // also its process group
    bool running = false;
    std::string prefix;
    OutputStream out;
    OutputStream err;
  };

  // kRunning: ranks run undisturbed. kTerminating: SIGTERM sent, SIGKILL at stage_deadline_.
  // kKilling: SIGKILL sent; anything still alive at stage_deadline_ is abandoned.
  enum class Stage { kRunning, kTerminating, kKilling };

  enum class ReadResult { kData, kWouldBlock, kClosed };

  bool setUp();
  bool spawn(Rank& rank);
  void loop();
  int pollTimeoutMs(Clock::time_point now) const;
  void handleDeadlines(Clock::time_point now);
  void handleSignals();
  bool reapChildren();  // true while children (ranks or leftovers) remain
  void onChildStatus(pid_t pid, int status);
  void fail(int exit_code);
  void escalate();
  void killEverything(int sig);
  std::vector<pid_t> leftoverChildren() const;

  ReadResult readStream(Rank& rank, OutputStream& stream);
  bool drainStream(Rank& rank, OutputStream& stream);  // true if it reached EOF
  bool drainAll();                                     // true if every stream is closed
  void emitLines(Rank& rank, OutputStream& stream, size_t scan_from, bool eof);
  void closeStream(OutputStream& stream);
  void write(int sink, const std::string& text);

  LaunchOptions options_;
  std::vector<Rank> ranks_;
  std::unordered_map<pid_t, int> rank_of_pid_;
  std::vector<char*> base_env_;          // braid-run's environment minus what it sets
  std::vector<std::string> shared_env_;  // what it sets, the same for every rank
  std::vector<char*> argv_;

  pid_t self_ = -1;
  int signal_fd_ = -1;
  int dev_null_ = -1;
  sigset_t child_mask_{};  // the signal mask braid-run started with, restored in children
  rlimit child_nofile_{};  // the fd limit braid-run started with, restored in children
  bool sink_broken_[3] = {false, false, false};
  std::vector<char> read_buffer_;

  int running_ranks_ = 0;
  int open_streams_ = 0;
  Stage stage_ = Stage::kRunning;
  Clock::time_point stage_deadline_{};
  bool has_timeout_ = false;
  Clock::time_point timeout_deadline_{};
  bool failed_ = false;
  int exit_code_ = 0;
  int first_signal_ = 0;
  int signals_received_ = 0;
};

}  // namespace braid
