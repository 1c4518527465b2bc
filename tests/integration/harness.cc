#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "gtest/gtest.h"

extern char** environ;

namespace braidtest {

const char* ResultName(braidResult_t r) {
  switch (r) {
    case braidSuccess:
      return "braidSuccess";
    case braidUnhandledCudaError:
      return "braidUnhandledCudaError";
    case braidSystemError:
      return "braidSystemError";
    case braidInternalError:
      return "braidInternalError";
    case braidInvalidArgument:
      return "braidInvalidArgument";
    case braidInvalidUsage:
      return "braidInvalidUsage";
    case braidRemoteError:
      return "braidRemoteError";
    case braidInProgress:
      return "braidInProgress";
    case braidTimeout:
      return "braidTimeout";
  }
  static thread_local char buf[32];
  std::snprintf(buf, sizeof(buf), "braidResult_t(%d)", static_cast<int>(r));
  return buf;
}

std::string LastError(braidComm_t comm) {
  const char* s = braidGetLastError(comm);
  return s == nullptr ? std::string("<null>") : std::string(s);
}

bool ContainsIgnoreCase(const std::string& haystack, const std::string& needle) {
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  return lower(haystack).find(lower(needle)) != std::string::npos;
}

bool NamesRank(const std::string& message, int rank) {
  const std::string want = "rank " + std::to_string(rank);
  for (size_t at = message.find(want); at != std::string::npos; at = message.find(want, at + 1)) {
    const size_t end = at + want.size();
    const bool wordStart = at == 0 || !std::isalnum(static_cast<unsigned char>(message[at - 1]));
    const bool wordEnd =
        end == message.size() || !std::isdigit(static_cast<unsigned char>(message[end]));
    if (wordStart && wordEnd) return true;
  }
  return false;
}

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

uint64_t Fnv1a(const void* data, size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < bytes; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

namespace {

std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

void WriteAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
}

}  // namespace

void RankContext::WriteLine(char kind, const std::string& text) {
  std::string line;
  line.reserve(text.size() + 3);
  line.push_back(kind);
  line.push_back(' ');
  line += OneLine(text);
  line.push_back('\n');
  std::lock_guard<std::mutex> lock(mu_);
  WriteAll(fd_, line.data(), line.size());
}

void RankContext::Fail(const char* file, int line, const std::string& message) {
  int n = ++failures_;
  if (n > kMaxReported) return;
  const char* base = std::strrchr(file, '/');
  std::ostringstream os;
  os << "rank " << rank << "/" << nranks << " at " << (base ? base + 1 : file) << ":" << line
     << ": " << message;
  WriteLine('F', os.str());
}

void RankContext::Record(const std::string& key, const std::string& value) {
  WriteLine('R', key + "\t" + value);
}

void RankContext::ReportHash(const std::string& label, const void* data, size_t bytes) {
  char hex[32];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(Fnv1a(data, bytes)));
  WriteLine('H', label + "\t" + hex);
}

void RankContext::Flush() {
  int n = failures_.load();
  if (n > kMaxReported) {
    std::ostringstream os;
    os << "rank " << rank << ": ... and " << (n - kMaxReported) << " more failures";
    WriteLine('F', os.str());
  }
}

void ClearLauncherEnv() {
  static const char* const kExact[] = {
      "RANK",       "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE",
      "GROUP_RANK", "ROLE_RANK",  "NODE_RANK",  "TORCHELASTIC_RUN_ID"};
  static const char* const kPrefixes[] = {"MASTER_", "OMPI_",  "PMIX_",    "PMI_",
                                          "SLURM_",  "BRAID_", "MPI_LOCAL"};
  std::vector<std::string> names;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    std::string name = kv.substr(0, kv.find('='));
    bool drop = false;
    for (const char* x : kExact) drop = drop || name == x;
    for (const char* p : kPrefixes) drop = drop || name.rfind(p, 0) == 0;
    if (drop) names.push_back(name);
  }
  for (const auto& n : names) ::unsetenv(n.c_str());
}

