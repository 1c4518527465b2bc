#include "launcher.h"

#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

extern char** environ;

namespace braid {
namespace {

constexpr auto kTermGrace = std::chrono::seconds(5);  // SIGTERM .. SIGKILL
constexpr auto kKillGrace = std::chrono::seconds(2);  // SIGKILL .. giving up
constexpr auto kKillTick = std::chrono::milliseconds(50);
constexpr size_t kReadChunk = 64 * 1024;
// A line longer than this is written in pieces (the first prefixed) rather than held whole.
constexpr size_t kMaxPendingLine = 16 * 1024 * 1024;
// Reads of a dead rank's pipe before concluding that something else still writes to it: more
// than any pipe buffer holds.
constexpr int kMaxDrainReads = 64;

// Variables braid-run sets for each rank; inherited values are replaced. BRAID_SECRET is
// handled apart: an inherited one is passed through.
constexpr const char* kSetVariables[] = {"BRAID_RANK",       "BRAID_NRANKS",    "BRAID_LOCAL_RANK",
                                         "BRAID_LOCAL_SIZE", "BRAID_ROOT_ADDR", "BRAID_LAUNCHER"};

bool writeAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n > 0) {
      data += n;
      size -= static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};  // a non-blocking stdout inherited from elsewhere
      ::poll(&p, 1, -1);
    } else {
      return false;
    }
  }
  return true;
}

void report(const std::string& text) {
  std::string line = "braid-run: " + text + "\n";
  writeAll(STDERR_FILENO, line.data(), line.size());
}

std::string signalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  if (abbrev != nullptr) return std::string("SIG") + abbrev;
  return "signal " + std::to_string(sig);
}

std::string formatSeconds(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", seconds);
  return buf;
}

// "[::1]" -> "::1" for getaddrinfo; "::1" -> "[::1]" for BRAID_ROOT_ADDR.
std::string bareHost(const std::string& host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

std::string addressHost(const std::string& host) {
  std::string bare = bareHost(host);
  if (bare.find(':') != std::string::npos) return "[" + bare + "]";
  return bare;
}

// Binds port 0 on host, reads the port the kernel chose and closes the socket again.
bool findFreePort(const std::string& host, int* port, std::string* error) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  int rc = ::getaddrinfo(host.c_str(), "0", &hints, &list);
  if (rc != 0) {
    *error = "cannot resolve '" + host + "': " + ::gai_strerror(rc);
    return false;
  }
  int last_errno = EADDRNOTAVAIL;
  bool found = false;
  for (addrinfo* ai = list; ai != nullptr && !found; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
      if (bound.ss_family == AF_INET6) {
        sockaddr_in6 in6;
        std::memcpy(&in6, &bound, sizeof in6);
        *port = ntohs(in6.sin6_port);
      } else {
        sockaddr_in in4;
        std::memcpy(&in4, &bound, sizeof in4);
        *port = ntohs(in4.sin_port);
      }
      found = true;
    } else {
      last_errno = errno;
    }
    ::close(fd);
  }
  ::freeaddrinfo(list);
  if (!found) *error = "cannot bind a port on '" + host + "': " + std::strerror(last_errno);
  return found;
}

bool makeSecret(std::string* secret, std::string* error) {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = std::string("getrandom: ") + std::strerror(errno);
      return false;
    }
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  secret->clear();
  for (unsigned char b : bytes) {
    secret->push_back(kHex[b >> 4]);
    secret->push_back(kHex[b & 0xf]);
  }
  return true;
}

// The parent pid field of /proc/<pid>/stat, or -1.
pid_t parentOf(const char* pid_text) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%s/stat", pid_text);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[512];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  // "pid (comm) state ppid ...": comm may hold anything, so look for the last ')'.
  char* paren = std::strrchr(buf, ')');
  if (paren == nullptr) return -1;
  char state = 0;
  int ppid = -1;
  if (std::sscanf(paren + 1, " %c %d", &state, &ppid) != 2) return -1;
  return ppid;
}

}  // namespace

Launcher::Launcher(LaunchOptions options) : options_(std::move(options)) {}

