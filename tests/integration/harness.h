// Multi-process test harness for the integration tests.
//
// RunRanks() makes a unique id in the parent (braidGetUniqueId before fork(), as the contract
// allows), forks one child per rank, and in each child calls braidCommInitRank, runs the test
// body, destroys the communicator and _exit()s. Children never use gtest assertions (they would
// not reach the parent); they report through a pipe with BT_CHECK and friends. The parent waits
// with a deadline, kills every child on timeout (naming the ranks that hung), and turns the
// children's reports into gtest failures. Each child may also report a hash of a buffer under a
// label; the parent checks that every rank that reported a label reported the same hash (the
// contract's bitwise identity across ranks).
#ifndef BRAID_TESTS_INTEGRATION_HARNESS_H_
#define BRAID_TESTS_INTEGRATION_HARNESS_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "braid/braid.h"

namespace braidtest {

const char* ResultName(braidResult_t r);
std::string LastError(braidComm_t comm);  // braidGetLastError, never NULL ("<null>" if it was)
bool ContainsIgnoreCase(const std::string& haystack, const std::string& needle);
// Whether an error message names `rank` ("rank 2", not "rank 20"). Every message starts with
// "rank <own rank>:", so a test checks for a rank other than its own: the failed peer.
bool NamesRank(const std::string& message, int rank);

class RankContext {
 public:
  RankContext(int rank_in, int nranks_in, int fd) : rank(rank_in), nranks(nranks_in), fd_(fd) {}

  const int rank;
  const int nranks;
  braidComm_t comm = nullptr;      // set by the harness when RunOptions::init_comm
  std::vector<braidUniqueId> ids;  // ids[0] is the id comm was made from; then the extra ids

  // Thread-safe. Only the first kMaxReported failures are sent in full.
  void Fail(const char* file, int line, const std::string& message);
  // Arbitrary key/value the parent can read back from RunResult::records.
  void Record(const std::string& key, const std::string& value);
  // FNV-1a of the buffer, compared across ranks by the parent under the label.
  void ReportHash(const std::string& label, const void* data, size_t bytes);
  int failures() const { return failures_.load(); }
  void Flush();  // writes the "and N more" line; called by the harness before _exit

 private:
  void WriteLine(char kind, const std::string& text);
  static constexpr int kMaxReported = 25;
  int fd_;
  std::mutex mu_;
  std::atomic<int> failures_{0};
};

// Streams a failure message; records it when destroyed.
class FailureStream {
 public:
  FailureStream(RankContext* ctx, const char* file, int line, const char* what)
      : ctx_(ctx), file_(file), line_(line) {
    os_ << what << ": ";
  }
  ~FailureStream() { ctx_->Fail(file_, line_, os_.str()); }
  template <typename T>
  FailureStream& operator<<(const T& v) {
    os_ << v;
    return *this;
  }

 private:
  RankContext* ctx_;
  const char* file_;
  int line_;
  std::ostringstream os_;
};

#define BT_CHECK(ctx, cond) \
  if (cond) {               \
  } else                    \
    ::braidtest::FailureStream(&(ctx), __FILE__, __LINE__, "CHECK(" #cond ") failed")

// Checks a braidResult_t; on mismatch adds the code's name and the comm's last error.
#define BT_CHECK_RESULT(ctx, expr, expected, comm_for_error)              \
  if (const braidResult_t bt_r_ = (expr); bt_r_ == (expected)) {          \
  } else                                                                  \
    ::braidtest::FailureStream(&(ctx), __FILE__, __LINE__, #expr)         \
        << "returned " << ::braidtest::ResultName(bt_r_) << ", expected " \
        << ::braidtest::ResultName(expected)                              \
        << " (last error: " << ::braidtest::LastError(comm_for_error) << ") "

#define BT_CHECK_OK(ctx, expr) BT_CHECK_RESULT(ctx, expr, braidSuccess, (ctx).comm)

struct RunOptions {
  int timeout_ms = 50000;  // for the whole run; every child is killed when it passes
  bool init_comm = true;   // braidCommInitRank(&ctx.comm, n, ids[0], rank) before the body
  bool destroy_comm = true;
  int extra_ids = 0;  // more unique ids made in the parent, in ctx.ids[1..]
  // Set in every child before init (after clearing the launcher variables if asked).
  std::vector<std::pair<std::string, std::string>> env;
  // Unset RANK, WORLD_SIZE, LOCAL_*, MASTER_*, OMPI_*, PMIX_*, PMI_*, SLURM_*, BRAID_* first.
  bool clear_launcher_env = false;
  std::set<int> may_die;  // ranks whose exit status (and missing reports) are not failures
  // Runs in a thread of the parent while the children run; `finished` turns true once every
  // child has exited (or was killed). Gets the children's pids, index = rank.
  std::function<void(const std::vector<pid_t>&, const std::atomic<bool>& finished)> parent_thread;
};

struct RunResult {
  bool all_exited_cleanly = false;
  std::vector<std::map<std::string, std::string>> records;  // per rank
  std::vector<int> wait_status;                             // per rank, from waitpid
  double seconds = 0;
};

// Runs `body` in `nranks` forked children. Adds gtest failures for everything that went wrong.
RunResult RunRanks(int nranks, const std::function<void(RankContext&)>& body,
                   const RunOptions& options = RunOptions());

// A TCP port on 127.0.0.1 that was free a moment ago.
int FindFreePort();
// A port p such that p and p + 1 were both free a moment ago.
int FindFreePortPair();
// Whether processes a and b share an established TCP connection (from `ss -tnpH`).
bool ConnectedByTcp(pid_t a, pid_t b);
// Whether the process has died (gone, or a zombie not yet reaped).
bool ProcessDead(pid_t pid);

// Unsets the launcher variables (see RunOptions::clear_launcher_env).
void ClearLauncherEnv();

double SecondsSince(std::chrono::steady_clock::time_point t0);

uint64_t Fnv1a(const void* data, size_t bytes);

}  // namespace braidtest

#endif  // BRAID_TESTS_INTEGRATION_HARNESS_H_