namespace {

struct Child {
  pid_t pid = -1;
  int fd = -1;  // read end
  std::string partial;
  bool exited = false;
  int status = 0;
  std::vector<std::string> failures;
};

[[noreturn]] void RunChild(int rank, int nranks, int fd, const std::vector<braidUniqueId>& ids,
                           const std::function<void(RankContext&)>& body, const RunOptions& options,
                           pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(3);
  RankContext ctx(rank, nranks, fd);
  ctx.ids = ids;
  if (options.clear_launcher_env) ClearLauncherEnv();
  for (const auto& [k, v] : options.env) ::setenv(k.c_str(), v.c_str(), 1);
  if (options.init_comm) {
    braidResult_t r = braidCommInitRank(&ctx.comm, nranks, ids[0], rank);
    if (r != braidSuccess) {
      ctx.Fail(
          __FILE__, __LINE__,
          std::string("braidCommInitRank failed: ") + ResultName(r) + ": " + LastError(nullptr));
      ctx.Flush();
      ::_exit(1);
    }
    int count = -1, me = -1;
    BT_CHECK_OK(ctx, braidCommCount(ctx.comm, &count));
    BT_CHECK_OK(ctx, braidCommUserRank(ctx.comm, &me));
    BT_CHECK(ctx, count == nranks) << "braidCommCount gave " << count;
    BT_CHECK(ctx, me == rank) << "braidCommUserRank gave " << me;
  }
  body(ctx);
  if (options.init_comm && options.destroy_comm && ctx.comm != nullptr) {
    BT_CHECK_OK(ctx, braidCommDestroy(ctx.comm));
  }
  ctx.Flush();
  ::_exit(ctx.failures() == 0 ? 0 : 1);
}

void ParseLine(int rank, const std::string& line, Child& child,
               std::map<std::string, std::map<int, std::string>>& hashes, RunResult& result) {
  if (line.size() < 2) return;
  char kind = line[0];
  std::string text = line.substr(2);
  if (kind == 'F') {
    child.failures.push_back(text);
  } else if (kind == 'R' || kind == 'H') {
    size_t tab = text.find('\t');
    std::string key = text.substr(0, tab);
    std::string value = tab == std::string::npos ? "" : text.substr(tab + 1);
    if (kind == 'R') {
      result.records[rank][key] = value;
    } else {
      hashes[key][rank] = value;
    }
  }
}

std::string DescribeStatus(int status) {
  std::ostringstream os;
  if (WIFEXITED(status)) {
    os << "exit code " << WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    os << "killed by signal " << WTERMSIG(status) << " (" << strsignal(WTERMSIG(status)) << ")";
  } else {
    os << "status " << status;
  }
  return os.str();
}

}  // namespace