Launcher::~Launcher() {
  for (Rank& rank : ranks_) {
    if (rank.out.fd >= 0) ::close(rank.out.fd);
    if (rank.err.fd >= 0) ::close(rank.err.fd);
  }
  if (signal_fd_ >= 0) ::close(signal_fd_);
  if (dev_null_ >= 0) ::close(dev_null_);
}

int Launcher::run() {
  if (!setUp()) return 1;
  if (options_.timeout_s > 0) {
    has_timeout_ = true;
    timeout_deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(options_.timeout_s));
  }
  for (Rank& rank : ranks_) {
    if (!spawn(rank)) break;  // spawn called fail(): the loop below tears down the rest
  }
  loop();
  return exit_code_;
}

bool Launcher::setUp() {
  self_ = ::getpid();

  // SIGPIPE: a closed stdout must not kill braid-run and orphan the ranks. SIGCHLD: an inherited
  // SIG_IGN would make the kernel reap the ranks behind braid-run's back.
  struct sigaction action {};
  action.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &action, nullptr);
  action.sa_handler = SIG_DFL;
  ::sigaction(SIGCHLD, &action, nullptr);

  // Descendants that a rank leaves behind are reparented to braid-run, which kills and reaps them.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  // A signal braid-run was started ignoring (nohup, a background job of a script) stays
  // ignored, by braid-run and by the ranks, which inherit that.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction current {};
    if (::sigaction(sig, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) continue;
    sigaddset(&mask, sig);
  }
  ::sigprocmask(SIG_BLOCK, &mask, &child_mask_);
  signal_fd_ = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) {
    report(std::string("signalfd: ") + std::strerror(errno));
    return false;
  }

  // Two pipes per rank: raise the soft fd limit (the ranks get the original one back).
  ::getrlimit(RLIMIT_NOFILE, &child_nofile_);
  rlimit raised = child_nofile_;
  raised.rlim_cur = raised.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &raised);

  dev_null_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (dev_null_ < 0) {
    report(std::string("cannot open /dev/null: ") + std::strerror(errno));
    return false;
  }
  read_buffer_.resize(kReadChunk);

  int port = options_.port;
  std::string error;
  if (port == 0 && !findFreePort(bareHost(options_.host), &port, &error)) {
    report(error);
    return false;
  }

  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    std::string_view name = text.substr(0, text.find('='));
    bool replaced = std::any_of(std::begin(kSetVariables), std::end(kSetVariables),
                                [&](const char* set) { return name == set; });
    if (!replaced) base_env_.push_back(*entry);
  }
  const std::string nranks = std::to_string(options_.nranks);
  shared_env_.push_back("BRAID_NRANKS=" + nranks);
  shared_env_.push_back("BRAID_LOCAL_SIZE=" + nranks);
  shared_env_.push_back("BRAID_ROOT_ADDR=" + addressHost(options_.host) + ":" +
                        std::to_string(port));
  shared_env_.push_back("BRAID_LAUNCHER=braid-run");
  if (std::getenv("BRAID_SECRET") == nullptr) {
    std::string secret;
    if (!makeSecret(&secret, &error)) {
      report(error);
      return false;
    }
    shared_env_.push_back("BRAID_SECRET=" + secret);
  }

  for (const std::string& arg : options_.command) argv_.push_back(const_cast<char*>(arg.c_str()));
  argv_.push_back(nullptr);

  ranks_.resize(static_cast<size_t>(options_.nranks));
  for (int r = 0; r < options_.nranks; ++r) {
    Rank& rank = ranks_[static_cast<size_t>(r)];
    rank.index = r;
    if (options_.prefix) rank.prefix = "[" + std::to_string(r) + "] ";
    rank.out.sink = STDOUT_FILENO;
    rank.err.sink = STDERR_FILENO;
  }
  return true;
}

