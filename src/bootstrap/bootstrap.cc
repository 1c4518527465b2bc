#include "bootstrap/bootstrap.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/socket_io.h"

namespace braid {

namespace {

constexpr int64_t kHelloTimeoutMs = 5000;  // a stranger may hold a slot this long at most
constexpr int64_t kErrorLingerMs = 2000;   // answer late arrivals with the rendezvous error

std::string rankList(const std::vector<int>& ranks) {
  std::string s;
  size_t shown = std::min<size_t>(ranks.size(), 16);
  for (size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + std::to_string(ranks[i]);
  if (ranks.size() > shown) s += ", ... (" + std::to_string(ranks.size()) + " in all)";
  return s;
}

// A connection accepted by the rendezvous, until its hello is complete.
struct PendingHello {
  Fd fd;
  SocketAddress from;
  std::vector<uint8_t> buf;
  int64_t dropAtMs;
};

// Takes every connection waiting on the listener.
void acceptPending(int listenFd, std::vector<PendingHello>* pending) {
  for (;;) {
    Fd fd;
    SocketAddress from;
    Status s = acceptOne(listenFd, &fd, &from);
    if (!s || !fd.valid()) break;
    pending->push_back({std::move(fd), from, {}, nowMs() + kHelloTimeoutMs});
  }
}

// Reads what has arrived of p's hello, without blocking. Returns false when the connection is
// to be dropped (closed early, or too slow), with *why.
bool readHello(PendingHello* p, std::string* why) {
  uint8_t tmp[kHelloBytes];
  size_t want = kHelloBytes - p->buf.size();
  ssize_t got = recv(p->fd.get(), tmp, want, MSG_DONTWAIT);
  if (got > 0) {
    p->buf.insert(p->buf.end(), tmp, tmp + got);
  } else if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
    *why = "closed before a complete hello";
    return false;
  }
  if (p->buf.size() < kHelloBytes && nowMs() >= p->dropAtMs) {
    *why = "sent no complete hello within " + std::to_string(kHelloTimeoutMs) + " ms";
    return false;
  }
  return true;
}

// A complete hello from a rank of this job: it decodes and knows the secret. Else *why.
bool authenticHello(const PendingHello& p, const Secret& secret, Hello* hello, std::string* why) {
  Status s = decodeHello(p.buf.data(), hello);
  if (!s) {
    *why = s.message();
    return false;
  }
  if (hello->kind != HelloKind::kBootstrap || !secretsEqual(hello->secret, secret)) {
    *why = "wrong secret";
    return false;
  }
  return true;
}

// What an authenticated rank claims, checked against the job: its nranks, its rank in range
// and not taken (`claimed`: another connection already has it). OK, or why the rendezvous
// fails.
Status checkClaim(const Hello& hello, int n, const std::vector<RankInfo>& table, bool claimed) {
  int r = static_cast<int>(hello.rank);
  if (hello.nranks != static_cast<uint32_t>(n)) {
    return invalidUsage("mismatched nranks: rank " + std::to_string(hello.rank) + " (" +
                        hello.info.hostname + " pid " + std::to_string(hello.info.pid) +
                        ") was started with nranks " + std::to_string(hello.nranks) +
                        ", rank 0 with nranks " + std::to_string(n));
  }
  if (r < 0 || r >= n) {
    return invalidUsage("rank " + std::to_string(r) + " (" + hello.info.hostname + " pid " +
                        std::to_string(hello.info.pid) + ") is out of range for nranks " +
                        std::to_string(n));
  }
  if (r == 0) {
    return invalidUsage("duplicate rank 0: claimed by the root (" + table[0].hostname + " pid " +
                        std::to_string(table[0].pid) + ") and by " + hello.info.hostname + " pid " +
                        std::to_string(hello.info.pid));
  }
  if (claimed) {
    return invalidUsage("duplicate rank " + std::to_string(r) + ": claimed by " +
                        table[r].hostname + " pid " + std::to_string(table[r].pid) + " and by " +
                        hello.info.hostname + " pid " + std::to_string(hello.info.pid));
  }
  return Status::ok();
}

// Sends a rendezvous error frame (best effort, a second at most).
void sendErrorFrame(int fd, const Status& err, int abortFd) {
  uint8_t hdr[kFrameHeaderBytes];
  std::vector<uint8_t> payload = encodeErrorPayload(err);
  encodeFrameHeader(FrameType::kError, static_cast<uint32_t>(payload.size()), hdr);
  Deadline d(1000);
  if (writeFull(fd, hdr, sizeof(hdr), d, abortFd, "rendezvous error").isOk()) {
    (void)writeFull(fd, payload.data(), payload.size(), d, abortFd, "rendezvous error");
  }
}

Status rendezvousTimeout(int64_t timeoutMs, int arrived, int n, const std::vector<int>& missing) {
  return timeoutError("rendezvous timed out after " + std::to_string(timeoutMs) +
                      " ms (BRAID_TIMEOUT_MS): " + std::to_string(arrived) + " of " +
                      std::to_string(n) + " ranks arrived; missing rank" +
                      (missing.size() > 1 ? "s " : " ") + rankList(missing));
}

}  // namespace

std::string localHostname() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return host;
}