RunResult RunRanks(int nranks, const std::function<void(RankContext&)>& body,
                   const RunOptions& options) {
  RunResult result;
  result.records.resize(static_cast<size_t>(nranks));
  result.wait_status.assign(static_cast<size_t>(nranks), -1);
  auto t0 = std::chrono::steady_clock::now();

  std::vector<braidUniqueId> ids(static_cast<size_t>(1 + options.extra_ids));
  for (auto& id : ids) {
    std::memset(&id, 0, sizeof(id));
    braidResult_t r = braidGetUniqueId(&id);
    if (r != braidSuccess) {
      ADD_FAILURE() << "braidGetUniqueId failed: " << ResultName(r) << ": " << LastError(nullptr);
      return result;
    }
  }

  std::vector<Child> children(static_cast<size_t>(nranks));
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  for (int r = 0; r < nranks; ++r) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe: " << std::strerror(errno);
      break;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      ::close(fds[0]);
      ::close(fds[1]);
      break;
    }
    if (pid == 0) {
      ::close(fds[0]);
      for (int q = 0; q < r; ++q) ::close(children[static_cast<size_t>(q)].fd);
      RunChild(r, nranks, fds[1], ids, body, options, parent);
    }
    ::close(fds[1]);
    children[static_cast<size_t>(r)].pid = pid;
    children[static_cast<size_t>(r)].fd = fds[0];
  }

  std::vector<pid_t> pids;
  for (auto& c : children) pids.push_back(c.pid);
  std::atomic<bool> finished{false};
  std::thread helper;
  if (options.parent_thread) {
    helper = std::thread([&] { options.parent_thread(pids, finished); });
  }

  std::map<std::string, std::map<int, std::string>> hashes;
  const auto deadline = t0 + std::chrono::milliseconds(options.timeout_ms);
  bool timed_out = false;
  char buf[4096];
  while (true) {
    bool all_done = true;
    for (auto& c : children) {
      if (c.pid > 0 && (!c.exited || c.fd >= 0)) all_done = false;
    }
    if (all_done) break;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    std::vector<pollfd> pfds;
    std::vector<size_t> which;
    for (size_t i = 0; i < children.size(); ++i) {
      if (children[i].fd >= 0) {
        pfds.push_back({children[i].fd, POLLIN, 0});
        which.push_back(i);
      }
    }
    int wait_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count());
    wait_ms = std::max(1, std::min(wait_ms, 50));
    int n = ::poll(pfds.data(), pfds.size(), wait_ms);
    if (n > 0) {
      for (size_t k = 0; k < pfds.size(); ++k) {
        if ((pfds[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        Child& c = children[which[k]];
        ssize_t got = ::read(c.fd, buf, sizeof(buf));
        if (got > 0) {
          c.partial.append(buf, static_cast<size_t>(got));
          size_t nl;
          while ((nl = c.partial.find('\n')) != std::string::npos) {
            ParseLine(static_cast<int>(which[k]), c.partial.substr(0, nl), c, hashes, result);
            c.partial.erase(0, nl + 1);
          }
        } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
          ::close(c.fd);
          c.fd = -1;
        }
      }
    }
    for (auto& c : children) {
      if (c.pid > 0 && !c.exited) {
        int st = 0;
        if (::waitpid(c.pid, &st, WNOHANG) == c.pid) {
          c.exited = true;
          c.status = st;
        }
      }
    }
  }

  std::vector<int> hung;
  for (size_t r = 0; r < children.size(); ++r) {
    Child& c = children[r];
    if (c.pid > 0 && !c.exited) {
      hung.push_back(static_cast<int>(r));
      ::kill(c.pid, SIGKILL);
    }
  }
  for (auto& c : children) {
    if (c.pid > 0 && !c.exited) {
      int st = 0;
      ::waitpid(c.pid, &st, 0);
      c.exited = true;
      c.status = st;
    }
    if (c.fd >= 0) {
      // Drain what is left (the child is gone, so this cannot block for long).
      ::fcntl(c.fd, F_SETFL, O_NONBLOCK);
      ssize_t got;
      while ((got = ::read(c.fd, buf, sizeof(buf))) > 0) c.partial.append(buf, got);
      ::close(c.fd);
      c.fd = -1;
    }
    if (!c.partial.empty()) {
      size_t idx = static_cast<size_t>(&c - children.data());
      size_t nl;
      while ((nl = c.partial.find('\n')) != std::string::npos) {
        ParseLine(static_cast<int>(idx), c.partial.substr(0, nl), c, hashes, result);
        c.partial.erase(0, nl + 1);
      }
    }
  }
  finished = true;
  if (helper.joinable()) helper.join();
  result.seconds = SecondsSince(t0);

  if (timed_out) {
    std::ostringstream os;
    os << "ranks";
    for (int r : hung) os << " " << r;
    os << " of " << nranks << " hung: did not exit within " << options.timeout_ms
       << " ms; killed with SIGKILL";
    ADD_FAILURE() << os.str();
  }
  bool clean = !timed_out;
  for (size_t r = 0; r < children.size(); ++r) {
    Child& c = children[r];
    result.wait_status[r] = c.status;
    bool may_die = options.may_die.count(static_cast<int>(r)) != 0;
    for (const auto& f : c.failures) ADD_FAILURE() << f;
    bool ok = WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0;
    if (!ok) clean = false;
    if (!ok && !may_die && c.pid > 0 &&
        std::find(hung.begin(), hung.end(), static_cast<int>(r)) == hung.end()) {
      if (c.failures.empty() || !WIFEXITED(c.status)) {
        ADD_FAILURE() << "rank " << r << " ended with " << DescribeStatus(c.status);
      }
    }
  }
  for (const auto& [label, per_rank] : hashes) {
    std::set<std::string> distinct;
    for (const auto& [r, h] : per_rank) distinct.insert(h);
    if (distinct.size() > 1) {
      std::ostringstream os;
      os << "results differ across ranks (not bitwise identical) for " << label << ":";
      for (const auto& [r, h] : per_rank) os << " rank" << r << "=" << h;
      ADD_FAILURE() << os.str();
    }
  }
  result.all_exited_cleanly = clean;
  return result;
}