bool Launcher::spawn(Rank& rank) {
  // The per-rank environment, built before fork so that the child only calls async-signal-safe
  // functions.
  std::string rank_text = std::to_string(rank.index);
  std::string rank_var = "BRAID_RANK=" + rank_text;
  std::string local_rank_var = "BRAID_LOCAL_RANK=" + rank_text;
  std::vector<char*> envp = base_env_;
  envp.push_back(rank_var.data());
  envp.push_back(local_rank_var.data());
  for (std::string& var : shared_env_) envp.push_back(var.data());
  envp.push_back(nullptr);

  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  int exec_pipe[2] = {-1, -1};  // CLOEXEC: EOF when exec succeeds, errno when it fails
  auto closeAll = [&]() {
    for (int* p : {out_pipe, err_pipe, exec_pipe}) {
      for (int i = 0; i < 2; ++i) {
        if (p[i] >= 0) ::close(p[i]);
      }
    }
  };
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    report(std::string("pipe: ") + std::strerror(errno));
    closeAll();
    fail(1);
    return false;
  }

  pid_t pid = ::fork();
  if (pid < 0) {
    report(std::string("fork: ") + std::strerror(errno));
    closeAll();
    fail(1);
    return false;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);  // braid-run dies: so does the rank
    if (::getppid() != self_) ::_exit(127);
    struct sigaction action {};
    action.sa_handler = SIG_DFL;
    ::sigaction(SIGPIPE, &action, nullptr);
    ::sigprocmask(SIG_SETMASK, &child_mask_, nullptr);
    if (rank.index != 0) ::dup2(dev_null_, STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::setrlimit(RLIMIT_NOFILE, &child_nofile_);
    environ = envp.data();
    ::execvp(argv_[0], argv_.data());
    int err = errno;
    ssize_t ignored = ::write(exec_pipe[1], &err, sizeof err);
    (void)ignored;
    ::_exit(127);
  }

  ::setpgid(pid, pid);  // also here, so that the group exists before any signal is sent to it
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(exec_pipe[1]);
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(exec_pipe[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  ::close(exec_pipe[0]);

  rank.pid = pid;
  rank.running = true;
  rank_of_pid_[pid] = rank.index;
  ++running_ranks_;
  rank.out.fd = out_pipe[0];
  rank.err.fd = err_pipe[0];
  for (int fd : {rank.out.fd, rank.err.fd}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  open_streams_ += 2;

  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    // The child exits 127 at once; fail() first so that its exit is not reported again.
    report("cannot execute '" + options_.command[0] + "': " + std::strerror(exec_errno));
    fail(127);
    return false;
  }
  return true;
}

void Launcher::loop() {
  std::vector<pollfd> fds;
  std::vector<std::pair<Rank*, OutputStream*>> owners;
  for (;;) {
    Clock::time_point now = Clock::now();
    handleDeadlines(now);
    if (stage_ == Stage::kKilling) {
      if (now >= stage_deadline_) {
        bool children = reapChildren();
        drainAll();
        if (running_ranks_ > 0 || children || open_streams_ > 0) {
          report("some processes survived SIGKILL or still hold the output pipes; giving up");
        }
        for (Rank& rank : ranks_) {
          for (OutputStream* stream : {&rank.out, &rank.err}) {
            if (stream->fd < 0) continue;
            emitLines(rank, *stream, stream->pending.size(), true);
            closeStream(*stream);
          }
        }
        return;
      }
      // Descendants of killed processes are reparented here as they die: kill those too.
      for (pid_t pid : leftoverChildren()) ::kill(pid, SIGKILL);
    }
    if (running_ranks_ == 0) {
      bool closed = drainAll();
      bool children = reapChildren();
      if (closed && !children) return;
      // Every rank is gone, but something it started lives on (or holds its pipes).
      if (stage_ == Stage::kRunning) escalate();
    }

    fds.clear();
    owners.clear();
    fds.push_back({signal_fd_, POLLIN, 0});
    owners.emplace_back(nullptr, nullptr);
    for (Rank& rank : ranks_) {
      for (OutputStream* stream : {&rank.out, &rank.err}) {
        if (stream->fd < 0) continue;
        fds.push_back({stream->fd, POLLIN, 0});
        owners.emplace_back(&rank, stream);
      }
    }
    int ready = ::poll(fds.data(), fds.size(), pollTimeoutMs(now));
    if (ready < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      report(std::string("poll: ") + std::strerror(errno));
      fail(1);
      if (stage_ != Stage::kKilling) {
        stage_ = Stage::kTerminating;
        escalate();
      }
      continue;
    }
    if (ready == 0) continue;
    if (fds[0].revents != 0) handleSignals();
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto [rank, stream] = owners[i];
      if (stream->fd != fds[i].fd) continue;  // closed meanwhile (a rank's exit drains it)
      readStream(*rank, *stream);
    }
  }
}