std::string localHostId(const std::string& configured) {
  if (!configured.empty()) return configured.substr(0, kHostIdBytes - 1);
  std::string id;
  std::ifstream f("/proc/sys/kernel/random/boot_id");
  std::getline(f, id);
  char ns[64] = {0};
  ssize_t n = readlink("/proc/self/ns/net", ns, sizeof(ns) - 1);
  if (n > 0) id += std::string("/") + std::string(ns, static_cast<size_t>(n));
  if (id.empty()) id = localHostname();
  return id.substr(0, kHostIdBytes - 1);
}

Status Bootstrap::create(const BootstrapParams& params, std::unique_ptr<Bootstrap>* out) {
  std::unique_ptr<Bootstrap> b(new Bootstrap(params));
  // Our own listener for data connections, on the interface that reaches the root.
  SocketAddress local;
  std::string ifname;
  BRAID_RETURN_IF_ERROR(
      chooseLocalAddress(params.ifname, params.family, &params.root, &local, &ifname));
  SocketAddress bound;
  BRAID_RETURN_IF_ERROR(listenOn(local, &b->listen_, &bound));
  BRAID_INFO(params.rank, "bootstrap: listening for peers on %s (%s), root %s",
             bound.toString().c_str(), ifname.c_str(), params.root.toString().c_str());
  RankInfo self;
  self.rank = params.rank;
  self.listen = bound;
  self.pid = static_cast<uint32_t>(getpid());
  self.hostname = localHostname().substr(0, kHostnameBytes - 1);
  self.hostId = localHostId(params.hostId);
  Status s = params.rank == 0 ? b->rendezvousRoot(self) : b->rendezvousRank(self);
  if (!s) return s;
  *out = std::move(b);
  return Status::ok();
}

Bootstrap::~Bootstrap() { sayGoodbye(); }

void Bootstrap::reportInvalidRank(const BootstrapParams& params) {
  // Best effort and brief: the caller fails with braidInvalidArgument whatever happens here.
  Deadline deadline(std::min<int64_t>(params.timeoutMs, 1500));
  Fd fd;
  if (!connectTo(params.root, deadline, params.abortFd, &fd, "reporting an invalid rank").isOk()) {
    return;
  }
  Hello hello;
  hello.kind = HelloKind::kBootstrap;
  hello.secret = params.secret;
  hello.nranks = static_cast<uint32_t>(params.nranks);
  hello.rank = static_cast<uint32_t>(params.rank);
  hello.info.rank = params.rank;
  hello.info.listen = params.root;
  hello.info.pid = static_cast<uint32_t>(getpid());
  hello.info.hostname = localHostname().substr(0, kHostnameBytes - 1);
  hello.info.hostId = localHostId(params.hostId);
  uint8_t buf[kHelloBytes];
  encodeHello(hello, buf);
  if (!writeFull(fd.get(), buf, sizeof(buf), deadline, params.abortFd, "invalid rank").isOk())
    return;
  // Wait for rank 0's error frame, so the report is read before the connection closes.
  uint8_t hdr[kFrameHeaderBytes];
  (void)readFull(fd.get(), hdr, sizeof(hdr), deadline, params.abortFd, "invalid rank");
}

