// Tests of tools/braid-run, the local launcher: they run the built executable with /bin/sh ranks.
// The executable is $BRAID_RUN_BIN if set, else <dir of this test>/../tools/braid-run/braid-run;
// the tests skip when it is not there.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace braid {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kRunLimitS = 30;  // no test run may take longer; a hang fails instead

std::string braidRunPath() {
  const char* env = std::getenv("BRAID_RUN_BIN");
  if (env != nullptr && *env != '\0') return env;
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string exe(buf, static_cast<size_t>(n));
  return exe.substr(0, exe.rfind('/')) + "/../tools/braid-run/braid-run";
}

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// True once pid no longer exists (waits up to a second for it to go).
bool processGone(pid_t pid) {
  for (int i = 0; i < 100; ++i) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    ::usleep(10 * 1000);
  }
  return false;
}

// The pids that ranks announced with lines "[r] pid <pid>".
std::vector<pid_t> announcedPids(const std::string& out) {
  std::vector<pid_t> pids;
  static const std::regex kPidLine(R"(^\[\d+\] pid (\d+)$)");
  for (const std::string& line : splitLines(out)) {
    std::smatch m;
    if (std::regex_match(line, m, kPidLine)) pids.push_back(std::stoi(m[1]));
  }
  return pids;
}

// One braid-run process with its stdout and stderr captured.
class BraidRun {
 public:
  BraidRun() = default;
  BraidRun(const BraidRun&) = delete;
  BraidRun& operator=(const BraidRun&) = delete;
  ~BraidRun() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    for (int fd : {out_fd_, err_fd_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  // env: extra "NAME=value" entries; the caller's BRAID_* variables are dropped first.
  void start(const std::string& binary, const std::vector<std::string>& args,
             const std::vector<std::string>& env = {},
             const std::optional<std::string>& input = std::nullopt) {
    std::vector<std::string> argv_strings = {binary};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::strncmp(*e, "BRAID_", 6) != 0) env_strings.emplace_back(*e);
    }
    env_strings.insert(env_strings.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (std::string& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);

    int out[2], err[2], in[2];
    ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(err, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
    pid_t parent = ::getpid();
    start_ = Clock::now();
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      if (::getppid() != parent) ::_exit(126);
      struct sigaction action {};
      action.sa_handler = SIG_DFL;
      for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD})
        ::sigaction(sig, &action, nullptr);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(126);
    }
    ::close(out[1]);
    ::close(err[1]);
    ::close(in[0]);
    out_fd_ = out[0];
    err_fd_ = err[0];
    if (input) {
      size_t done = 0;
      while (done < input->size()) {
        ssize_t n = ::write(in[1], input->data() + done, input->size() - done);
        if (n <= 0) break;
        done += static_cast<size_t>(n);
      }
    }
    ::close(in[1]);  // EOF for rank 0's stdin
  }

  // Reads output until done(stdout) holds or limit_s passes; returns done(stdout).
  bool readUntil(const std::function<bool(const std::string&)>& done, double limit_s) {
    Clock::time_point deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                    std::chrono::duration<double>(limit_s));
    while (!done(out_)) {
      if (out_fd_ < 0 && err_fd_ < 0) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pump(static_cast<int>(left.count()));
    }
    return true;
  }

  void signal(int sig) { ASSERT_EQ(::kill(pid_, sig), 0); }

  // Waits for braid-run to exit (killing it after limit_s); exit code as a shell reports it.
  int wait(double limit_s = kRunLimitS) {
    Clock::time_point deadline = start_ + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(limit_s));
    for (;;) {
      if (out_fd_ >= 0 || err_fd_ >= 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() > 0) {
          pump(static_cast<int>(std::min<long long>(left.count(), 100)));
          continue;
        }
      } else {
        int status = 0;
        pid_t done = ::waitpid(pid_, &status, WNOHANG);
        if (done == pid_) {
          pid_ = -1;
          elapsed_s_ = secondsSince(start_);
          return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        if (Clock::now() < deadline) {
          ::usleep(5 * 1000);
          continue;
        }
      }
      ADD_FAILURE() << "braid-run did not finish within " << limit_s << " s; killed it.\nstdout:\n"
                    << out_ << "\nstderr:\n"
                    << err_;
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      elapsed_s_ = secondsSince(start_);
      return -1;
    }
  }

  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }
  double elapsedS() const { return elapsed_s_; }
  pid_t pid() const { return pid_; }

 private:
  void pump(int timeout_ms) {
    pollfd fds[2];
    nfds_t count = 0;
    for (int fd : {out_fd_, err_fd_}) {
      if (fd >= 0) fds[count++] = {fd, POLLIN, 0};
    }
    if (count == 0 || ::poll(fds, count, timeout_ms) <= 0) return;
    for (nfds_t i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      bool is_out = fds[i].fd == out_fd_;
      char buf[65536];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (is_out ? out_ : err_).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        (is_out ? out_fd_ : err_fd_) = -1;
      }
    }
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  Clock::time_point start_;
  double elapsed_s_ = 0;
};

class LauncherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = braidRunPath();
    if (binary_.empty() || ::access(binary_.c_str(), X_OK) != 0) {
      GTEST_SKIP() << "braid-run is not built at '" << binary_
                   << "' (build the braid-run target, or point BRAID_RUN_BIN at it)";
    }
    char dir[] = "/tmp/braid_launcher_test_XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    temp_dir_ = dir;
  }

  void TearDown() override {
    if (!temp_dir_.empty()) {
      std::string trigger = triggerPath();
      ::unlink(trigger.c_str());
      ::rmdir(temp_dir_.c_str());
    }
  }

  // A file whose appearance lets a rank go on (see waitForTrigger()).
  std::string triggerPath() const { return temp_dir_ + "/go"; }
  std::string waitForTrigger() const {
    return "while [ ! -e " + triggerPath() + " ]; do sleep 0.02; done; ";
  }
  void pullTrigger() const {
    int fd = ::open(triggerPath().c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }

  // braid-run -n nranks [options] -- /bin/sh -c script, to the end.
  int runScript(BraidRun& run, int nranks, const std::string& script,
                const std::vector<std::string>& options = {},
                const std::vector<std::string>& env = {},
                const std::optional<std::string>& input = std::nullopt) {
    run.start(binary_, scriptArgs(nranks, script, options), env, input);
    return run.wait();
  }

  static std::vector<std::string> scriptArgs(int nranks, const std::string& script,
                                             const std::vector<std::string>& options = {}) {
    std::vector<std::string> args = {"-n", std::to_string(nranks)};
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), {"--", "/bin/sh", "-c", script});
    return args;
  }

  std::string binary_;
  std::string temp_dir_;
};

constexpr const char* kPrintEnv =
    "echo \"R=$BRAID_RANK N=$BRAID_NRANKS LR=$BRAID_LOCAL_RANK LS=$BRAID_LOCAL_SIZE "
    "A=$BRAID_ROOT_ADDR S=$BRAID_SECRET L=$BRAID_LAUNCHER X=$BRAID_TEST_MARKER\"";

struct RankEnv {
  int rank = -1;
  std::map<std::string, std::string> vars;
};

// Parses the kPrintEnv lines: "[r] R=.. N=.. ...".
std::vector<RankEnv> parseEnvLines(const std::string& out) {
  std::vector<RankEnv> result;
  static const std::regex kLine(R"(^\[(\d+)\] (.*)$)");
  for (const std::string& line : splitLines(out)) {
    std::smatch m;
    if (!std::regex_match(line, m, kLine)) continue;
    RankEnv env;
    env.rank = std::stoi(m[1]);
    std::istringstream words(m[2].str());
    for (std::string word; words >> word;) {
      size_t eq = word.find('=');
      if (eq != std::string::npos) env.vars[word.substr(0, eq)] = word.substr(eq + 1);
    }
    result.push_back(env);
  }
  return result;
}

int portOf(const std::string& addr) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) return -1;
  return std::atoi(addr.c_str() + colon + 1);
}

