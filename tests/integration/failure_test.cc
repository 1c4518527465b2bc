// Failures: a rank that dies (before or during a collective) and braidCommAbort from another
// thread. The survivors must get braidRemoteError or braidTimeout within BRAID_TIMEOUT_MS (plus
// slack) with a message that names the dead rank, every later call must fail fast, and
// braidCommDestroy must return within seconds. Nothing may hang.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "braid/braid.h"
#include "collectives.h"
#include "harness.h"

namespace braidtest {
namespace {

constexpr int kTimeoutMs = 10000;
constexpr double kSlackSeconds = 10;
constexpr size_t kBig = size_t{4} << 20;  // 4M floats

// Whether the thread is asleep (state S: waiting in poll, a futex, ...), from /proc.
bool ThreadSleeping(pid_t tid) {
  FILE* f = std::fopen(("/proc/self/task/" + std::to_string(tid) + "/stat").c_str(), "r");
  if (f == nullptr) return false;
  char state = '?';
  const int n = std::fscanf(f, "%*d (%*[^)]) %c", &state);
  std::fclose(f);
  return n == 1 && state == 'S';
}

bool WaitByte(int fd, double seconds) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(seconds * 1000)) <= 0) return false;
  char c;
  return ::read(fd, &c, 1) == 1;
}

// What the survivors check after `r` (the call that saw the failure) took `took` seconds.
// `dead`: the rank that died, which the message must name (not just any rank: every message
// starts with "rank <own rank>:").
void CheckSurvivor(RankContext& ctx, braidResult_t r, double took, const char* what, int dead) {
  BT_CHECK(ctx, r != braidSuccess) << what << ": the collective succeeded without a peer";
  BT_CHECK(ctx, r == braidRemoteError || r == braidTimeout)
      << what << ": returned " << ResultName(r) << ", expected braidRemoteError or braidTimeout ("
      << LastError(ctx.comm) << ")";
  BT_CHECK(ctx, took < kTimeoutMs / 1000.0 + kSlackSeconds)
      << what << ": the error took " << took << " s (BRAID_TIMEOUT_MS=" << kTimeoutMs << ")";
  const std::string msg = LastError(ctx.comm);
  ctx.Record("error", msg);
  BT_CHECK(ctx, NamesRank(msg, dead))
      << what << ": braidGetLastError(comm) does not name the dead rank " << dead << ": \"" << msg
      << "\"";

  // Every later call fails fast.
  std::vector<float> small(1000, 1.0f);
  auto t0 = std::chrono::steady_clock::now();
  braidResult_t r2 = braidAllReduce(small.data(), small.data(), small.size(), braidFloat32,
                                    braidSum, ctx.comm, nullptr);
  BT_CHECK(ctx, r2 != braidSuccess) << what << ": a later AllReduce succeeded";
  BT_CHECK(ctx, SecondsSince(t0) < 2)
      << what << ": a later AllReduce took " << SecondsSince(t0) << " s to fail";
  t0 = std::chrono::steady_clock::now();
  r2 = braidBroadcast(small.data(), small.data(), small.size(), braidFloat32, 0, ctx.comm, nullptr);
  BT_CHECK(ctx, r2 != braidSuccess) << what << ": a later Broadcast succeeded";
  BT_CHECK(ctx, SecondsSince(t0) < 2)
      << what << ": a later Broadcast took " << SecondsSince(t0) << " s to fail";
  t0 = std::chrono::steady_clock::now();
  braidRequest_t req = nullptr;
  r2 = braidIAllReduce(small.data(), small.data(), small.size(), braidFloat32, braidSum, ctx.comm,
                       &req);
  if (r2 == braidSuccess && req != nullptr) r2 = braidWait(req);
  BT_CHECK(ctx, r2 != braidSuccess) << what << ": a later IAllReduce succeeded";
  BT_CHECK(ctx, SecondsSince(t0) < 2)
      << what << ": a later IAllReduce took " << SecondsSince(t0) << " s to fail";

  t0 = std::chrono::steady_clock::now();
  braidResult_t rd = braidCommDestroy(ctx.comm);
  ctx.comm = nullptr;
  ctx.Record("destroy", ResultName(rd));
  BT_CHECK(ctx, SecondsSince(t0) < 5)
      << what << ": braidCommDestroy took " << SecondsSince(t0) << " s";
}

