#include "comm/channel.h"

#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "core/clock.h"
#include "core/socket_io.h"

namespace braid {

Status Channel::create(const Params& params, std::vector<std::unique_ptr<Connection>> conns,
                       std::unique_ptr<Channel>* out) {
  std::unique_ptr<Channel> ch(new Channel(params));
  ch->conns_ = std::move(conns);
  const int n = params.nranks;
  const int nextRank = params.ring[static_cast<size_t>((params.ringPosition + 1) % n)];
  const int prevRank = params.ring[static_cast<size_t>((params.ringPosition + n - 1) % n)];
  for (auto& c : ch->conns_) {
    if (c->peer() == nextRank) ch->next_ = c.get();
    if (c->peer() == prevRank) ch->prev_ = c.get();
  }
  if (ch->next_ == nullptr || ch->prev_ == nullptr)
    return internalError("channel without its ring neighbours");
  void* mem = std::aligned_alloc(64, params.sliceBytes * kScratchSlots);
  if (mem == nullptr) return systemError("cannot allocate a channel's scratch buffers");
  ch->scratch_ = std::unique_ptr<char, void (*)(void*)>(static_cast<char*>(mem), std::free);
  ch->cancelFd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!ch->cancelFd_.valid()) return systemError(errnoMessage("eventfd", errno));
  try {
    ch->thread_ = std::thread([c = ch.get()] { c->loop(); });
  } catch (const std::system_error& e) {
    return systemError(std::string("cannot start a channel thread: ") + e.what());
  }
  *out = std::move(ch);
  return Status::ok();
}

Channel::~Channel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  close();
}

void Channel::close() {
  for (auto& c : conns_) c->close();
}

void Channel::loop() {
  for (;;) {
    std::function<Status(AlgoContext&)> work;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || hasWork_; });
      if (!hasWork_) return;
      work = std::move(work_);
      hasWork_ = false;
    }
    Status s = work(*this);
    {
      std::lock_guard<std::mutex> lock(mu_);
      result_ = s;
      done_ = true;
    }
    cv_.notify_all();
  }
}

void Channel::start(std::function<Status(AlgoContext&)> work) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    work_ = std::move(work);
    hasWork_ = true;
    done_ = false;
  }
  cv_.notify_all();
}

Status Channel::wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return done_; });
  return result_;
}

void Channel::cancel() {
  cancelled_.store(true);
  uint64_t one = 1;
  ssize_t ignored = write(cancelFd_.get(), &one, sizeof(one));
  (void)ignored;
}

Connection* Channel::connectionTo(int rank) {
  if (next_->peer() == rank) return next_;
  if (prev_->peer() == rank) return prev_;
  return nullptr;
}

Status Channel::waitSend(Connection* conn, uint64_t ticket) {
  return waitTicket(conn, true, ticket);
}
Status Channel::waitRecv(Connection* conn, uint64_t ticket) {
  return waitTicket(conn, false, ticket);
}

Status Channel::waitFlag(int, int, uint64_t) {
  return internalError("a channel has no shared window");
}
Status Channel::waitTagged(int, const std::atomic<uint64_t>&, uint32_t) {
  return internalError("a channel has no shared window");
}

Status Channel::waitTicket(Connection* conn, bool send, uint64_t ticket) {
  int64_t lastMove = nowMs();
  constexpr int kYieldRounds = 32;
  int spins = 0;
  for (;;) {
    bool moved = false;
    for (auto& c : conns_) {
      Status s = c->progress(&moved);
      if (!s) return s;
    }
    if ((send ? conn->sendsDone() : conn->recvsDone()) >= ticket) return Status::ok();
    if (cancelled_.load()) return remoteError("cancelled: another channel failed");
    if (moved) {
      lastMove = nowMs();
      spins = 0;
      continue;
    }
    if (++spins < kYieldRounds) {
      sched_yield();
      continue;
    }
    spins = 0;
    const int64_t left = lastMove + p_.timeoutMs - nowMs();
    if (left <= 0) {
      return timeoutError("no progress for " + std::to_string(p_.timeoutMs) +
                          " ms (BRAID_TIMEOUT_MS) " + (send ? "sending to " : "receiving from ") +
                          conn->description());
    }
    pollfds_.clear();
    for (auto& c : conns_) c->appendPollFds(&pollfds_);
    pollfds_.push_back({cancelFd_.get(), POLLIN, 0});
    if (p_.abortFd >= 0) pollfds_.push_back({p_.abortFd, POLLIN, 0});
    const int rc = ::poll(pollfds_.data(), pollfds_.size(),
                          static_cast<int>(std::min<int64_t>(left, 1 << 30)));
    if (rc < 0 && errno != EINTR) return systemError(errnoMessage("poll", errno));
    if (p_.abortFd >= 0 && (pollfds_.back().revents & POLLIN) != 0)
      return remoteError("aborted by braidCommAbort");
  }
}

}  // namespace braid
