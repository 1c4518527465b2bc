#include "core/socket_io.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <fstream>

namespace braid {

void configureSocket(int fd, size_t bufferBytes) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  if (bufferBytes > 0) {
    int b = static_cast<int>(std::min<size_t>(bufferBytes, 1u << 30));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &b, sizeof(b));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b, sizeof(b));
  }
  int flags = fcntl(fd, F_GETFL, 0);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

void setLiveness(int fd, int64_t timeoutMs) {
  const int idle = static_cast<int>(std::clamp<int64_t>(timeoutMs / 3000, 1, 3600));
  const int interval = static_cast<int>(std::clamp<int64_t>(timeoutMs / 9000, 1, 600));
  const int count = 3;
  const unsigned userTimeout = static_cast<unsigned>(std::clamp<int64_t>(timeoutMs, 1000, 1 << 30));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &userTimeout, sizeof(userTimeout));
}

Status listenOn(const SocketAddress& addr, Fd* out, SocketAddress* bound) {
  Fd fd(socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return systemError(errnoMessage("socket()", errno));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd.get(), addr.sockaddrPtr(), addr.length()) != 0) {
    return systemError(errnoMessage("cannot listen on " + addr.toString() + ": bind", errno));
  }
  if (listen(fd.get(), 1024) != 0) {
    return systemError(errnoMessage("listen on " + addr.toString(), errno));
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  *bound = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  *out = std::move(fd);
  return Status::ok();
}

Status pickRootPort(const SocketAddress& addr, SocketAddress* out) {
  int ephemeralLow = 32768;
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int lo = 0;
  int hi = 0;
  if (range >> lo >> hi && lo > 0) ephemeralLow = lo;
  constexpr int kLowest = 10000;
  if (ephemeralLow - kLowest >= 1000) {
    for (int attempt = 0; attempt < 128; ++attempt) {
      uint32_t r = 0;
      if (getrandom(&r, sizeof(r), 0) != sizeof(r)) break;
      SocketAddress candidate = addr;
      candidate.setPort(kLowest +
                        static_cast<int>(r % static_cast<uint32_t>(ephemeralLow - kLowest)));
      Fd fd;
      SocketAddress bound;
      if (listenOn(candidate, &fd, &bound).isOk()) {
        *out = bound;
        return Status::ok();
      }
    }
  }
  Fd fd;
  SocketAddress any = addr;
  any.setPort(0);
  return listenOn(any, &fd, out);
}

namespace {

// Waits for events on fd or the abort fd. Returns ok when fd is ready.
Status waitFd(int fd, short events, const Deadline& deadline, int abortFd,
              const std::string& what) {
  for (;;) {
    pollfd pfds[2] = {{fd, events, 0}, {abortFd, POLLIN, 0}};
    int n = poll(pfds, abortFd >= 0 ? 2 : 1, deadline.remainingMs());
    if (n < 0) {
      if (errno == EINTR) continue;
      return systemError(errnoMessage(what + ": poll", errno));
    }
    if (abortFd >= 0 && (pfds[1].revents & POLLIN)) return remoteError(what + ": aborted");
    if (pfds[0].revents != 0) return Status::ok();
    if (deadline.expired()) return timeoutError(what + ": timed out");
  }
}

}  // namespace

Status connectTo(const SocketAddress& addr, const Deadline& deadline, int abortFd, Fd* out,
                 const std::string& what) {
  int backoffMs = 5;
  int lastErr = 0;
  for (;;) {
    Fd fd(socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) return systemError(errnoMessage(what + ": socket()", errno));
    int rc = connect(fd.get(), addr.sockaddrPtr(), addr.length());
    if (rc != 0 && errno == EINPROGRESS) {
      Status s = waitFd(fd.get(), POLLOUT, deadline, abortFd, what);
      if (!s) {
        if (s.code() == braidTimeout) break;
        return s;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc == 0) {
      configureSocket(fd.get(), 0);
      *out = std::move(fd);
      return Status::ok();
    }
    lastErr = errno;
    if (lastErr != ECONNREFUSED && lastErr != ETIMEDOUT && lastErr != ENETUNREACH &&
        lastErr != EHOSTUNREACH && lastErr != ECONNRESET && lastErr != EAGAIN) {
      return systemError(errnoMessage(what + ": connect to " + addr.toString(), lastErr));
    }
    if (deadline.expired()) break;
    // Sleep on the abort fd so an abort interrupts the back-off.
    pollfd pfd{abortFd, POLLIN, 0};
    int sleepMs = std::min(backoffMs, deadline.remainingMs());
    if (abortFd >= 0) {
      if (poll(&pfd, 1, sleepMs) > 0) return remoteError(what + ": aborted");
    } else {
      poll(nullptr, 0, sleepMs);
    }
    backoffMs = std::min(backoffMs * 2, 200);
  }
  std::string reason = lastErr != 0 ? errnoMessage("last attempt", lastErr) : "no answer";
  return timeoutError(what + ": could not connect to " + addr.toString() +
                      " before the deadline (" + reason + ")");
}

Status acceptOne(int listenFd, Fd* out, SocketAddress* peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int fd = accept4(listenFd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) {
      out->reset();
      return Status::ok();
    }
    return systemError(errnoMessage("accept", errno));
  }
  configureSocket(fd, 0);
  out->reset(fd);
  if (peer != nullptr) *peer = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  return Status::ok();
}

Status readFull(int fd, void* buf, size_t len, const Deadline& deadline, int abortFd,
                const std::string& what) {
  auto* p = static_cast<char*>(buf);
  size_t done = 0;
  while (done < len) {
    ssize_t n = recv(fd, p + done, len - done, 0);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return remoteError(what + ": connection closed by peer");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return remoteError(errnoMessage(what, errno));
    BRAID_RETURN_IF_ERROR(waitFd(fd, POLLIN, deadline, abortFd, what));
  }
  return Status::ok();
}

Status writeFull(int fd, const void* buf, size_t len, const Deadline& deadline, int abortFd,
                 const std::string& what) {
  const auto* p = static_cast<const char*>(buf);
  size_t done = 0;
  while (done < len) {
    ssize_t n = send(fd, p + done, len - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
      return remoteError(errnoMessage(what, errno));
    BRAID_RETURN_IF_ERROR(waitFd(fd, POLLOUT, deadline, abortFd, what));
  }
  return Status::ok();
}

}  // namespace braid