int Launcher::pollTimeoutMs(Clock::time_point now) const {
  std::optional<Clock::time_point> next;
  auto earliest = [&](Clock::time_point t) {
    if (!next || t < *next) next = t;
  };
  if (has_timeout_ && stage_ == Stage::kRunning && running_ranks_ > 0) earliest(timeout_deadline_);
  if (stage_ != Stage::kRunning) earliest(stage_deadline_);
  if (stage_ == Stage::kKilling) earliest(now + kKillTick);
  if (!next) return -1;
  if (*next <= now) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
  return static_cast<int>(std::min<long long>(ms, INT_MAX));
}

void Launcher::handleDeadlines(Clock::time_point now) {
  if (has_timeout_ && stage_ == Stage::kRunning && running_ranks_ > 0 && now >= timeout_deadline_) {
    has_timeout_ = false;
    report("timeout: ranks still running after " + formatSeconds(options_.timeout_s) +
           " s; terminating them");
    fail(124);
  }
  if (stage_ == Stage::kTerminating && now >= stage_deadline_) escalate();
}

void Launcher::handleSignals() {
  bool child_event = false;
  signalfd_siginfo info;
  while (::read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGCHLD) {
      child_event = true;
      continue;
    }
    ++signals_received_;
    if (signals_received_ == 1) {
      first_signal_ = sig;
      for (Rank& rank : ranks_) {
        if (rank.running) ::kill(-rank.pid, sig);
      }
    } else if (stage_ != Stage::kKilling) {
      report("got " + signalName(sig) + " again; killing all ranks");
      if (!failed_) {
        failed_ = true;
        exit_code_ = 128 + first_signal_;
      }
      stage_ = Stage::kTerminating;
      escalate();
    }
  }
  if (child_event) reapChildren();
}

bool Launcher::reapChildren() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG | WUNTRACED);
    if (pid > 0) {
      onChildStatus(pid, status);
    } else if (pid == 0) {
      return true;
    } else if (errno != EINTR) {
      return false;  // ECHILD
    }
  }
}

void Launcher::onChildStatus(pid_t pid, int status) {
  auto it = rank_of_pid_.find(pid);
  if (it == rank_of_pid_.end()) return;  // a reparented descendant: reaped, nothing more
  Rank& rank = ranks_[static_cast<size_t>(it->second)];
  if (!rank.running) return;

  if (WIFSTOPPED(status)) {
    int sig = WSTOPSIG(status);
    // A rank is not in the terminal's foreground process group: using the terminal stops it.
    // Waiting for it would hang forever, so treat it as a failure.
    if ((sig == SIGTTIN || sig == SIGTTOU) && stage_ == Stage::kRunning && !failed_) {
      report("rank " + std::to_string(rank.index) + " stopped by " + signalName(sig) +
             ": ranks run in their own process group and cannot use the terminal"
             " (redirect braid-run's stdin)");
      fail(128 + sig);
    }
    return;
  }
  if (!WIFEXITED(status) && !WIFSIGNALED(status)) return;

  rank.running = false;
  --running_ranks_;
  if (stage_ != Stage::kRunning || failed_) return;  // failures caused by the teardown
  std::string what;
  int code = 0;
  if (WIFEXITED(status)) {
    code = WEXITSTATUS(status);
    what = "exited with status " + std::to_string(code);
  } else {
    code = 128 + WTERMSIG(status);
    what = "killed by signal " + signalName(WTERMSIG(status));
  }
  if (code == 0) return;
  // Its last words first, then the verdict.
  drainStream(rank, rank.out);
  drainStream(rank, rank.err);
  report("rank " + std::to_string(rank.index) + " " + what);
  fail(code);
}

