#include "comm/channel.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

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
  Waiter::Params wait = params.wait;
  wait.cancelled = &ch->cancelled_;
  wait.cancelFd = ch->cancelFd_.get();
  ch->waiter_.configure(wait, &ch->conns_);
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
  return waiter_.ticket(conn, true, ticket);
}
Status Channel::waitRecv(Connection* conn, uint64_t ticket) {
  return waiter_.ticket(conn, false, ticket);
}

// A channel has no shared window (channels exist only over transports without one), so the
// algorithms never ask it for a flag; the waits are the communicator's all the same.
Status Channel::waitFlag(int rank, int, uint64_t) {
  return internalError("channel asked to wait for rank " + std::to_string(rank) +
                       "'s window flag, but a channel has no shared window");
}
Status Channel::waitTagged(int rank, const std::atomic<uint64_t>& word, uint32_t tag) {
  return waiter_.until(
      [&] { return (word.load(std::memory_order_acquire) >> 32) == tag; },
      [&] { return "waiting for rank " + std::to_string(rank) + "'s tagged word"; });
}

}  // namespace braid
