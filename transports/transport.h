// The one interface every transport implements.
//
// A Connection moves bytes between this rank and one peer. Sends and receives are posted
// asynchronously and complete in posting order per direction; both sides must post matching
// sizes in the same order (the algorithm guarantees it). Nothing here knows which collective
// it serves, and algorithms never know which transport is behind a Connection.
//
// Progress is explicit: the communicator's wait loop calls progress() on every busy
// connection and sleeps in poll() on the fds they report, so a blocked collective costs no CPU.
#pragma once

#include <poll.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

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
  // Establishes one connection with each rank in peers. Every rank of a pair must list the
  // other (the call is collective among the ranks involved). Appends one connection per peer,
  // in the order of peers.
  virtual Status connect(const std::vector<int>& peers,
                         std::vector<std::unique_ptr<Connection>>* out) = 0;
};

}  // namespace braid
