// Blocking-with-deadline helpers over non-blocking TCP sockets: listen, connect (retrying
// while the listener is not up yet), read and write a whole buffer. Every helper takes a
// Deadline and an optional abort fd (an eventfd that becomes readable when the communicator
// is aborted), and its error says what it was doing.
#pragma once

#include <cstddef>
#include <string>

#include "core/clock.h"
#include "core/fd.h"
#include "core/socket_address.h"
#include "core/status.h"

namespace braid {

// TCP_NODELAY, SO_KEEPALIVE, O_NONBLOCK, and buffer sizes when bufferBytes > 0.
void configureSocket(int fd, size_t bufferBytes);

// Liveness from the kernel, derived from the communicator's timeout: keep-alive probes start
// after timeoutMs/3 of silence (3 probes, timeoutMs/9 apart) and TCP_USER_TIMEOUT aborts a
// connection whose sent data stays unacknowledged for timeoutMs. A peer host that vanishes
// (power loss, cut cable) thus becomes a socket error within about the timeout, even while no
// collective is waiting on it.
void setLiveness(int fd, int64_t timeoutMs);

// Binds and listens (non-blocking, close-on-exec). addr's port 0 picks a free port; *bound gets
// the real address.
Status listenOn(const SocketAddress& addr, Fd* out, SocketAddress* bound);

// A port on addr's host that is free now, chosen at random below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range) so that no automatically assigned port can take it later;
// falls back to an ephemeral port when that range leaves no room. *out is addr with the port.
Status pickRootPort(const SocketAddress& addr, SocketAddress* out);

// Connects, retrying refused or unreachable attempts until the deadline.
Status connectTo(const SocketAddress& addr, const Deadline& deadline, int abortFd, Fd* out,
                 const std::string& what);

// Accepts one pending connection without blocking; *out invalid when none is pending.
Status acceptOne(int listenFd, Fd* out, SocketAddress* peer);

// Reads or writes exactly len bytes. EOF is braidRemoteError, the deadline braidTimeout, the
// abort fd braidRemoteError ("aborted"); 'what' names the exchange in the message.
Status readFull(int fd, void* buf, size_t len, const Deadline& deadline, int abortFd,
                const std::string& what);
Status writeFull(int fd, const void* buf, size_t len, const Deadline& deadline, int abortFd,
                 const std::string& what);

}  // namespace braid