std::string Bootstrap::describe(int r) const {
  if (r < 0 || r >= static_cast<int>(table_.size())) return "rank " + std::to_string(r);
  const RankInfo& info = table_[r];
  return "rank " + std::to_string(r) + " (" + info.hostname + " pid " + std::to_string(info.pid) +
         ")";
}

Status Bootstrap::rendezvousRoot(const RankInfo& self) {
  const int n = params_.nranks;
  Deadline deadline(params_.timeoutMs);
  Fd rootListen;
  SocketAddress bound;
  {
    Status s = listenOn(params_.root, &rootListen, &bound);
    if (!s) {
      return s.withContext("rank 0 cannot serve the rendezvous (is " + params_.root.toString() +
                           " an address of this host, and the port free?): ");
    }
  }
  table_.assign(n, RankInfo{});
  table_[0] = self;
  links_.clear();
  links_.resize(n);
  int arrived = 1;

  std::vector<PendingHello> pending;
  Status failure;
  int64_t lingerUntil = 0;

  // The first failure goes to every rank already in, and, until lingerUntil, to late arrivals.
  auto fail = [&](const Status& err) {
    if (!failure.isOk()) return;
    failure = err;
    BRAID_WARN(0, "rendezvous failed: %s", err.message().c_str());
    for (auto& link : links_) {
      if (link) sendErrorFrame(link->fd.get(), err, params_.abortFd);
    }
    lingerUntil = nowMs() + std::min<int64_t>(kErrorLingerMs, params_.timeoutMs);
  };

  while (true) {
    if (failure.isOk() && arrived == n) break;
    if (!failure.isOk() && nowMs() >= lingerUntil) break;
    if (failure.isOk() && deadline.expired()) {
      std::vector<int> missing;
      for (int r = 1; r < n; ++r) {
        if (!links_[r]) missing.push_back(r);
      }
      fail(rendezvousTimeout(params_.timeoutMs, arrived, n, missing));
      continue;
    }
    std::vector<pollfd> fds;
    fds.push_back({rootListen.get(), POLLIN, 0});
    if (params_.abortFd >= 0) fds.push_back({params_.abortFd, POLLIN, 0});
    for (auto& p : pending) fds.push_back({p.fd.get(), POLLIN, 0});
    int64_t wakeAt = failure.isOk() ? deadline.endMs() : lingerUntil;
    for (auto& p : pending) wakeAt = std::min(wakeAt, p.dropAtMs);
    int waitMs = static_cast<int>(std::clamp<int64_t>(wakeAt - nowMs(), 0, 1000));
    int rc = ::poll(fds.data(), fds.size(), waitMs);
    if (rc < 0 && errno != EINTR) return systemError(errnoMessage("rendezvous poll", errno));
    if (params_.abortFd >= 0 && (fds[1].revents & POLLIN)) {
      fail(remoteError("rendezvous aborted by braidCommAbort"));
      return failure;
    }
    acceptPending(rootListen.get(), &pending);
    // Hellos.
    for (size_t i = 0; i < pending.size();) {
      PendingHello& p = pending[i];
      std::string why;
      Hello hello;
      if (readHello(&p, &why) && p.buf.size() == kHelloBytes &&
          authenticHello(p, params_.secret, &hello, &why)) {
        // An authenticated rank: check what it claims.
        const int r = static_cast<int>(hello.rank);
        Status bad = checkClaim(hello, n, table_, r > 0 && r < n && links_[r]);
        if (!bad.isOk()) {
          sendErrorFrame(p.fd.get(), bad, params_.abortFd);
          fail(bad);
        } else if (!failure.isOk()) {
          sendErrorFrame(p.fd.get(), failure, params_.abortFd);
        } else {
          hello.info.rank = r;
          table_[r] = hello.info;
          links_[r] = std::make_unique<Link>();
          links_[r]->fd = std::move(p.fd);
          links_[r]->rank = r;
          ++arrived;
          BRAID_TRACE(0, "rendezvous: rank %d arrived from %s (%d of %d)", r,
                      p.from.toString().c_str(), arrived, n);
        }
        pending.erase(pending.begin() + static_cast<long>(i));
        continue;
      }
      if (!why.empty()) {
        BRAID_WARN(0, "rendezvous: dropped a connection from %s: %s", p.from.toString().c_str(),
                   why.c_str());
        pending.erase(pending.begin() + static_cast<long>(i));
        continue;
      }
      ++i;
    }
  }
  if (!failure.isOk()) {
    links_.clear();
    return failure;
  }
  // Everyone is here: send the table.
  for (int r = 1; r < n; ++r) setLiveness(links_[r]->fd.get(), params_.timeoutMs);
  std::vector<uint8_t> payload = encodeTable(table_);
  for (int r = 1; r < n; ++r) {
    Status s = sendFrame(links_[r].get(), FrameType::kTable, payload);
    if (!s) return s.withContext("rendezvous: sending the rank table to " + describe(r) + ": ");
  }
  BRAID_INFO(0, "rendezvous complete: %d ranks", n);
  return Status::ok();
}