TEST_F(LauncherTest, SetsTheEnvironmentOfEachRank) {
  BraidRun run;
  ASSERT_EQ(runScript(run, 4, kPrintEnv, {}, {"BRAID_TEST_MARKER=kept"}), 0) << run.err();
  std::vector<RankEnv> envs = parseEnvLines(run.out());
  ASSERT_EQ(envs.size(), 4u) << run.out();
  std::set<int> ranks;
  const std::regex hex32("^[0-9a-f]{32}$");
  for (const RankEnv& env : envs) {
    ranks.insert(env.rank);
    EXPECT_EQ(env.vars.at("R"), std::to_string(env.rank));
    EXPECT_EQ(env.vars.at("N"), "4");
    EXPECT_EQ(env.vars.at("LR"), std::to_string(env.rank));
    EXPECT_EQ(env.vars.at("LS"), "4");
    EXPECT_EQ(env.vars.at("L"), "braid-run");
    EXPECT_EQ(env.vars.at("X"), "kept");  // the rest of the environment passes through
    EXPECT_TRUE(std::regex_match(env.vars.at("S"), hex32)) << env.vars.at("S");
    EXPECT_EQ(env.vars.at("S"), envs[0].vars.at("S"));
    EXPECT_EQ(env.vars.at("A"), envs[0].vars.at("A"));
    EXPECT_EQ(env.vars.at("A").rfind("127.0.0.1:", 0), 0u) << env.vars.at("A");
    int port = portOf(env.vars.at("A"));
    EXPECT_GT(port, 0);
    EXPECT_LE(port, 65535);
  }
  EXPECT_EQ(ranks, (std::set<int>{0, 1, 2, 3}));
}

TEST_F(LauncherTest, PassesAnInheritedSecretThroughAndReplacesStaleVariables) {
  BraidRun run;
  ASSERT_EQ(runScript(run, 2, kPrintEnv, {},
                      {"BRAID_SECRET=inherited", "BRAID_RANK=77", "BRAID_ROOT_ADDR=1.2.3.4:5"}),
            0)
      << run.err();
  std::vector<RankEnv> envs = parseEnvLines(run.out());
  ASSERT_EQ(envs.size(), 2u) << run.out();
  for (const RankEnv& env : envs) {
    EXPECT_EQ(env.vars.at("S"), "inherited");
    EXPECT_EQ(env.vars.at("R"), std::to_string(env.rank));
    EXPECT_NE(env.vars.at("A"), "1.2.3.4:5");
  }
}

TEST_F(LauncherTest, FreshSecretAndPortForEachLaunch) {
  std::set<int> ports;
  std::set<std::string> secrets;
  for (int i = 0; i < 4; ++i) {
    BraidRun run;
    ASSERT_EQ(runScript(run, 1, kPrintEnv), 0) << run.err();
    std::vector<RankEnv> envs = parseEnvLines(run.out());
    ASSERT_EQ(envs.size(), 1u) << run.out();
    ports.insert(portOf(envs[0].vars.at("A")));
    secrets.insert(envs[0].vars.at("S"));
  }
  EXPECT_GE(ports.size(), 2u);  // the kernel picks free ports at random: 4 equal ones is a bug
  EXPECT_EQ(secrets.size(), 4u);
}

TEST_F(LauncherTest, HostAndPortOptions) {
  BraidRun v4;
  ASSERT_EQ(runScript(v4, 2, kPrintEnv, {"--host", "10.1.2.3", "--port", "12345"}), 0) << v4.err();
  for (const RankEnv& env : parseEnvLines(v4.out())) EXPECT_EQ(env.vars.at("A"), "10.1.2.3:12345");

  BraidRun v6;
  ASSERT_EQ(runScript(v6, 1, kPrintEnv, {"--host=::1", "--port=4567"}), 0) << v6.err();
  std::vector<RankEnv> envs = parseEnvLines(v6.out());
  ASSERT_EQ(envs.size(), 1u);
  EXPECT_EQ(envs[0].vars.at("A"), "[::1]:4567");
}

TEST_F(LauncherTest, OutputIsPrefixedCompleteAndInOrder) {
  constexpr int kRanks = 4;
  constexpr int kLines = 1000;
  BraidRun run;
  std::string script = "i=0; while [ $i -lt " + std::to_string(kLines) +
                       " ]; do echo \"out $BRAID_RANK $i\"; echo \"err $BRAID_RANK $i\" >&2; "
                       "i=$((i+1)); done";
  ASSERT_EQ(runScript(run, kRanks, script), 0) << run.err().substr(0, 2000);
  for (const auto& [stream, text] : {std::pair<std::string, std::string>{"out", run.out()},
                                     std::pair<std::string, std::string>{"err", run.err()}}) {
    std::vector<int> next(kRanks, 0);
    const std::regex line_re("^\\[(\\d+)\\] " + stream + " (\\d+) (\\d+)$");
    for (const std::string& line : splitLines(text)) {
      std::smatch m;
      ASSERT_TRUE(std::regex_match(line, m, line_re)) << stream << ": '" << line << "'";
      int prefix_rank = std::stoi(m[1]);
      ASSERT_EQ(prefix_rank, std::stoi(m[2])) << line;
      ASSERT_GE(prefix_rank, 0);
      ASSERT_LT(prefix_rank, kRanks);
      ASSERT_EQ(std::stoi(m[3]), next[static_cast<size_t>(prefix_rank)]) << line;
      ++next[static_cast<size_t>(prefix_rank)];
    }
    for (int r = 0; r < kRanks; ++r) {
      EXPECT_EQ(next[static_cast<size_t>(r)], kLines) << stream << " of rank " << r;
    }
  }
}

