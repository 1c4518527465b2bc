// How a rank that waits on shared memory sleeps, and how it is woken. Shared memory has no fd
// to poll: a waiter announces its sleep, looks once more, then sleeps on the doorbell, which
// whoever publishes data rings (only for ranks that announced a sleep). A transport that moves
// data through shared memory offers one (Transport::doorbell()); the communicator's wait loop
// (comm/waiter.h) sleeps on it.
#pragma once

#include <cstdint>

namespace braid {

class Doorbell {
 public:
  virtual ~Doorbell() = default;
  // beginSleep() returns the doorbell value to wait on; the caller re-checks its condition,
  // then sleep(value) (or endSleep() if the condition came true meanwhile).
  virtual uint32_t beginSleep() = 0;
  virtual void sleep(uint32_t seen, int64_t timeoutMs) = 0;
  virtual void endSleep() = 0;
  // Wakes this rank's own sleep (braidCommAbort from another thread).
  virtual void wakeSelf() = 0;
  // How many ranks (this one included) share this host's cores and wait on its doorbells:
  // busy-waiting pays only where each has a core.
  virtual int sharers() const = 0;
};

}  // namespace braid
