// The one interface every transport implements.
//
// A Connection moves bytes between this rank and one peer. Sends and receives are posted
// asynchronously and complete in posting order per direction; both sides must post matching
// sizes in the same order (the algorithm guarantees it). Nothing here knows which collective
// it serves, and algorithms never know which transport is behind a Connection.
//
// Progress is explicit: the communicator's wait loop (comm/waiter.h) calls progress() on every
// connection, spins and then yields for a bounded number of rounds while nothing moves, and
// then sleeps in poll() on the fds they report (or on the doorbell of a shared-memory
// transport). A blocked collective thus uses a core for up to about a millisecond, and no CPU
// while asleep.
//
// Which transport serves a pair is the registry's choice (transports/registry.h): every
// transport says whether it reaches a peer and with what priority.
#pragma once

#include <poll.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "transports/doorbell.h"
#include "transports/shared_window.h"

namespace braid {

class Connection {
 public:
  virtual ~Connection() = default;

  int peer() const { return peer_; }
  // "rank 3 (host pid 1234) over socket"; used in every error about this connection.
  const std::string& description() const { return description_; }

  // Queue a send / receive; returns a ticket (1, 2, ... per direction). The buffer must stay
  // valid (and, for sends, unmodified) until sendsDone() / recvsDone() reaches the ticket.
  virtual uint64_t postSend(const void* buf, size_t bytes) = 0;
  virtual uint64_t postRecv(void* buf, size_t bytes) = 0;
  // Highest ticket such that it and every earlier one have completed.
  virtual uint64_t sendsDone() const = 0;
  virtual uint64_t recvsDone() const = 0;

  // Moves whatever can move without blocking; sets *moved when any byte moved.
  // An error means the connection is broken and names the peer.
  virtual Status progress(bool* moved) = 0;
  // Fds (with events) to sleep on while work is pending. Adds nothing when idle.
  virtual void appendPollFds(std::vector<pollfd>* fds) const = 0;
  // Whether sends or receives are queued.
  virtual bool pending() const = 0;
  // Shared-memory connections have no fds: a waiter sleeps on the node's doorbell instead.
  virtual bool usesSharedMemory() const { return false; }
  // Stops all traffic and releases the OS resources; later progress() fails.
  virtual void close() = 0;

 protected:
  Connection(int peer, std::string description)
      : peer_(peer), description_(std::move(description)) {}

 private:
  int peer_;
  std::string description_;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual const char* name() const = 0;
  // Whether this transport reaches rank peer, and how much it is preferred: the registry gives
  // each pair to the transport with the highest priority; negative means it cannot. Both
  // ranks of a pair must come to the same answer (they decide from facts both hold).
  virtual int priority(int peer) const = 0;
  // Establishes one connection with each rank in peers. Every rank of a pair must list the
  // other (the call is collective among the ranks involved). Appends one connection per peer,
  // in the order of peers.
  virtual Status connect(const std::vector<int>& peers,
                         std::vector<std::unique_ptr<Connection>>* out) = 0;
  // Channels (BRAID_NCHANNELS): nchannels further connections to each peer, independent of
  // connect()'s and of each other, in one set-up round: (*out)[c] holds channel c's, in the
  // order of peers. Only transports whose bandwidth grows with parallel streams offer them.
  virtual bool offersChannels() const { return false; }
  virtual Status connectChannels(const std::vector<int>& peers, int nchannels,
                                 std::vector<std::vector<std::unique_ptr<Connection>>>* out) {
    (void)peers;
    (void)nchannels;
    (void)out;
    return internalError(std::string("the ") + name() + " transport has no channels");
  }
  // What a shared-memory transport offers beyond connections: the doorbell its waiters sleep
  // on, and the window every rank maps (when every rank of the communicator is on this host).
  virtual Doorbell* doorbell() { return nullptr; }
  virtual SharedWindow* window() { return nullptr; }
};

}  // namespace braid
