// The one wait loop: what every blocking wait of a communicator and of its channels runs.
//
// It drives a set of connections until a condition holds. While nothing moves it busy-waits
// for spinPause rounds (shared memory with a core per rank: the reply is a cache line away),
// then yields for yieldRounds rounds (a peer a little behind costs no sleep and wake-up, and a
// rank that shares this core runs at once), then sleeps: in poll() on the connections' fds,
// the out-of-band failure fds, the abort and cancel eventfds, or on the shared-memory doorbell
// when only shared memory is pending. So a wait uses a core for a bounded time (about a
// millisecond with shared memory, tens of microseconds otherwise) and none after that.
//
// A wait ends with an error when a connection breaks, when the out-of-band channel reports a
// failure, when a rank that left without a goodbye is gone and nothing has moved for
// kPeerGoneGraceMs, when nothing has moved for the timeout, on abort, and on cancel.
//
// Cost on the latency path: besides the connections' own progress() (a socket's send and
// recv), a wait whose condition comes true while spinning reads the clock (vDSO) at its start
// and when data moves, and calls sched_yield only in the yielding rounds; it allocates nothing
// (the condition is inlined, the poll set is reused).
//
// Thread safety: one Waiter per waiting thread (the communicator's calling thread, one per
// channel). They may share the failure source (the bootstrap locks its own state), the abort
// flag and the doorbell's owner, never connections.
#pragma once

#include <poll.h>
#include <sched.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "core/clock.h"
#include "core/function_ref.h"
#include "core/status.h"
#include "transports/doorbell.h"
#include "transports/transport.h"

namespace braid {

class Waiter {
 public:
  // How long a wait goes on without progress after a rank left without a goodbye.
  static constexpr int64_t kPeerGoneGraceMs = 1000;

  struct Params {
    int64_t timeoutMs = 300000;
    int spinPause = 0;     // busy-wait rounds before yielding
    int yieldRounds = 32;  // yielding rounds before sleeping
    // Set (and abortFd made readable) by braidCommAbort; required.
    const std::atomic<bool>* aborted = nullptr;
    int abortFd = -1;
    // Set (and cancelFd made readable) when the wait must give up because a sibling failed (a
    // channel whose communicator failed elsewhere); optional.
    const std::atomic<bool>* cancelled = nullptr;
    int cancelFd = -1;
    // Failure notices and ranks gone; optional.
    Bootstrap* failures = nullptr;
    // Longest sleep between looks at the failure source: other threads may read its fds
    // first, so a waiter that shares it looks now and then (0: only when its fds wake it).
    int64_t failureLookMs = 0;
    // Where shared-memory connections (and window waits) sleep; optional.
    Doorbell* doorbell = nullptr;
    // Every wait watches shared memory (the shared window's flags), not only pending
    // shared-memory connections.
    bool sharedWindow = false;
  };

  void configure(const Params& params, std::vector<std::unique_ptr<Connection>>* conns) {
    p_ = params;
    conns_ = conns;
  }
  const Params& params() const { return p_; }

  // Drives the connections until done() holds. what() describes the wait for a timeout.
  template <typename Done, typename What>
  Status until(Done done, What what) {
    int64_t lastMove = nowMs();
    const int spinLimit = p_.spinPause + p_.yieldRounds;
    int spins = 0;
    for (;;) {
      bool moved = false;
      for (auto& c : *conns_) {
        Status s = c->progress(&moved);
        if (!s) return s;
      }
      if (done()) return Status::ok();
      if (moved) {
        if (stopRequested()) return stopped();
        lastMove = nowMs();
        spins = 0;
        continue;
      }
      if (++spins < spinLimit && !stopRequested()) {
        if (spins < p_.spinPause) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        } else {
          sched_yield();
        }
        continue;
      }
      spins = 0;
      BRAID_RETURN_IF_ERROR(sleep(done, what, &lastMove));
      if (done()) return Status::ok();
    }
  }

  Status ticket(Connection* conn, bool send, uint64_t ticket) {
    return until([&] { return (send ? conn->sendsDone() : conn->recvsDone()) >= ticket; },
                 [&] {
                   return std::string(send ? "sending to " : "receiving from ") +
                          conn->description();
                 });
  }

 private:
  bool stopRequested() const {
    return p_.aborted->load(std::memory_order_relaxed) ||
           (p_.cancelled != nullptr && p_.cancelled->load(std::memory_order_relaxed));
  }
  Status stopped() const;
  // The slow path: the stop, timeout and failure checks, then one sleep. *lastMove is updated
  // when the look before sleeping moved data.
  Status sleep(FunctionRef<bool()> done, FunctionRef<std::string()> what, int64_t* lastMove);

  Params p_;
  std::vector<std::unique_ptr<Connection>>* conns_ = nullptr;
  std::vector<pollfd> pollfds_;
};

}  // namespace braid
