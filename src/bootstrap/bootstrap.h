// Rendezvous and the out-of-band channel of a communicator.
//
// Rank 0 listens on the root address of the unique id. Every other rank connects, proves it
// knows the secret, and sends its rank and its own listen address; rank 0 answers with the
// table of all ranks, or with an error every rank receives (duplicate rank, mismatched
// nranks, ranks that never arrived). Connections whose first bytes are not an authenticated
// hello are dropped and logged; they never derail the rendezvous of the real ranks.
//
// The connections to rank 0 (a star) stay open for the communicator's life: out-of-band
// allgather and barrier run over them, and so do failure notices: a rank that fails tells
// rank 0, which tells everyone; a rank whose connection drops without a goodbye is dead.
#pragma once

#include <poll.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bootstrap/wire.h"
#include "core/fd.h"
#include "core/socket_address.h"
#include "core/status.h"

namespace braid {

struct BootstrapParams {
  int rank = 0;
  int nranks = 0;
  SocketAddress root;
  Secret secret{};
  int64_t timeoutMs = 300000;
  std::string ifname;  // BRAID_SOCKET_IFNAME
  int family = 0;
  int abortFd = -1;  // readable when the communicator is aborted
};

class Bootstrap {
 public:
  static Status create(const BootstrapParams& params, std::unique_ptr<Bootstrap>* out);
  // A process given a rank outside [0, nranks) tells rank 0 (best effort, a few seconds at
  // most), so every rank fails at once with a message naming it instead of at the timeout.
  static void reportInvalidRank(const BootstrapParams& params);
  ~Bootstrap();
  Bootstrap(const Bootstrap&) = delete;
  Bootstrap& operator=(const Bootstrap&) = delete;

  int rank() const { return params_.rank; }
  int nranks() const { return params_.nranks; }
  const Secret& secret() const { return params_.secret; }
  const std::vector<RankInfo>& table() const { return table_; }
  // "rank 3 (host:pid 1234)"
  std::string describe(int rank) const;
  // This rank's listener for data connections (transports accept on it).
  int listenFd() const { return listen_.get(); }
  int64_t timeoutMs() const { return params_.timeoutMs; }

  // Out-of-band collectives (blocking, bounded by the timeout). out gets nranks * bytes.
  Status allgather(const void* mine, size_t bytes, std::vector<uint8_t>* out);
  Status barrier();

  // Failure detection: fds that become readable when a notice or a disconnect arrives.
  void appendPollFds(std::vector<pollfd>* fds) const;
  // Reads what has arrived without blocking; returns the first failure another rank reported
  // (a rank that failed says so at once), if any.
  Status checkRemote();
  // A rank whose link dropped without a goodbye: it died, or it exited without
  // braidCommDestroy right after its last collective, its data already sent. Callers treat it
  // as fatal for the next operation, and for the current one once nothing moves for a moment.
  const Status& peerGone() const { return peerGone_; }
  // Tells the others this rank failed (best effort, never blocks for long).
  void notifyFailure(const std::string& message);
  // Orderly goodbye before closing, so peers do not take the close for a crash.
  void sayGoodbye();

 private:
  struct Link {
    Fd fd;
    int rank = -1;
    FrameParser parser;
    std::vector<std::vector<uint8_t>> allgatherFrames;
    bool departed = false;
    bool closed = false;
  };

  explicit Bootstrap(const BootstrapParams& params) : params_(params) {}
  Status rendezvousRoot(const RankInfo& self);
  Status rendezvousRank(const RankInfo& self);
  Status pump(Link* link);  // reads available bytes, handles control frames
  Status waitAllgatherFrame(Link* link, std::vector<uint8_t>* payload);
  Status sendFrame(Link* link, FrameType type, const std::vector<uint8_t>& payload);
  void recordFailure(Status status);
  void relay(FrameType type, int failedRank, const std::string& message, const Link* except);

  BootstrapParams params_;
  Fd listen_;
  std::vector<RankInfo> table_;
  std::vector<std::unique_ptr<Link>> links_;  // root: one per rank (nullptr for itself); rank: one
  Status remoteFailure_;
  Status peerGone_;
  bool saidGoodbye_ = false;
};

// Host identity: BRAID_HOST_ID if set, else boot id plus network namespace (two namespaces on
// one machine are two hosts: they cannot share memory-mapped segments by name reliably).
std::string localHostId();
std::string localHostname();

}  // namespace braid
