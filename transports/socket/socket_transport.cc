#include "transports/socket/socket_transport.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <map>

#include "core/clock.h"
#include "core/function_ref.h"
#include "core/log.h"
#include "core/socket_io.h"

namespace braid {

namespace {

class SocketConnection : public Connection {
 public:
  // Each socket carries one direction only: sharing a socket between both directions makes the
  // sender's and the receiver's paths contend for one socket lock and ACK stream, which costs
  // about a third of loopback throughput (measured; see docs/performance.md).
  SocketConnection(int peer, std::string description, std::vector<Fd> sendSocks,
                   std::vector<Fd> recvSocks, size_t segmentBytes)
      : Connection(peer, std::move(description)), segmentBytes_(segmentBytes) {
    for (Fd& fd : sendSocks) send_.socks.push_back(Sock{std::move(fd), {}});
    for (Fd& fd : recvSocks) recv_.socks.push_back(Sock{std::move(fd), {}});
  }

  uint64_t postSend(const void* buf, size_t bytes) override {
    return post(&send_, const_cast<char*>(static_cast<const char*>(buf)), bytes);
  }
  uint64_t postRecv(void* buf, size_t bytes) override {
    return post(&recv_, static_cast<char*>(buf), bytes);
  }
  uint64_t sendsDone() const override { return send_.done; }
  uint64_t recvsDone() const override { return recv_.done; }