Status Bootstrap::rendezvousRank(const RankInfo& self) {
  Deadline deadline(params_.timeoutMs);
  auto link = std::make_unique<Link>();
  link->rank = 0;
  std::string what = "rank " + std::to_string(params_.rank) + ": rendezvous with rank 0 at " +
                     params_.root.toString();
  BRAID_RETURN_IF_ERROR(connectTo(params_.root, deadline, params_.abortFd, &link->fd, what));
  Hello hello;
  hello.kind = HelloKind::kBootstrap;
  hello.secret = params_.secret;
  hello.nranks = static_cast<uint32_t>(params_.nranks);
  hello.rank = static_cast<uint32_t>(params_.rank);
  hello.info = self;
  uint8_t buf[kHelloBytes];
  encodeHello(hello, buf);
  BRAID_RETURN_IF_ERROR(
      writeFull(link->fd.get(), buf, sizeof(buf), deadline, params_.abortFd, what));
  // Rank 0 answers when all ranks are in, or with an error; it gives up at its own deadline,
  // so we allow a little longer to hear why.
  Deadline answer(params_.timeoutMs + 5000);
  uint8_t hdr[kFrameHeaderBytes];
  Status s = readFull(link->fd.get(), hdr, sizeof(hdr), answer, params_.abortFd, what);
  if (!s) {
    if (s.code() == braidTimeout) {
      return timeoutError(what + ": no answer from rank 0 within " +
                          std::to_string(params_.timeoutMs) + " ms (BRAID_TIMEOUT_MS)");
    }
    return s;
  }
  FrameType type;
  uint32_t len = 0;
  BRAID_RETURN_IF_ERROR(decodeFrameHeader(hdr, &type, &len));
  std::vector<uint8_t> payload(len);
  BRAID_RETURN_IF_ERROR(
      readFull(link->fd.get(), payload.data(), len, answer, params_.abortFd, what));
  if (type == FrameType::kError)
    return decodeErrorPayload(payload).withContext("rank " + std::to_string(params_.rank) + ": ");
  if (type != FrameType::kTable) return internalError(what + ": unexpected frame from rank 0");
  BRAID_RETURN_IF_ERROR(decodeTable(payload, params_.nranks, &table_));
  setLiveness(link->fd.get(), params_.timeoutMs);
  links_.clear();
  links_.push_back(std::move(link));
  return Status::ok();
}

Status Bootstrap::sendFrame(Link* link, FrameType type, const std::vector<uint8_t>& payload) {
  uint8_t hdr[kFrameHeaderBytes];
  encodeFrameHeader(type, static_cast<uint32_t>(payload.size()), hdr);
  Deadline d(params_.timeoutMs);
  std::string what = "bootstrap message to " + describe(link->rank);
  BRAID_RETURN_IF_ERROR(writeFull(link->fd.get(), hdr, sizeof(hdr), d, params_.abortFd, what));
  return writeFull(link->fd.get(), payload.data(), payload.size(), d, params_.abortFd, what);
}