namespace {
int BoundSocket(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int PortOf(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}
}  // namespace

// A connection one of them owns whose peer endpoint is a local endpoint the other owns.
bool ConnectedByTcp(pid_t a, pid_t b) {
  std::vector<std::pair<std::string, std::string>> ofA, ofB;  // (local, peer)
  FILE* f = popen("ss -tnpH state established 2>/dev/null", "r");
  if (f == nullptr) return false;
  char line[1024];
  while (fgets(line, sizeof(line), f) != nullptr) {
    const std::string l(line);
    const bool isA = l.find("pid=" + std::to_string(a) + ",") != std::string::npos;
    const bool isB = l.find("pid=" + std::to_string(b) + ",") != std::string::npos;
    if (!isA && !isB) continue;
    // The first two fields that look like address:port are the local and the peer endpoint.
    std::vector<std::string> ends;
    size_t i = 0;
    while (ends.size() < 2 && i < l.size()) {
      const size_t j = l.find_first_of(" \t\n", i);
      const std::string tok = l.substr(i, j == std::string::npos ? std::string::npos : j - i);
      if (tok.find(':') != std::string::npos && tok.rfind("users:", 0) != 0) ends.push_back(tok);
      if (j == std::string::npos) break;
      i = j + 1;
    }
    if (ends.size() < 2) continue;
    (isA ? ofA : ofB).emplace_back(ends[0], ends[1]);
  }
  pclose(f);
  for (const auto& [localA, peerA] : ofA) {
    for (const auto& [localB, peerB] : ofB) {
      if (peerA == localB && peerB == localA) return true;
    }
  }
  return false;
}

bool ProcessDead(pid_t pid) {
  // A killed child stays a zombie until the harness reaps it; its sockets are closed by then.
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return true;
  char state = '?';
  const int n = std::fscanf(f, "%*d (%*[^)]) %c", &state);
  std::fclose(f);
  return n == 1 && (state == 'Z' || state == 'X');
}

int FindFreePort() {
  int fd = BoundSocket(0);
  if (fd < 0) return -1;
  int port = PortOf(fd);
  ::close(fd);
  return port;
}

int FindFreePortPair() {
  for (int attempt = 0; attempt < 200; ++attempt) {
    int fd = BoundSocket(0);
    if (fd < 0) continue;
    int port = PortOf(fd);
    if (port >= 65535) {
      ::close(fd);
      continue;
    }
    int fd2 = BoundSocket(port + 1);
    ::close(fd);
    if (fd2 >= 0) {
      ::close(fd2);
      return port;
    }
  }
  return -1;
}

}  // namespace braidtest
