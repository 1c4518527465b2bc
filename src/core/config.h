// Configuration of a communicator: defaults, overridden by BRAID_* environment variables.
// Read once per communicator at init; nothing here changes afterwards. The library reads its
// BRAID_* knobs only here; the exceptions are the variables that say how the job was launched
// (bootstrap/env_init.cc: RANK, OMPI_*, BRAID_ROOT_ADDR, BRAID_SECRET, ..., read before there
// is a communicator) and BRAID_DEBUG (core/log.cc: the log level, process-wide).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace braid {

struct Config {
  // Every wait's deadline: rendezvous, connection set-up, and "no progress" in a collective.
  int64_t timeoutMs = 300000;
  // TCP sockets per peer connection and direction; messages are striped over them.
  int socketNsocks = 1;
  // Bytes per striped segment (and the largest single send/recv call).
  size_t socketSegmentBytes = size_t{1} << 20;
  // SO_SNDBUF / SO_RCVBUF; 0 leaves the kernel's autotuning on.
  size_t socketBufferBytes = 0;
  // Pipeline slice: bytes each ring chunk moves per step. The scratch slices are this size;
  // the tuner picks a chunk up to it for each call unless BRAID_CHUNK_BYTES forces one.
  size_t chunkBytes = size_t{1} << 20;
  bool chunkBytesForced = false;  // BRAID_CHUNK_BYTES was set
  // BRAID_TUNER_FILE: the tuner's cost parameters (algo/tuner.h), or empty for the defaults.
  std::string tunerFile;
  // BRAID_NCHANNELS: independent rings (own sockets, scratch and thread each) a large ring
  // AllReduce is split over, where every pair talks TCP.
  int nchannels = 1;
  // Interface selection (NCCL syntax): "eth", "^docker,lo", "=eth0".
  std::string socketIfname;
  // Address family: 0 any, 4 or 6.
  int socketFamily = 0;
  // BRAID_CHECK=1: before each collective, ranks compare what they called (collective, count,
  // dtype, op, root) out of band; a mismatch is braidInvalidUsage on every rank instead of
  // corrupt data or a hang. Costs one out-of-band round trip through rank 0 per collective.
  bool checkCollectives = false;
  // Forced transport (a name from transports/registry.cc, lower case; "tcp" means "socket") or
  // empty for automatic (each pair uses the best transport that reaches it).
  std::string transport;
  // Forced algorithm ("ring", "tree", "direct", "rabenseifner", and with every rank on one
  // host "oneshot", "twoshot") or empty for the tuner's choice; where it cannot run a call,
  // that call uses the ring.
  std::string algo;
  // Shared memory: each rank's window for the node-local algorithms, and each FIFO.
  size_t shmWindowBytes = size_t{4} << 20;
  size_t shmFifoBytes = size_t{256} << 10;
  // Single-copy reads of peers' buffers (process_vm_readv) where the OS permits them. Off by
  // default: on the machines measured, staging through cached shared memory was faster (see
  // docs/performance.md).
  bool shmCma = false;
  // BRAID_HOST_ID: this rank's host identity (ranks with the same one share memory), or empty
  // for the machine's boot id and network namespace.
  std::string hostId;
  // BRAID_RING_FILE: the ring order (topo/ring_file.h), or empty for the planned ring.
  std::string ringFile;
  // BRAID_TOPO_FILE: hwloc XML to use instead of discovering this machine;
  // BRAID_TOPO_DUMP_FILE: where to write what was discovered ("%h" becomes the host name).
  std::string topoFile;
  std::string topoDumpFile;

  // Applies BRAID_* variables on top of the defaults; a malformed value is an error naming it.
  static Status fromEnv(Config* out);
};

// Environment helpers shared by config and launcher detection.
// Returns true and sets *value when the variable is set and non-empty.
bool getEnv(const char* name, std::string* value);
// Parses a decimal integer variable within [lo, hi]; unset leaves *value untouched.
Status getEnvInt(const char* name, int64_t lo, int64_t hi, int64_t* value);
// Parses a size with optional K/M/G suffix (powers of 1024).
Status parseSize(const std::string& text, size_t* out);

}  // namespace braid