TEST_F(LauncherTest, LongLinesAreNeitherTruncatedNorSplit) {
  constexpr int kLength = 300000;  // well over a pipe's 64 KiB
  BraidRun run;
  std::string script = "head -c " + std::to_string(kLength) +
                       " /dev/zero | tr '\\0' x; echo; echo tail; "
                       "head -c " +
                       std::to_string(kLength) + " /dev/zero | tr '\\0' y >&2; echo >&2";
  ASSERT_EQ(runScript(run, 2, script), 0) << run.err().substr(0, 2000);
  std::vector<std::string> lines = splitLines(run.out());
  ASSERT_EQ(lines.size(), 4u);
  std::map<int, std::vector<std::string>> by_rank;
  for (const std::string& line : lines) {
    ASSERT_GE(line.size(), 4u);
    by_rank[line[1] - '0'].push_back(line.substr(4));
  }
  for (int r = 0; r < 2; ++r) {
    ASSERT_EQ(by_rank[r].size(), 2u);
    EXPECT_EQ(by_rank[r][0], std::string(kLength, 'x'));
    EXPECT_EQ(by_rank[r][1], "tail");
  }
  std::vector<std::string> err_lines = splitLines(run.err());
  ASSERT_EQ(err_lines.size(), 2u);
  for (const std::string& line : err_lines) EXPECT_EQ(line.substr(4), std::string(kLength, 'y'));
}

TEST_F(LauncherTest, FinalPartialLineIsPrinted) {
  BraidRun run;
  ASSERT_EQ(runScript(run, 1, "echo first; printf 'no newline'"), 0) << run.err();
  EXPECT_EQ(run.out(), "[0] first\n[0] no newline");
}

TEST_F(LauncherTest, NoPrefixPassesOutputThrough) {
  BraidRun run;
  ASSERT_EQ(runScript(run, 3, "echo plain; echo other >&2", {"--no-prefix"}), 0) << run.err();
  EXPECT_EQ(run.out(), "plain\nplain\nplain\n");
  EXPECT_EQ(run.err(), "other\nother\nother\n");
}

TEST_F(LauncherTest, SingleRank) {
  BraidRun run;
  ASSERT_EQ(runScript(run, 1, kPrintEnv), 0) << run.err();
  std::vector<RankEnv> envs = parseEnvLines(run.out());
  ASSERT_EQ(envs.size(), 1u);
  EXPECT_EQ(envs[0].rank, 0);
  EXPECT_EQ(envs[0].vars.at("N"), "1");
}

TEST_F(LauncherTest, StdinGoesToRankZeroOnly) {
  BraidRun run;
  ASSERT_EQ(runScript(run, 3, "cat; echo done", {}, {}, "hello\n"), 0) << run.err();
  std::vector<std::string> lines = splitLines(run.out());
  std::multiset<std::string> got(lines.begin(), lines.end());
  EXPECT_EQ(got, (std::multiset<std::string>{"[0] hello", "[0] done", "[1] done", "[2] done"}));
}