void Bootstrap::recordFailure(Status status) {
  if (remoteFailure_.isOk()) remoteFailure_ = std::move(status);
  notice_.store(true, std::memory_order_release);
}

void Bootstrap::relay(FrameType type, int failedRank, const std::string& message,
                      const Link* except) {
  if (params_.rank != 0) return;
  std::vector<uint8_t> payload = encodeFailureNotice(failedRank, message);
  uint8_t hdr[kFrameHeaderBytes];
  encodeFrameHeader(type, static_cast<uint32_t>(payload.size()), hdr);
  for (auto& link : links_) {
    if (!link || link.get() == except || link->closed || link->departed) continue;
    // Best effort, without blocking: a notice that does not fit is not worth a stall.
    (void)send(link->fd.get(), hdr, sizeof(hdr), MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)send(link->fd.get(), payload.data(), payload.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
}

Status Bootstrap::pump(Link* link) {
  if (link->closed) return Status::ok();
  bool sawEof = false;
  std::vector<Frame> frames;
  uint8_t buf[64 << 10];
  for (;;) {
    ssize_t got = recv(link->fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (got > 0) {
      Status s = link->parser.feed(buf, static_cast<size_t>(got), &frames);
      if (!s) {
        link->closed = true;
        recordFailure(internalError("corrupt bootstrap message from " + describe(link->rank) +
                                    ": " + s.message()));
        return Status::ok();
      }
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    // EOF or error: judged after the frames already received (a goodbye may be among them).
    sawEof = true;
    break;
  }
  for (Frame& frame : frames) {
    std::vector<uint8_t>& payload = frame.payload;
    switch (frame.type) {
      case FrameType::kAllgather:
        link->allgatherFrames.push_back(std::move(payload));
        break;
      case FrameType::kBye:
        link->departed = true;
        break;
      case FrameType::kAbort:
      case FrameType::kGone: {
        int failed = link->rank;
        std::string msg;
        decodeFailureNotice(payload, &failed, &msg);
        if (msg.empty()) msg = describe(failed) + " failed";
        if (frame.type == FrameType::kAbort) {
          recordFailure(remoteError(msg));
        } else if (peerGone_.isOk()) {
          peerGone_ = remoteError(msg);
        }
        relay(frame.type, failed, msg, link);
        break;
      }
      default:
        recordFailure(internalError("unexpected bootstrap message from " + describe(link->rank)));
        break;
    }
  }
  if (sawEof) {
    link->closed = true;
    if (!link->departed) {
      std::string msg = describe(link->rank) +
                        " lost its bootstrap connection (process died or host unreachable)";
      if (peerGone_.isOk()) peerGone_ = remoteError(msg);
      relay(FrameType::kGone, link->rank, msg, link);
    }
  }
  return Status::ok();
}

void Bootstrap::appendPollFds(std::vector<pollfd>* fds) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& link : links_) {
    if (link && !link->closed) fds->push_back({link->fd.get(), POLLIN, 0});
  }
}

Status Bootstrap::peerGone() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peerGone_;
}

Status Bootstrap::checkRemote() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& link : links_) {
    if (link) BRAID_RETURN_IF_ERROR(pump(link.get()));
  }
  return remoteFailure_;
}

Status Bootstrap::waitAllgatherFrame(Link* link, std::vector<uint8_t>* payload) {
  Deadline deadline(params_.timeoutMs);
  for (;;) {
    BRAID_RETURN_IF_ERROR(pump(link));
    if (!link->allgatherFrames.empty()) {
      *payload = std::move(link->allgatherFrames.front());
      link->allgatherFrames.erase(link->allgatherFrames.begin());
      return Status::ok();
    }
    if (!remoteFailure_.isOk()) return remoteFailure_;
    if (link->closed)
      return remoteError("out-of-band exchange: " + describe(link->rank) +
                         " closed its connection");
    if (deadline.expired()) {
      return timeoutError("out-of-band exchange: timed out after " +
                          std::to_string(params_.timeoutMs) + " ms waiting for " +
                          describe(link->rank));
    }
    pollfd fds[2] = {{link->fd.get(), POLLIN, 0}, {params_.abortFd, POLLIN, 0}};
    int rc = ::poll(fds, params_.abortFd >= 0 ? 2 : 1, std::min(deadline.remainingMs(), 1000));
    if (rc > 0 && params_.abortFd >= 0 && (fds[1].revents & POLLIN)) {
      return remoteError("out-of-band exchange aborted by braidCommAbort");
    }
  }
}