  Status progress(bool* moved) override {
    if (!broken_.isOk()) return broken_;
    for (Sock& s : send_.socks) {
      while (!s.queue.empty()) {
        Segment& seg = s.queue.front();
        ssize_t n =
            ::send(s.fd.get(), seg.ptr + seg.done, seg.len - seg.done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
          *moved = true;
          seg.done += static_cast<size_t>(n);
          if (seg.done == seg.len) {
            completeSegment(&send_, seg.msg);
            s.queue.pop_front();
          }
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return fail(errnoMessage("sending to " + description(), errno));
      }
    }
    for (Sock& s : recv_.socks) {
      while (!s.queue.empty()) {
        Segment& seg = s.queue.front();
        ssize_t n = ::recv(s.fd.get(), seg.ptr + seg.done, seg.len - seg.done, MSG_DONTWAIT);
        if (n > 0) {
          *moved = true;
          seg.done += static_cast<size_t>(n);
          if (seg.done == seg.len) {
            completeSegment(&recv_, seg.msg);
            s.queue.pop_front();
          }
          continue;
        }
        if (n == 0) {
          return fail(description() +
                      " closed the connection while this rank was receiving from it");
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return fail(errnoMessage("receiving from " + description(), errno));
      }
    }
    return Status::ok();
  }

  void appendPollFds(std::vector<pollfd>* fds) const override {
    for (const Sock& s : send_.socks) {
      if (!s.queue.empty() && s.fd.valid()) fds->push_back({s.fd.get(), POLLOUT, 0});
    }
    for (const Sock& s : recv_.socks) {
      if (!s.queue.empty() && s.fd.valid()) fds->push_back({s.fd.get(), POLLIN, 0});
    }
  }

  bool pending() const override {
    for (const Direction* d : {&send_, &recv_}) {
      for (const Sock& s : d->socks) {
        if (!s.queue.empty()) return true;
      }
    }
    return false;
  }

  void close() override {
    for (Direction* d : {&send_, &recv_}) {
      for (Sock& s : d->socks) {
        s.fd.reset();
        s.queue.clear();
      }
    }
    if (broken_.isOk()) broken_ = remoteError("connection to " + description() + " was closed");
  }

 private:
  struct Message {
    uint64_t ticket;
    size_t remaining;
  };
  struct Segment {
    char* ptr;
    size_t len;
    size_t done;
    Message* msg;
  };
  struct Sock {
    Fd fd;
    std::deque<Segment> queue;
  };
  struct Direction {
    std::vector<Sock> socks;
    uint64_t next = 1;
    uint64_t done = 0;
    uint64_t segmentCounter = 0;
    std::deque<Message> pending;
  };

  // Splits a message into segments striped round-robin over the direction's sockets; the peer
  // derives the same striping from the same sizes.
  uint64_t post(Direction* d, char* buf, size_t bytes) {
    uint64_t ticket = d->next++;
    size_t nseg = (bytes + segmentBytes_ - 1) / segmentBytes_;
    if (nseg == 0 && d->pending.empty()) {
      d->done = ticket;
      return ticket;
    }
    d->pending.push_back({ticket, nseg});
    Message* msg = &d->pending.back();
    for (size_t i = 0; i < nseg; ++i) {
      size_t off = i * segmentBytes_;
      size_t len = std::min(segmentBytes_, bytes - off);
      d->socks[d->segmentCounter++ % d->socks.size()].queue.push_back({buf + off, len, 0, msg});
    }
    retire(d);
    return ticket;
  }

  static void completeSegment(Direction* d, Message* msg) {
    --msg->remaining;
    retire(d);
  }
  static void retire(Direction* d) {
    while (!d->pending.empty() && d->pending.front().remaining == 0) {
      d->done = d->pending.front().ticket;
      d->pending.pop_front();
    }
  }

  Status fail(std::string message) {
    broken_ = remoteError(std::move(message));
    return broken_;
  }

  const size_t segmentBytes_;
  Direction send_;
  Direction recv_;
  Status broken_;
};

// One rank's side of the connection set-up.
struct Setup {
  int me = 0;
  int nranks = 0;
  Secret secret{};
  int nsocks = 0;  // sockets per peer: every channel, both directions
  const Config& config;
  int abortFd = -1;
  FunctionRef<std::string(int)> describe;  // "rank 3 (host pid 1234)"
};

// The lower rank of a pair opens all nsocks sockets to the peer's listener, each with an
// authenticated hello naming its index.
Status dialPeer(const Setup& st, int peer, const SocketAddress& listen, const Deadline& deadline,
                std::vector<Fd>* socks) {
  for (int c = 0; c < st.nsocks; ++c) {
    Fd fd;
    std::string what = "rank " + std::to_string(st.me) + ": connecting to " + st.describe(peer) +
                       " at " + listen.toString();
    BRAID_RETURN_IF_ERROR(connectTo(listen, deadline, st.abortFd, &fd, what));
    configureSocket(fd.get(), st.config.socketBufferBytes);
    setLiveness(fd.get(), st.config.timeoutMs);
    Hello hello;
    hello.kind = HelloKind::kData;
    hello.secret = st.secret;
    hello.nranks = static_cast<uint32_t>(st.nranks);
    hello.rank = static_cast<uint32_t>(st.me);
    hello.channel = static_cast<uint32_t>(c);
    hello.nchannels = static_cast<uint32_t>(st.nsocks);
    uint8_t buf[kHelloBytes];
    encodeHello(hello, buf);
    BRAID_RETURN_IF_ERROR(writeFull(fd.get(), buf, sizeof(buf), deadline, st.abortFd, what));
    (*socks)[static_cast<size_t>(c)] = std::move(fd);
  }
  return Status::ok();
}

// A connection accepted from a lower rank, until its hello is complete.
struct PendingHello {
  Fd fd;
  SocketAddress from;
  std::vector<uint8_t> buf;
  int64_t dropAtMs;
};

// Reads what has arrived of p's hello and, once complete, checks it and files the socket in
// *socks. Returns "" while the connection is still wanted or was filed (then *filed), else why
// it is dropped.
std::string admitHello(const Setup& st, PendingHello* p, std::map<int, std::vector<Fd>>* socks,
                       bool* filed) {
  *filed = false;
  uint8_t tmp[kHelloBytes];
  ssize_t got = ::recv(p->fd.get(), tmp, kHelloBytes - p->buf.size(), MSG_DONTWAIT);
  if (got > 0)
    p->buf.insert(p->buf.end(), tmp, tmp + got);
  else if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
    return "closed before a complete hello";
  if (p->buf.size() < kHelloBytes) return nowMs() >= p->dropAtMs ? "no complete hello in time" : "";
  Hello hello;
  Status s = decodeHello(p->buf.data(), &hello);
  int from = static_cast<int>(hello.rank);
  if (!s) return s.message();
  if (hello.kind != HelloKind::kData || !secretsEqual(hello.secret, st.secret))
    return "wrong secret";
  if (hello.nranks != static_cast<uint32_t>(st.nranks) || from >= st.me || !socks->count(from) ||
      hello.nchannels != static_cast<uint32_t>(st.nsocks) || hello.channel >= hello.nchannels)
    return "unexpected rank " + std::to_string(from) + " socket " + std::to_string(hello.channel);
  Fd& slot = (*socks)[from][hello.channel];
  if (slot.valid()) return "duplicate socket from rank " + std::to_string(from);
  configureSocket(p->fd.get(), st.config.socketBufferBytes);
  setLiveness(p->fd.get(), st.config.timeoutMs);
  slot = std::move(p->fd);
  *filed = true;
  return "";
}

// The higher rank of each pair accepts on its listener until `expected` sockets from lower
// ranks are filed in *socks, dropping (with a warning) whatever is not one of them.
Status acceptPeers(const Setup& st, int listenFd, const Deadline& deadline, int expected,
                   std::map<int, std::vector<Fd>>* socks) {
  std::vector<PendingHello> pending;
  while (expected > 0) {
    if (deadline.expired()) {
      std::string missing;
      for (auto& [peer, v] : *socks) {
        if (peer < st.me &&
            std::any_of(v.begin(), v.end(), [](const Fd& f) { return !f.valid(); })) {
          missing += (missing.empty() ? "" : ", ") + st.describe(peer);
        }
      }
      return timeoutError("rank " + std::to_string(st.me) + ": timed out after " +
                          std::to_string(st.config.timeoutMs) +
                          " ms waiting for socket connections from " + missing);
    }
    std::vector<pollfd> fds{{listenFd, POLLIN, 0}};
    if (st.abortFd >= 0) fds.push_back({st.abortFd, POLLIN, 0});
    for (auto& p : pending) fds.push_back({p.fd.get(), POLLIN, 0});
    int rc = ::poll(fds.data(), fds.size(), std::min(deadline.remainingMs(), 500));
    if (rc < 0 && errno != EINTR) return systemError(errnoMessage("poll", errno));
    if (st.abortFd >= 0 && (fds[1].revents & POLLIN))
      return remoteError("connection set-up aborted");
    for (;;) {
      Fd fd;
      SocketAddress from;
      BRAID_RETURN_IF_ERROR(acceptOne(listenFd, &fd, &from));
      if (!fd.valid()) break;
      pending.push_back({std::move(fd), from, {}, nowMs() + 5000});
    }
    for (size_t i = 0; i < pending.size();) {
      PendingHello& p = pending[i];
      bool filed = false;
      const std::string why = admitHello(st, &p, socks, &filed);
      if (filed) --expected;
      if (!why.empty()) {
        BRAID_WARN(st.me, "socket transport: dropped a connection from %s: %s",
                   p.from.toString().c_str(), why.c_str());
      }
      if (filed || !why.empty()) {
        pending.erase(pending.begin() + static_cast<long>(i));
        continue;
      }
      ++i;
    }
  }
  return Status::ok();
}

}  // namespace

Status SocketTransport::create(OutOfBand* oob, const Config& config,
                               std::unique_ptr<Transport>* out) {
  *out = std::make_unique<SocketTransport>(oob, config, oob->abortFd());
  return Status::ok();
}

Status SocketTransport::connect(const std::vector<int>& peers,
                                std::vector<std::unique_ptr<Connection>>* out) {
  std::vector<std::vector<std::unique_ptr<Connection>>> channels;
  BRAID_RETURN_IF_ERROR(connectChannels(peers, 1, &channels));
  for (auto& c : channels[0]) out->push_back(std::move(c));
  return Status::ok();
}

Status SocketTransport::connectChannels(
    const std::vector<int>& peers, int nchannels,
    std::vector<std::vector<std::unique_ptr<Connection>>>* out) {
  const int me = bootstrap_->rank();
  // Per channel, sockets [0, per) carry lower rank -> higher rank, [per, 2 per) the reverse;
  // channel c's sockets are [2 per c, 2 per (c + 1)).
  const int perDirection = config_.socketNsocks;
  // Named: st.describe refers to it (a FunctionRef does not own what it calls).
  auto describe = [this](int r) { return bootstrap_->describe(r); };
  const Setup st{me,
                 bootstrap_->nranks(),
                 bootstrap_->secret(),
                 2 * perDirection * nchannels,
                 config_,
                 abortFd_,
                 describe};
  Deadline deadline(config_.timeoutMs);
  std::map<int, std::vector<Fd>> socks;
  // Lower rank connects. Connects never wait for the peer's accept (the listen backlog holds
  // them), so doing all connects before all accepts cannot deadlock.
  for (int peer : peers) {
    if (peer == me)
      return internalError("socket transport asked to connect rank " + std::to_string(me) +
                           " to itself");
    socks[peer].resize(st.nsocks);
    if (me > peer) continue;
    BRAID_RETURN_IF_ERROR(
        dialPeer(st, peer, bootstrap_->table()[peer].listen, deadline, &socks[peer]));
  }
  // Accept from lower ranks.
  int expected = 0;
  for (int peer : peers) {
    if (peer < me) expected += st.nsocks;
  }
  BRAID_RETURN_IF_ERROR(acceptPeers(st, bootstrap_->listenFd(), deadline, expected, &socks));
  out->clear();
  out->resize(static_cast<size_t>(nchannels));
  for (int peer : peers) {
    std::vector<Fd>& all = socks[peer];
    for (int ch = 0; ch < nchannels; ++ch) {
      std::string desc = bootstrap_->describe(peer) + " over TCP" +
                         (nchannels > 1 ? " (channel " + std::to_string(ch) + ")" : "");
      std::vector<Fd> lowToHigh;
      std::vector<Fd> highToLow;
      for (int c = 0; c < 2 * perDirection; ++c) {
        (c < perDirection ? lowToHigh : highToLow)
            .push_back(
                std::move(all[static_cast<size_t>(2 * perDirection) * static_cast<size_t>(ch) +
                              static_cast<size_t>(c)]));
      }
      const bool lower = me < peer;
      (*out)[static_cast<size_t>(ch)].push_back(std::make_unique<SocketConnection>(
          peer, desc, std::move(lower ? lowToHigh : highToLow),
          std::move(lower ? highToLow : lowToHigh), config_.socketSegmentBytes));
    }
  }
  BRAID_INFO(me,
             "socket transport: connected to %zu peer(s) with %d socket(s) per direction, %zu-byte "
             "segments",
             peers.size(), perDirection, config_.socketSegmentBytes);
  return Status::ok();
}

}  // namespace braid