enum class Death { kExit, kSigkill };

class DeadRank : public ::testing::TestWithParam<Death> {};

TEST_P(DeadRank, BeforeTheNextAllReduce) {
  const Death how = GetParam();
  int sync[2];  // ranks 0 and 1 tell rank 2 that they finished the first AllReduce
  ASSERT_EQ(::pipe(sync), 0);
  RunOptions opts;
  opts.env = {{"BRAID_TIMEOUT_MS", std::to_string(kTimeoutMs)}};
  opts.may_die = {2};
  opts.timeout_ms = 55000;
  RunRanks(
      3,
      [how, &sync](RankContext& ctx) {
        SanityAllReduce(ctx, ctx.comm, 1000, 1, "before the death");
        if (ctx.rank != 2) {
          char b = 's';
          if (::write(sync[1], &b, 1) != 1) ctx.Fail(__FILE__, __LINE__, "write to rank 2");
        } else {
          // Die only once the others are done with the first AllReduce (else they may
          // rightly see the death in it).
          BT_CHECK(ctx, WaitByte(sync[0], 20) && WaitByte(sync[0], 20)) << "no sync";
          if (how == Death::kExit) ::_exit(1);
          ::raise(SIGKILL);
        }
        std::vector<float> big(kBig, 1.0f);
        auto t0 = std::chrono::steady_clock::now();
        braidResult_t r = braidAllReduce(big.data(), big.data(), big.size(), braidFloat32, braidSum,
                                         ctx.comm, nullptr);
        CheckSurvivor(ctx, r, SecondsSince(t0), "AllReduce after rank 2 died", 2);
      },
      opts);
  ::close(sync[0]);
  ::close(sync[1]);
}

INSTANTIATE_TEST_SUITE_P(How, DeadRank, ::testing::Values(Death::kExit, Death::kSigkill),
                         [](const ::testing::TestParamInfo<Death>& i) {
                           return std::string(i.param == Death::kExit ? "Exit" : "Sigkill");
                         });

// The parent kills rank 2 with SIGKILL while the ranks loop on large AllReduces.
TEST(DeadRankDuring, KilledInTheMiddleOfAllReduces) {
  int sig[2];
  ASSERT_EQ(::pipe(sig), 0);
  RunOptions opts;
  opts.env = {{"BRAID_TIMEOUT_MS", std::to_string(kTimeoutMs)}};
  opts.may_die = {2};
  opts.timeout_ms = 55000;
  opts.parent_thread = [&](const std::vector<pid_t>& pids, const std::atomic<bool>& finished) {
    auto t0 = std::chrono::steady_clock::now();
    while (!finished && SecondsSince(t0) < 40) {
      if (WaitByte(sig[0], 0.05)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        ::kill(pids[2], SIGKILL);
        return;
      }
    }
  };
  RunRanks(
      3,
      [&](RankContext& ctx) {
        std::vector<float> big(kBig / 4, 1.0f);
        auto start = std::chrono::steady_clock::now();
        for (int i = 0; SecondsSince(start) < 40; ++i) {
          auto t0 = std::chrono::steady_clock::now();
          braidResult_t r = braidAllReduce(big.data(), big.data(), big.size(), braidFloat32,
                                           braidSum, ctx.comm, nullptr);
          if (r != braidSuccess) {
            BT_CHECK(ctx, ctx.rank != 2)
                << "rank 2 saw an error before it was killed: " << ResultName(r) << ": "
                << LastError(ctx.comm);
            ctx.Record("failed_at_iteration", std::to_string(i));
            CheckSurvivor(ctx, r, SecondsSince(t0), "AllReduce while rank 2 was killed", 2);
            return;
          }
          // Keep the values small: reset after every call.
          std::fill(big.begin(), big.end(), 1.0f);
          if (i == 0 && ctx.rank == 2) {
            char b = 'k';
            if (::write(sig[1], &b, 1) != 1) ctx.Fail(__FILE__, __LINE__, "write to parent");
          }
        }
        BT_CHECK(ctx, ctx.rank == 2) << "AllReduces kept succeeding for 40 s without rank 2";
        if (ctx.rank == 2) ctx.Fail(__FILE__, __LINE__, "rank 2 was never killed");
      },
      opts);
  ::close(sig[0]);
  ::close(sig[1]);
}

