// TCP transport: each connection is BRAID_SOCKET_NSOCKS non-blocking sockets per direction
// (a socket carries one direction only), messages split into segments striped round-robin
// over them (both sides derive the same striping from the message sizes, so segments need no
// headers). TCP_NODELAY always; large messages are written
// and read in segment-sized calls straight from and into the user's buffers.
//
// Set-up: the lower rank of a pair connects to the higher rank's listener (from the bootstrap
// table) and sends an authenticated hello per socket; the higher rank accepts, checks the
// secret, the rank and the socket index, and drops anything else with a warning.
#pragma once

#include <memory>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "core/config.h"
#include "transports/transport.h"

namespace braid {

class SocketTransport : public Transport {
 public:
  SocketTransport(Bootstrap* bootstrap, const Config& config, int abortFd)
      : bootstrap_(bootstrap), config_(config), abortFd_(abortFd) {}
  const char* name() const override { return "socket"; }
  Status connect(const std::vector<int>& peers,
                 std::vector<std::unique_ptr<Connection>>* out) override;
  // nchannels independent connections to each peer, in one set-up round (so sockets of
  // different channels cannot be confused): (*out)[c] holds channel c's, in the order of peers.
  Status connectChannels(const std::vector<int>& peers, int nchannels,
                         std::vector<std::vector<std::unique_ptr<Connection>>>* out);

 private:
  Bootstrap* bootstrap_;
  Config config_;
  int abortFd_;
};

}  // namespace braid
