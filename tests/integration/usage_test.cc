// The contract's usage rules, shown through the C API:
//  - one communicator from two threads at once: the second call is refused with
//    braidInvalidUsage naming the rule, the first completes with the right result;
//  - fork after init: the child gets braidInvalidUsage on every call (destroy included), the
//    parent's communicator keeps working;
//  - a count too large and partially overlapping send/recv buffers: braidInvalidArgument,
//    and the communicator stays usable.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "braid/braid.h"
#include "collectives.h"
#include "harness.h"

namespace braidtest {
namespace {

// Rank 0 calls AllReduce from two threads at once; rank 1 joins only after one of rank 0's
// calls has returned (told through a pipe made before the fork), so both of rank 0's calls are
// certainly in progress together: one must be refused, the other completes.
TEST(Usage, TwoThreadsOnOneCommunicator) {
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  RunOptions opts;
  opts.timeout_ms = 90000;
  opts.env = {{"BRAID_TIMEOUT_MS", "30000"}};
  constexpr size_t kCount = 100003;
  RunRanks(
      2,
      [&](RankContext& ctx) {
        if (ctx.rank == 1) {
          ::close(pipefd[1]);
          pollfd p{pipefd[0], POLLIN, 0};
          if (::poll(&p, 1, 20000) != 1) {
            ctx.Fail(__FILE__, __LINE__,
                     "neither of rank 0's two concurrent calls returned within 20 s: the second "
                     "call on a busy communicator was not refused");
            braidCommAbort(ctx.comm);
            ctx.comm = nullptr;
            ctx.Flush();
            ::_exit(1);
          }
          std::vector<float> buf(kCount);
          FillInputs(braidFloat32, Pattern::kSmall, 77, 1, 0, kCount, buf.data());
          BT_CHECK_OK(ctx, braidAllReduce(buf.data(), buf.data(), kCount, braidFloat32, braidSum,
                                          ctx.comm, nullptr));
        } else {
          ::close(pipefd[0]);
          std::vector<float> bufs[2];
          braidResult_t results[2] = {braidSuccess, braidSuccess};
          std::string errors[2];
          std::atomic<int> returned{0};
          auto call = [&](int t) {
            bufs[t].resize(kCount);
            FillInputs(braidFloat32, Pattern::kSmall, 77, 0, 0, kCount, bufs[t].data());
            results[t] = braidAllReduce(bufs[t].data(), bufs[t].data(), kCount, braidFloat32,
                                        braidSum, ctx.comm, nullptr);
            if (results[t] != braidSuccess) errors[t] = LastError(ctx.comm);
            if (returned.fetch_add(1) == 0) {
              const char c = 'x';
              BT_CHECK(ctx, ::write(pipefd[1], &c, 1) == 1);
            }
          };
          std::thread a(call, 0), b(call, 1);
          a.join();
          b.join();
          const int ok = (results[0] == braidSuccess) + (results[1] == braidSuccess);
          BT_CHECK(ctx, ok == 1) << "results " << ResultName(results[0]) << " / "
                                 << ResultName(results[1]) << "; expected one success";
          std::vector<float> expected(kCount);
          FillExpectedReduction(braidFloat32, braidSum, Pattern::kSmall, 77, 2, 0, kCount,
                                expected.data());
          std::vector<float> input(kCount);
          FillInputs(braidFloat32, Pattern::kSmall, 77, 0, 0, kCount, input.data());
          for (int t = 0; t < 2; ++t) {
            if (results[t] == braidSuccess) {
              CheckElements(ctx, "the call that ran", braidFloat32, bufs[t].data(), expected.data(),
                            kCount);
            } else {
              BT_CHECK(ctx, results[t] == braidInvalidUsage) << ResultName(results[t]);
              BT_CHECK(ctx, ContainsIgnoreCase(errors[t], "one thread at a time")) << errors[t];
              BT_CHECK(ctx, std::memcmp(bufs[t].data(), input.data(), kCount * 4) == 0)
                  << "the refused call modified its buffer";
            }
          }
        }
        SanityAllReduce(ctx, ctx.comm, 5003, 78, "after the concurrent calls");
      },
      opts);
  ::close(pipefd[0]);
  ::close(pipefd[1]);
}

// A child forked after init cannot use its parent's communicator; the parent can.
TEST(Usage, ForkAfterInit) {
  RunOptions opts;
  opts.timeout_ms = 90000;
  RunRanks(
      3,
      [](RankContext& ctx) {
        SanityAllReduce(ctx, ctx.comm, 1001, 80, "before fork");
        std::fflush(nullptr);
        const pid_t child = ::fork();
        if (child == 0) {
          // Exit codes: 0 every call refused as expected; 10 + k: call k was not.
          std::vector<float> buf(1001, 1.0f);
          const braidResult_t rs[] = {
              braidAllReduce(buf.data(), buf.data(), buf.size(), braidFloat32, braidSum, ctx.comm,
                             nullptr),
              braidBroadcast(buf.data(), buf.data(), buf.size(), braidFloat32, 0, ctx.comm,
                             nullptr),
              braidCommDestroy(ctx.comm),
              braidCommAbort(ctx.comm),
          };
          for (size_t k = 0; k < sizeof(rs) / sizeof(rs[0]); ++k) {
            if (rs[k] != braidInvalidUsage) ::_exit(10 + static_cast<int>(k));
          }
          const std::string err = LastError(ctx.comm);
          ::_exit(ContainsIgnoreCase(err, "another process") ? 0 : 9);
        }
        BT_CHECK(ctx, child > 0) << "fork failed";
        int status = 0;
        // The child makes no blocking call when the rule holds; bound the wait anyway.
        for (int i = 0; i < 300 && ::waitpid(child, &status, WNOHANG) == 0; ++i) {
          ::usleep(100000);
        }
        if (::waitpid(child, &status, WNOHANG) == 0) {
          ::kill(child, SIGKILL);
          ::waitpid(child, &status, 0);
          ctx.Fail(__FILE__, __LINE__,
                   "the forked child hung in a call on its parent's communicator");
        }
        BT_CHECK(ctx, WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "forked child: exit status " << status
            << " (9: the last error does not name the other process; 10 + k: call k was not "
               "braidInvalidUsage; k = allreduce, broadcast, destroy, abort)";
        CollCase c;
        c.count = 70001;
        c.seed = 81;
        CheckedAllReduce(ctx, c);
        c.root = 2;
        CheckedBroadcast(ctx, c);
      },
      opts);
}

// Rejected arguments change nothing and leave the communicator usable. Errors are found before
// any communication, so every rank makes the same calls and then a checked AllReduce.
TEST(Usage, CountTooLargeIsRejected) {
  RunOptions opts;
  opts.timeout_ms = 60000;
  RunRanks(
      3,
      [](RankContext& ctx) {
        std::vector<float> buf(64);
        float* p = buf.data();
        auto expectInvalid = [&](braidResult_t r, const char* what) {
          BT_CHECK(ctx, r == braidInvalidArgument)
              << what << " returned " << ResultName(r) << ": " << LastError(ctx.comm);
          SanityAllReduce(ctx, ctx.comm, 257, 90, std::string("after ") + what);
        };
        // Bytes past PTRDIFF_MAX: no buffer can be that large, in place so no overlap check fires.
        const size_t huge = static_cast<size_t>(PTRDIFF_MAX) / 4 + 1;
        // count * element size overflows size_t.
        const size_t wraps = SIZE_MAX / 2;
        expectInvalid(braidAllReduce(p, p, huge, braidFloat32, braidSum, ctx.comm, nullptr),
                      "AllReduce count > PTRDIFF_MAX bytes");
        expectInvalid(braidAllReduce(p, p, wraps, braidFloat32, braidSum, ctx.comm, nullptr),
                      "AllReduce count * 4 wrapping");
        expectInvalid(braidBroadcast(p, p, huge, braidFloat32, 0, ctx.comm, nullptr),
                      "Broadcast count > PTRDIFF_MAX bytes");
        expectInvalid(braidReduce(p, p, huge, braidFloat32, braidSum, 0, ctx.comm, nullptr),
                      "Reduce count > PTRDIFF_MAX bytes");
        // recvcount * nranks * 4 overflows (the per-rank part alone does not).
        const size_t perRank = SIZE_MAX / 8;
        expectInvalid(braidReduceScatter(p, p, perRank, braidFloat32, braidSum, ctx.comm, nullptr),
                      "ReduceScatter recvcount * nranks overflowing");
        expectInvalid(braidAllGather(p, p, perRank, braidFloat32, ctx.comm, nullptr),
                      "AllGather sendcount * nranks overflowing");
        braidRequest_t req = nullptr;
        expectInvalid(braidIAllReduce(p, p, huge, braidFloat32, braidSum, ctx.comm, &req),
                      "IAllReduce count > PTRDIFF_MAX bytes");
      },
      opts);
}

TEST(Usage, PartiallyOverlappingBuffersAreRejected) {
  RunOptions opts;
  opts.timeout_ms = 60000;
  RunRanks(
      3,
      [](RankContext& ctx) {
        std::vector<unsigned char> mem(4096 * 8, 0);
        unsigned char* base = mem.data() + 64;
        auto expectInvalid = [&](braidResult_t r, const std::string& what) {
          BT_CHECK(ctx, r == braidInvalidArgument)
              << what << " returned " << ResultName(r) << ": " << LastError(ctx.comm);
          SanityAllReduce(ctx, ctx.comm, 129, 91, "after " + what);
        };
        const size_t count = 256;
        for (size_t shift : {size_t{1}, size_t{4}, size_t{1020}}) {  // bytes, < count * 4
          const std::string s = " shifted by " + std::to_string(shift) + " bytes";
          expectInvalid(
              braidAllReduce(base, base + shift, count, braidFloat32, braidSum, ctx.comm, nullptr),
              "AllReduce recvbuff" + s);
          expectInvalid(
              braidAllReduce(base + shift, base, count, braidFloat32, braidSum, ctx.comm, nullptr),
              "AllReduce sendbuff" + s);
          // The root's buffers (a non-root's ignored buffer may be anything).
          expectInvalid(
              braidBroadcast(base, base + shift, count, braidFloat32, ctx.rank, ctx.comm, nullptr),
              "Broadcast at its root" + s);
          expectInvalid(braidReduce(base, base + shift, count, braidFloat32, braidSum, ctx.rank,
                                    ctx.comm, nullptr),
                        "Reduce at its root" + s);
          // recvbuff inside sendbuff but not at this rank's slot.
          unsigned char* slot = base + static_cast<size_t>(ctx.rank) * count * 4;
          expectInvalid(braidReduceScatter(base, slot + shift, count, braidFloat32, braidSum,
                                           ctx.comm, nullptr),
                        "ReduceScatter recvbuff off its slot" + s);
          expectInvalid(braidAllGather(slot + shift, base, count, braidFloat32, ctx.comm, nullptr),
                        "AllGather sendbuff off its slot" + s);
        }
      },
      opts);
}

}  // namespace
}  // namespace braidtest