Status Bootstrap::allgather(const void* mine, size_t bytes, std::vector<uint8_t>* out) {
  std::lock_guard<std::mutex> lock(mu_);
  return allgatherLocked(mine, bytes, out);
}

Status Bootstrap::allgatherLocked(const void* mine, size_t bytes, std::vector<uint8_t>* out) {
  const int n = params_.nranks;
  if (bytes * static_cast<size_t>(n) > kMaxFramePayload) {
    return invalidArgument("out-of-band allgather of " + std::to_string(bytes) +
                           " bytes per rank is too large");
  }
  out->assign(bytes * static_cast<size_t>(n), 0);
  if (bytes > 0) std::memcpy(out->data() + bytes * static_cast<size_t>(params_.rank), mine, bytes);
  if (n == 1) return Status::ok();
  if (params_.rank == 0) {
    for (int r = 1; r < n; ++r) {
      std::vector<uint8_t> frame;
      BRAID_RETURN_IF_ERROR(waitAllgatherFrame(links_[r].get(), &frame));
      if (frame.size() != bytes) {
        return invalidUsage("out-of-band allgather: " + describe(r) + " contributed " +
                            std::to_string(frame.size()) + " bytes, rank 0 " +
                            std::to_string(bytes));
      }
      if (bytes > 0) std::memcpy(out->data() + bytes * static_cast<size_t>(r), frame.data(), bytes);
    }
    for (int r = 1; r < n; ++r)
      BRAID_RETURN_IF_ERROR(sendFrame(links_[r].get(), FrameType::kAllgather, *out));
    return Status::ok();
  }
  std::vector<uint8_t> contribution(static_cast<const uint8_t*>(mine),
                                    static_cast<const uint8_t*>(mine) + bytes);
  BRAID_RETURN_IF_ERROR(sendFrame(links_[0].get(), FrameType::kAllgather, contribution));
  std::vector<uint8_t> result;
  BRAID_RETURN_IF_ERROR(waitAllgatherFrame(links_[0].get(), &result));
  if (result.size() != out->size()) {
    return invalidUsage("out-of-band allgather: result of " + std::to_string(result.size()) +
                        " bytes, expected " + std::to_string(out->size()));
  }
  *out = std::move(result);
  return Status::ok();
}

Status Bootstrap::barrier() {
  std::vector<uint8_t> ignored;
  return allgather(nullptr, 0, &ignored);
}

void Bootstrap::notifyFailure(const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (params_.rank == 0) {
    relay(FrameType::kAbort, 0, message, nullptr);
    return;
  }
  if (links_.empty() || !links_[0] || links_[0]->closed) return;
  std::vector<uint8_t> payload = encodeFailureNotice(params_.rank, message);
  uint8_t hdr[kFrameHeaderBytes];
  encodeFrameHeader(FrameType::kAbort, static_cast<uint32_t>(payload.size()), hdr);
  (void)send(links_[0]->fd.get(), hdr, sizeof(hdr), MSG_DONTWAIT | MSG_NOSIGNAL);
  (void)send(links_[0]->fd.get(), payload.data(), payload.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

void Bootstrap::sayGoodbye() {
  std::lock_guard<std::mutex> lock(mu_);
  if (saidGoodbye_) return;
  saidGoodbye_ = true;
  uint8_t hdr[kFrameHeaderBytes];
  encodeFrameHeader(FrameType::kBye, 0, hdr);
  for (auto& link : links_) {
    if (link && !link->closed)
      (void)send(link->fd.get(), hdr, sizeof(hdr), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
}

}  // namespace braid
