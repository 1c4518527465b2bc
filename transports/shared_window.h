// Memory that every rank of a communicator maps (they share one host): what the node-local
// algorithms (algo/window_collectives.h) work through. A transport offers it
// (Transport::window()); the algorithm layer sees only this interface, never how the memory
// was mapped or how a sleeping rank is woken.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/status.h"

namespace braid {

class SharedWindow {
 public:
  // Counters per rank (monotonically increasing; only their owner writes them).
  static constexpr int kFlags = 4;

  virtual ~SharedWindow() = default;
  // Rank `rank`'s data area: bytes() bytes, 128-byte aligned, written by its owner, read by all.
  virtual char* data(int rank) = 0;
  virtual size_t bytes() const = 0;
  virtual std::atomic<uint64_t>& flag(int rank, int which) = 0;
  // Stores value into this rank's counter `which` (release) and wakes ranks waiting on it.
  virtual void post(int which, uint64_t value) = 0;

  // Wakes ranks asleep waiting on this rank's window (after writing tagged words; post()
  // does it for counters).
  virtual void notify() = 0;

  // Single copy from another rank's private memory (its user buffers), where the OS allows
  // it: remoteAddress is an address in that rank's process. The algorithms learn peers'
  // buffer addresses through the window.
  virtual bool canReadRemote() const = 0;
  virtual Status readRemote(int rank, void* dst, uint64_t remoteAddress, size_t bytes) = 0;

  // Reserves n steps for a collective and returns the first one's number. Every rank runs the
  // same sequence of collectives, so every rank computes the same step numbers.
  uint64_t reserveSteps(uint64_t n) {
    const uint64_t first = steps_ + 1;
    steps_ += n;
    return first;
  }
  // The tag of the next low-latency (tagged-word) collective: never 0, which fresh memory holds.
  uint32_t nextTag() {
    tag_ = tag_ == 0xffffffffu ? 1 : tag_ + 1;
    return tag_;
  }

 private:
  uint64_t steps_ = 0;
  uint32_t tag_ = 0;
};

}  // namespace braid