void Launcher::fail(int exit_code) {
  if (!failed_) {
    failed_ = true;
    exit_code_ = exit_code;
  }
  if (stage_ == Stage::kRunning) escalate();
}

void Launcher::escalate() {
  Clock::time_point now = Clock::now();
  if (stage_ == Stage::kRunning) {
    stage_ = Stage::kTerminating;
    stage_deadline_ = now + kTermGrace;
    killEverything(SIGTERM);
  } else if (stage_ == Stage::kTerminating) {
    stage_ = Stage::kKilling;
    stage_deadline_ = now + kKillGrace;
    killEverything(SIGKILL);
  }
}

void Launcher::killEverything(int sig) {
  // The ranks' process groups (those of exited ranks too: what they left behind may be there),
  // and braid-run's other children: descendants reparented to it.
  std::vector<pid_t> targets;
  for (const Rank& rank : ranks_) {
    if (rank.pid > 0) targets.push_back(-rank.pid);
  }
  for (pid_t pid : leftoverChildren()) targets.push_back(pid);
  for (pid_t target : targets) {
    ::kill(target, sig);
    if (sig != SIGKILL) ::kill(target, SIGCONT);  // a stopped process acts on it only when resumed
  }
}

std::vector<pid_t> Launcher::leftoverChildren() const {
  std::vector<pid_t> result;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return result;
  while (dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    auto it = rank_of_pid_.find(static_cast<pid_t>(pid));
    if (it != rank_of_pid_.end() && ranks_[static_cast<size_t>(it->second)].running) continue;
    if (parentOf(entry->d_name) == self_) result.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(dir);
  return result;
}

Launcher::ReadResult Launcher::readStream(Rank& rank, OutputStream& stream) {
  if (stream.fd < 0) return ReadResult::kClosed;
  ssize_t n = ::read(stream.fd, read_buffer_.data(), read_buffer_.size());
  if (n > 0) {
    size_t old_size = stream.pending.size();
    stream.pending.append(read_buffer_.data(), static_cast<size_t>(n));
    emitLines(rank, stream, old_size, false);
    return ReadResult::kData;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    return ReadResult::kWouldBlock;
  }
  emitLines(rank, stream, stream.pending.size(), true);  // EOF (or an error): the partial line
  closeStream(stream);
  return ReadResult::kClosed;
}

bool Launcher::drainStream(Rank& rank, OutputStream& stream) {
  for (int i = 0; i < kMaxDrainReads; ++i) {
    ReadResult result = readStream(rank, stream);
    if (result == ReadResult::kClosed) return true;
    if (result == ReadResult::kWouldBlock) return false;
  }
  return false;
}

bool Launcher::drainAll() {
  for (Rank& rank : ranks_) {
    drainStream(rank, rank.out);
    drainStream(rank, rank.err);
  }
  return open_streams_ == 0;
}

void Launcher::emitLines(Rank& rank, OutputStream& stream, size_t scan_from, bool eof) {
  std::string& pending = stream.pending;
  std::string batch;
  size_t start = 0;
  for (size_t nl = pending.find('\n', scan_from); nl != std::string::npos;
       nl = pending.find('\n', start)) {
    if (!stream.mid_line) batch += rank.prefix;
    batch.append(pending, start, nl + 1 - start);
    stream.mid_line = false;
    start = nl + 1;
  }
  if (start > 0) pending.erase(0, start);
  if (!pending.empty() && (eof || pending.size() >= kMaxPendingLine)) {
    if (!stream.mid_line) batch += rank.prefix;
    batch += pending;
    pending.clear();
    stream.mid_line = true;
  }
  if (!batch.empty()) write(stream.sink, batch);
}

void Launcher::closeStream(OutputStream& stream) {
  if (stream.fd < 0) return;
  ::close(stream.fd);
  stream.fd = -1;
  --open_streams_;
}

void Launcher::write(int sink, const std::string& text) {
  if (sink_broken_[sink]) return;
  if (!writeAll(sink, text.data(), text.size())) sink_broken_[sink] = true;  // e.g. EPIPE: drop
}

}  // namespace braid
