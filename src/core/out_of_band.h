// What a transport needs from the ranks' out-of-band channel (the bootstrap implements it):
// who this rank is, what every rank told the others about itself, the communicator's secret
// (every data connection opens with an authenticated hello), this rank's listener, the
// deadline and the abort eventfd, and two collectives for set-up decisions that every rank
// must take alike. Transports see only this, never the bootstrap itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/handshake.h"
#include "core/status.h"

namespace braid {

class OutOfBand {
 public:
  virtual ~OutOfBand() = default;

  virtual int rank() const = 0;
  virtual int nranks() const = 0;
  virtual const Secret& secret() const = 0;
  // Every rank's RankInfo (listen address, pid, host name and identity), indexed by rank.
  virtual const std::vector<RankInfo>& table() const = 0;
  // "rank 3 (host:pid 1234)": how errors about a peer name it.
  virtual std::string describe(int rank) const = 0;
  // This rank's listener for data connections (transports accept on it).
  virtual int listenFd() const = 0;
  // The deadline of every wait (BRAID_TIMEOUT_MS).
  virtual int64_t timeoutMs() const = 0;
  // Readable once the communicator is aborted (or -1): set-up waits poll it.
  virtual int abortFd() const = 0;

  // Collectives over all ranks (blocking, bounded by the timeout). out gets nranks * bytes.
  virtual Status allgather(const void* mine, size_t bytes, std::vector<uint8_t>* out) = 0;
  virtual Status barrier() = 0;
};

}  // namespace braid