TEST_F(LauncherTest, FailingRankStopsTheOthersAndSetsTheExitStatus) {
  BraidRun run;
  // Rank 0 leaves a grandchild in its process group; rank 2 sleeps; rank 1 fails on the trigger.
  std::string script =
      "case $BRAID_RANK in "
      "0) sleep 60 & echo \"pid $!\"; wait;; "
      "1) " +
      waitForTrigger() + "echo failing; exit 3;; " + "*) echo \"pid $$\"; exec sleep 60;; esac";
  run.start(binary_, scriptArgs(3, script));
  ASSERT_TRUE(
      run.readUntil([](const std::string& out) { return announcedPids(out).size() == 2; }, 10))
      << run.out();
  std::vector<pid_t> pids = announcedPids(run.out());
  Clock::time_point failed_at = Clock::now();
  pullTrigger();
  EXPECT_EQ(run.wait(), 3) << run.err();
  EXPECT_LT(secondsSince(failed_at), 4.0);  // SIGTERM ends sleep at once; not the 5 s grace
  EXPECT_NE(run.out().find("[1] failing\n"), std::string::npos);
  EXPECT_NE(run.err().find("braid-run: rank 1 exited with status 3\n"), std::string::npos)
      << run.err();
  for (pid_t pid : pids) EXPECT_TRUE(processGone(pid)) << "pid " << pid << " survived";
}

TEST_F(LauncherTest, RankIgnoringSigtermIsKilledAfterTheGracePeriod) {
  BraidRun run;
  // Rank 0 says when SIGTERM reaches it and goes on: only SIGKILL can end it. The order of
  // events is checked, not a window of time (a loaded machine only makes things later): it got
  // SIGTERM, survived it, then was killed, and not before the grace period.
  std::string script =
      "if [ $BRAID_RANK = 0 ]; then trap 'echo got TERM' TERM; echo \"pid $$\"; "
      "while :; do sleep 0.1; done; fi; " +
      waitForTrigger() + "exit 5";
  run.start(binary_, scriptArgs(2, script));
  ASSERT_TRUE(
      run.readUntil([](const std::string& out) { return announcedPids(out).size() == 1; }, 10));
  pid_t pid = announcedPids(run.out())[0];
  Clock::time_point failed_at = Clock::now();
  pullTrigger();
  EXPECT_EQ(run.wait(), 5) << run.err();
  double took = secondsSince(failed_at);
  EXPECT_NE(run.out().find("[0] got TERM\n"), std::string::npos)
      << "rank 0 never got SIGTERM before it was killed:\n"
      << run.out();
  EXPECT_GT(took, 4.0);  // it got its 5 s (counted from after the failure, so never shorter)
  EXPECT_TRUE(processGone(pid)) << "rank 0 survived";  // SIGTERM did not end it: SIGKILL did
}

TEST_F(LauncherTest, RankKilledBySignalGives128PlusSignal) {
  BraidRun run;
  std::string script =
      "if [ $BRAID_RANK = 1 ]; then kill -KILL $$; fi; echo \"pid $$\"; exec sleep 60";
  EXPECT_EQ(runScript(run, 2, script), 128 + SIGKILL);
  EXPECT_LT(run.elapsedS(), 5.0);
  EXPECT_NE(run.err().find("braid-run: rank 1 killed by signal SIGKILL\n"), std::string::npos)
      << run.err();
  for (pid_t pid : announcedPids(run.out())) EXPECT_TRUE(processGone(pid));
}

TEST_F(LauncherTest, SigintTerminatesEverything) {
  BraidRun run;
  run.start(binary_, scriptArgs(3, "echo \"pid $$\"; exec sleep 60"));
  ASSERT_TRUE(
      run.readUntil([](const std::string& out) { return announcedPids(out).size() == 3; }, 10))
      << run.out();
  std::vector<pid_t> pids = announcedPids(run.out());
  Clock::time_point signalled_at = Clock::now();
  run.signal(SIGINT);
  EXPECT_EQ(run.wait(), 128 + SIGINT) << run.err();
  EXPECT_LT(secondsSince(signalled_at), 4.0);
  for (pid_t pid : pids) EXPECT_TRUE(processGone(pid)) << "pid " << pid << " survived";
}

TEST_F(LauncherTest, SecondSigintKillsRanksThatIgnoreTheFirst) {
  BraidRun run;
  run.start(binary_, scriptArgs(2, "trap '' INT; echo \"pid $$\"; while :; do sleep 0.1; done"));
  ASSERT_TRUE(
      run.readUntil([](const std::string& out) { return announcedPids(out).size() == 2; }, 10))
      << run.out();
  std::vector<pid_t> pids = announcedPids(run.out());
  run.signal(SIGINT);
  ::usleep(300 * 1000);
  EXPECT_EQ(::waitpid(run.pid(), nullptr, WNOHANG), 0) << "one SIGINT ignored by the ranks";
  Clock::time_point signalled_at = Clock::now();
  run.signal(SIGINT);
  EXPECT_EQ(run.wait(), 128 + SIGINT) << run.err();
  EXPECT_LT(secondsSince(signalled_at), 4.0);
  for (pid_t pid : pids) EXPECT_TRUE(processGone(pid)) << "pid " << pid << " survived";
}

