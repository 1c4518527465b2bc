// Monotonic time and deadlines. Every wait in Braid has one.
#pragma once

#include <chrono>
#include <cstdint>

namespace braid {

using Clock = std::chrono::steady_clock;

inline int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

class Deadline {
 public:
  // timeoutMs <= 0 means "never" only where a caller explicitly asks for it; Braid's waits
  // always pass a positive timeout.
  explicit Deadline(int64_t timeoutMs) : end_(nowMs() + timeoutMs) {}
  static Deadline at(int64_t endMs) {
    Deadline d(0);
    d.end_ = endMs;
    return d;
  }
  bool expired() const { return nowMs() >= end_; }
  // Milliseconds left, clamped to [0, INT32_MAX] for poll().
  int remainingMs() const {
    int64_t left = end_ - nowMs();
    if (left < 0) return 0;
    if (left > 0x7fffffff) return 0x7fffffff;
    return static_cast<int>(left);
  }
  int64_t endMs() const { return end_; }

 private:
  int64_t end_;
};

}  // namespace braid