// Rank 1 never joins the AllReduce; a thread of rank 0 calls braidCommAbort while rank 0's main
// thread is blocked in it. The blocked call must return an error soon after the abort.
TEST(Abort, FromAnotherThreadUnblocksACollective) {
  int done[2];
  ASSERT_EQ(::pipe(done), 0);
  RunOptions opts;
  opts.env = {{"BRAID_TIMEOUT_MS", "30000"}};
  opts.timeout_ms = 50000;
  RunRanks(
      2,
      [&](RankContext& ctx) {
        if (ctx.rank == 1) {
          BT_CHECK(ctx, WaitByte(done[0], 30)) << "rank 0 never finished";
          auto t0 = std::chrono::steady_clock::now();
          braidResult_t r = braidCommDestroy(ctx.comm);
          ctx.comm = nullptr;
          ctx.Record("destroy", ResultName(r));
          BT_CHECK(ctx, SecondsSince(t0) < 5)
              << "braidCommDestroy after the peer aborted took " << SecondsSince(t0) << " s";
          return;
        }
        std::atomic<double> abort_at{0};
        std::atomic<int> abort_result{-1};
        std::atomic<double> abort_took{0};
        std::atomic<pid_t> caller{0};  // the main thread's tid, set just before the call
        std::atomic<bool> blocked{false};
        auto t0 = std::chrono::steady_clock::now();
        std::thread aborter([&] {
          // An event, not a delay: abort once the main thread sleeps inside the AllReduce
          // (it can block nowhere else once `caller` is set). A loaded machine only delays it.
          while (caller.load() == 0) std::this_thread::yield();
          while (SecondsSince(t0) < 25 && !(blocked = ThreadSleeping(caller.load()))) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
          abort_at = SecondsSince(t0);
          auto a0 = std::chrono::steady_clock::now();
          abort_result = braidCommAbort(ctx.comm);
          abort_took = SecondsSince(a0);
        });
        std::vector<float> v(4096, 1.0f);
        caller = static_cast<pid_t>(::syscall(SYS_gettid));
        braidResult_t r =
            braidAllReduce(v.data(), v.data(), v.size(), braidFloat32, braidSum, ctx.comm, nullptr);
        const double returned_at = SecondsSince(t0);
        aborter.join();
        ctx.comm = nullptr;  // aborted: not destroyed again
        BT_CHECK(ctx, blocked.load())
            << "the AllReduce never blocked (never slept) before the abort";
        BT_CHECK(ctx, returned_at >= abort_at) << "the AllReduce returned before the abort";
        BT_CHECK(ctx, r != braidSuccess) << "the AllReduce succeeded although rank 1 never joined";
        BT_CHECK(ctx, returned_at < abort_at + 2.5)
            << "the blocked AllReduce returned " << returned_at - abort_at
            << " s after braidCommAbort";
        BT_CHECK(ctx, abort_result.load() == braidSuccess)
            << "braidCommAbort returned "
            << ResultName(static_cast<braidResult_t>(abort_result.load()));
        BT_CHECK(ctx, abort_took < 5) << "braidCommAbort took " << abort_took << " s";
        char b = 'd';
        if (::write(done[1], &b, 1) != 1) ctx.Fail(__FILE__, __LINE__, "write to rank 1");
      },
      opts);
  ::close(done[0]);
  ::close(done[1]);
}

// braidCommAbort of an idle, healthy communicator returns quickly on every rank.
TEST(Abort, IdleCommunicator) {
  RunOptions opts;
  opts.destroy_comm = false;
  RunRanks(
      3,
      [](RankContext& ctx) {
        SanityAllReduce(ctx, ctx.comm, 100, 1, "before abort");
        auto t0 = std::chrono::steady_clock::now();
        BT_CHECK_OK(ctx, braidCommAbort(ctx.comm));
        BT_CHECK(ctx, SecondsSince(t0) < 5) << "braidCommAbort took " << SecondsSince(t0);
        ctx.comm = nullptr;
      },
      opts);
}

}  // namespace
}  // namespace braidtest