TEST_F(LauncherTest, TimeoutTerminatesTheRanks) {
  BraidRun run;
  run.start(binary_, {"--timeout", "0.5", "-n", "2", "--", "sleep", "60"});
  EXPECT_EQ(run.wait(), 124);
  EXPECT_LT(run.elapsedS(), 5.0);
  EXPECT_NE(run.err().find("timeout"), std::string::npos) << run.err();
}

TEST_F(LauncherTest, LeftoverDescendantsAreKilled) {
  BraidRun run;
  // One keeps the output pipe open; the other, detached from it, is reparented to braid-run.
  std::string script =
      "sleep 60 & echo \"pid $!\"; (sleep 60 </dev/null >/dev/null 2>&1 & echo \"pid $!\"); "
      "echo bye";
  EXPECT_EQ(runScript(run, 1, script), 0) << run.err();
  EXPECT_LT(run.elapsedS(), 5.0);
  std::vector<pid_t> pids = announcedPids(run.out());
  ASSERT_EQ(pids.size(), 2u) << run.out();
  for (pid_t pid : pids) EXPECT_TRUE(processGone(pid)) << "pid " << pid << " survived";
}

TEST_F(LauncherTest, ExecFailureGives127) {
  BraidRun by_path;
  by_path.start(binary_, {"-n", "2", "/nonexistent/braid-run-test-program", "arg"});
  EXPECT_EQ(by_path.wait(), 127);
  EXPECT_NE(by_path.err().find("braid-run: cannot execute '/nonexistent/braid-run-test-program': "
                               "No such file or directory"),
            std::string::npos)
      << by_path.err();

  BraidRun by_name;  // looked up in PATH
  by_name.start(binary_, {"-n", "1", "braid-run-test-no-such-program"});
  EXPECT_EQ(by_name.wait(), 127);
  EXPECT_NE(by_name.err().find("cannot execute 'braid-run-test-no-such-program'"),
            std::string::npos)
      << by_name.err();
}

TEST_F(LauncherTest, FindsProgramsInPath) {
  BraidRun run;
  run.start(binary_, {"-n", "2", "--", "sh", "-c", "echo found"});
  EXPECT_EQ(run.wait(), 0) << run.err();
  std::vector<std::string> lines = splitLines(run.out());
  EXPECT_EQ(std::multiset<std::string>(lines.begin(), lines.end()),
            (std::multiset<std::string>{"[0] found", "[1] found"}));  // in either order
}

TEST_F(LauncherTest, UsageErrors) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"/bin/true"},
           {"-n", "0", "/bin/true"},
           {"-n", "x", "/bin/true"},
           {"-n", "2"},
           {"-n", "2", "--bogus", "/bin/true"},
           {"-n", "2", "--port", "70000", "/bin/true"},
           {"-n", "2", "--timeout", "-1", "/bin/true"},
       }) {
    BraidRun run;
    run.start(binary_, args);
    EXPECT_EQ(run.wait(), 2) << ::testing::PrintToString(args);
    EXPECT_NE(run.err().find("braid-run: "), std::string::npos) << run.err();
    EXPECT_EQ(run.out(), "");
  }

  BraidRun help;
  help.start(binary_, {"--help"});
  EXPECT_EQ(help.wait(), 0);
  EXPECT_NE(help.out().find("Usage: braid-run -n N"), std::string::npos) << help.out();

  BraidRun version;
  version.start(binary_, {"--version"});
  EXPECT_EQ(version.wait(), 0);
  EXPECT_EQ(version.out().rfind("braid-run ", 0), 0u) << version.out();
}

TEST_F(LauncherTest, OptionsAfterTheProgramBelongToIt) {
  BraidRun run;
  run.start(binary_, {"-n", "1", "/bin/echo", "-n", "5", "--help"});
  EXPECT_EQ(run.wait(), 0) << run.err();
  EXPECT_EQ(run.out(), "[0] 5 --help");  // echo -n: no newline
}

}  // namespace
}  // namespace braid
