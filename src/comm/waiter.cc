#include "comm/waiter.h"

#include <algorithm>
#include <cerrno>

#include "core/socket_io.h"

namespace braid {

Status Waiter::stopped() const {
  if (p_.aborted->load(std::memory_order_relaxed)) return remoteError("aborted by braidCommAbort");
  return remoteError("cancelled: another channel failed");
}

Status Waiter::sleep(FunctionRef<bool()> done, FunctionRef<std::string()> what, int64_t* lastMove) {
  const int64_t now = nowMs();
  if (stopRequested()) return stopped();
  int64_t left = *lastMove + p_.timeoutMs - now;
  if (left <= 0) {
    return timeoutError(std::string("no progress for ") + std::to_string(p_.timeoutMs) +
                        " ms (BRAID_TIMEOUT_MS) " + what());
  }
  if (p_.failures != nullptr) {
    // A notice another thread read off the failure fds first: it is recorded, so look.
    if (p_.failures->hasNotice()) BRAID_RETURN_IF_ERROR(p_.failures->checkRemote());
    // A rank left without a goodbye: while data still moves this wait may complete (its bytes
    // were sent before it exited); once nothing moves for a moment, give up naming it.
    Status gone = p_.failures->peerGone();
    if (!gone.isOk()) {
      const int64_t graceLeft = *lastMove + std::min<int64_t>(kPeerGoneGraceMs, p_.timeoutMs) - now;
      if (graceLeft <= 0) return gone;
      left = std::min(left, graceLeft);
    }
    if (p_.failureLookMs > 0) left = std::min(left, p_.failureLookMs);
  }
  pollfds_.clear();
  for (auto& c : *conns_) c->appendPollFds(&pollfds_);
  const size_t socketFds = pollfds_.size();
  bool shmWait = false;
  if (p_.doorbell != nullptr) {
    shmWait = p_.sharedWindow;
    for (auto& c : *conns_) shmWait = shmWait || (c->usesSharedMemory() && c->pending());
  }
  uint32_t doorbell = 0;
  if (shmWait) {
    // Announce the sleep, then look once more: a publisher that missed the announcement
    // published before it, so this look sees its data.
    doorbell = p_.doorbell->beginSleep();
    bool moved = false;
    for (auto& c : *conns_) {
      Status s = c->progress(&moved);
      if (!s) {
        p_.doorbell->endSleep();
        return s;
      }
    }
    if (moved || done()) {
      p_.doorbell->endSleep();
      if (moved) *lastMove = nowMs();
      return Status::ok();
    }
    // Sockets pending as well: poll them, waking every millisecond for shared memory.
    // Otherwise sleep on the doorbell, waking now and then for the out-of-band notices.
    left = std::min<int64_t>(left, socketFds > 0 ? 1 : 20);
  }
  const size_t firstFailureFd = pollfds_.size();
  if (p_.failures != nullptr) p_.failures->appendPollFds(&pollfds_);
  const size_t endFailureFds = pollfds_.size();
  if (p_.abortFd >= 0) pollfds_.push_back({p_.abortFd, POLLIN, 0});
  if (p_.cancelFd >= 0) pollfds_.push_back({p_.cancelFd, POLLIN, 0});
  const bool futexSleep = shmWait && socketFds == 0;
  const int rc = ::poll(pollfds_.data(), pollfds_.size(),
                        futexSleep ? 0 : static_cast<int>(std::min<int64_t>(left, 1 << 30)));
  if (rc < 0 && errno != EINTR) {
    if (shmWait) p_.doorbell->endSleep();
    return systemError(errnoMessage("poll", errno));
  }
  if (futexSleep && rc == 0) {
    p_.doorbell->sleep(doorbell, left);
  } else if (shmWait) {
    p_.doorbell->endSleep();
  }
  for (size_t i = firstFailureFd; i < endFailureFds; ++i) {
    if (pollfds_[i].revents != 0) {
      BRAID_RETURN_IF_ERROR(p_.failures->checkRemote());
      break;
    }
  }
  // (Abort and cancel are seen by the caller's next look at the flags.)
  return Status::ok();
}

}  // namespace braid
