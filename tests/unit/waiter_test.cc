// The one wait loop (src/comm/waiter.h) over connections that never complete: what ends a wait
// (a failure notice, abort, cancel, the timeout), and that every thread waiting on the same
// out-of-band channel (the communicator's and its channels') learns of a failure notice, not
// only the one that read it off the links.
#include "comm/waiter.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "core/fd.h"
#include "core/socket_io.h"

namespace braid {
namespace {

// A connection with work queued that never moves.
class StuckConnection : public Connection {
 public:
  explicit StuckConnection(int peer)
      : Connection(peer, "rank " + std::to_string(peer) + " (stuck)") {}
  uint64_t postSend(const void*, size_t) override { return 1; }
  uint64_t postRecv(void*, size_t) override { return 1; }
  uint64_t sendsDone() const override { return 0; }
  uint64_t recvsDone() const override { return 0; }
  Status progress(bool*) override { return Status::ok(); }
  void appendPollFds(std::vector<pollfd>*) const override {}
  bool pending() const override { return true; }
  void close() override {}
};

struct Stuck {
  std::vector<std::unique_ptr<Connection>> conns;
  Stuck() { conns.push_back(std::make_unique<StuckConnection>(7)); }
  Connection* conn() { return conns[0].get(); }
};

Waiter::Params baseParams(const std::atomic<bool>* aborted, int64_t timeoutMs) {
  Waiter::Params p;
  p.timeoutMs = timeoutMs;
  p.aborted = aborted;
  return p;
}

int64_t elapsedMs(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               since)
      .count();
}

TEST(Waiter, TimeoutNamesWhatWasAwaited) {
  std::atomic<bool> aborted{false};
  Stuck s;
  Waiter w;
  w.configure(baseParams(&aborted, 200), &s.conns);
  Status st = w.ticket(s.conn(), false, 1);
  EXPECT_EQ(st.code(), braidTimeout);
  EXPECT_NE(st.message().find("no progress for 200 ms (BRAID_TIMEOUT_MS) receiving from rank 7 "
                              "(stuck)"),
            std::string::npos)
      << st.message();
}

TEST(Waiter, AbortAndCancelWakeASleepingWait) {
  for (bool cancel : {false, true}) {
    std::atomic<bool> aborted{false};
    std::atomic<bool> cancelled{false};
    Fd abortFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    Fd cancelFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    Stuck s;
    Waiter w;
    Waiter::Params p = baseParams(&aborted, 60000);
    p.abortFd = abortFd.get();
    p.cancelled = &cancelled;
    p.cancelFd = cancelFd.get();
    w.configure(p, &s.conns);
    const auto start = std::chrono::steady_clock::now();
    std::thread other([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // (the wait is asleep)
      (cancel ? cancelled : aborted).store(true);
      uint64_t one = 1;
      EXPECT_EQ(write((cancel ? cancelFd : abortFd).get(), &one, sizeof(one)), 8);
    });
    Status st = w.ticket(s.conn(), true, 1);
    other.join();
    EXPECT_EQ(st.code(), braidRemoteError);
    EXPECT_EQ(st.message(),
              cancel ? "cancelled: another channel failed" : "aborted by braidCommAbort");
    EXPECT_LT(elapsedMs(start), 10000);
  }
}

SocketAddress freeLoopbackAddress() {
  SocketAddress a;
  EXPECT_TRUE(SocketAddress::parse("127.0.0.1:0", 4, &a).isOk());
  Fd fd;
  SocketAddress bound;
  EXPECT_TRUE(listenOn(a, &fd, &bound).isOk());
  return bound;
}

// Rank 2 reports a failure. On rank 1, one thread's wait reads the notice off the out-of-band
// link; a second thread sharing the bootstrap (as a channel shares the communicator's) that
// waits afterwards must end with the notice too, although its link has nothing more to read,
// and well before the timeout.
TEST(Waiter, EveryThreadSharingTheBootstrapLearnsOfAFailureNotice) {
  const int n = 3;
  const SocketAddress root = freeLoopbackAddress();
  std::vector<std::unique_ptr<Bootstrap>> boots(n);
  std::vector<Status> created(n);
  {
    std::vector<std::thread> threads;
    for (int r = 0; r < n; ++r) {
      threads.emplace_back([&, r] {
        BootstrapParams p;
        p.rank = r;
        p.nranks = n;
        p.root = root;
        p.secret.fill(0x33);
        p.timeoutMs = 20000;
        created[r] = Bootstrap::create(p, &boots[r]);
      });
    }
    for (auto& t : threads) t.join();
  }
  for (int r = 0; r < n; ++r) ASSERT_TRUE(created[r].isOk()) << created[r].message();

  constexpr int64_t kTimeoutMs = 15000;
  std::atomic<bool> aborted{false};
  std::atomic<bool> stop{false};
  // Rank 0 relays notices as it reads them (its own waits do that).
  std::thread root0([&] {
    while (!stop.load()) {
      (void)boots[0]->checkRemote();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  auto waitOnRank1 = [&] {
    Stuck stuck;
    Waiter w;
    Waiter::Params p = baseParams(&aborted, kTimeoutMs);
    p.failures = boots[1].get();
    p.failureLookMs = 100;
    w.configure(p, &stuck.conns);
    return w.ticket(stuck.conn(), false, 1);
  };
  const auto start = std::chrono::steady_clock::now();
  Status first;
  std::thread firstWaiter([&] { first = waitOnRank1(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // (the wait is asleep)
  boots[2]->notifyFailure("rank 2: boom");
  firstWaiter.join();
  Status second;
  std::thread secondWaiter([&] { second = waitOnRank1(); });
  secondWaiter.join();
  stop.store(true);
  root0.join();
  for (const Status& st : {first, second}) {
    EXPECT_EQ(st.code(), braidRemoteError) << st.message();
    EXPECT_NE(st.message().find("rank 2: boom"), std::string::npos) << st.message();
  }
  EXPECT_LT(elapsedMs(start), kTimeoutMs / 2);
}

}  // namespace
}  // namespace braid
