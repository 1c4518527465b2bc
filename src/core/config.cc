#include "core/config.h"

#include <strings.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace braid {

bool getEnv(const char* name, std::string* value) {
  // Read at communicator init only; getenv races only with a concurrent setenv.
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
  if (v == nullptr || *v == '\0') return false;
  *value = v;
  return true;
}

Status getEnvInt(const char* name, int64_t lo, int64_t hi, int64_t* value) {
  std::string text;
  if (!getEnv(name, &text)) return Status::ok();
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || *end != '\0' || v < lo || v > hi) {
    return invalidArgument(std::string(name) + "=" + text + " is not an integer in [" +
                           std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  *value = v;
  return Status::ok();
}

Status parseSize(const std::string& text, size_t* out) {
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || text[0] == '-') {
    return invalidArgument("'" + text + "' is not a size");
  }
  unsigned long long mult = 1;
  if (*end != '\0') {
    switch (*end) {
      case 'k':
      case 'K':
        mult = 1ULL << 10;
        break;
      case 'm':
      case 'M':
        mult = 1ULL << 20;
        break;
      case 'g':
      case 'G':
        mult = 1ULL << 30;
        break;
      default:
        return invalidArgument("'" + text + "' is not a size (suffix K, M or G)");
    }
    ++end;
    if (*end == 'B' || *end == 'b') ++end;
    if (*end == 'i') ++end;  // tolerate KiB
    if (*end == 'B') ++end;
    if (*end != '\0') return invalidArgument("'" + text + "' is not a size");
  }
  *out = static_cast<size_t>(v * mult);
  return Status::ok();
}

Status Config::fromEnv(Config* out) {
  Config c;
  int64_t v = c.timeoutMs;
  BRAID_RETURN_IF_ERROR(getEnvInt("BRAID_TIMEOUT_MS", 1, int64_t{1} << 40, &v));
  c.timeoutMs = v;
  v = c.socketNsocks;
  BRAID_RETURN_IF_ERROR(getEnvInt("BRAID_SOCKET_NSOCKS", 1, 16, &v));
  c.socketNsocks = static_cast<int>(v);
  std::string text;
  if (getEnv("BRAID_SOCKET_BUFFER_BYTES", &text)) {
    Status s = parseSize(text, &c.socketBufferBytes);
    if (!s) return s.withContext("BRAID_SOCKET_BUFFER_BYTES: ");
  }
  if (getEnv("BRAID_SOCKET_SEGMENT_BYTES", &text)) {
    Status s = parseSize(text, &c.socketSegmentBytes);
    if (!s) return s.withContext("BRAID_SOCKET_SEGMENT_BYTES: ");
    if (c.socketSegmentBytes < 4096 || c.socketSegmentBytes > (size_t{1} << 30)) {
      return invalidArgument("BRAID_SOCKET_SEGMENT_BYTES=" + text + " must be between 4K and 1G");
    }
  }
  if (getEnv("BRAID_CHUNK_BYTES", &text)) {
    Status s = parseSize(text, &c.chunkBytes);
    if (!s) return s.withContext("BRAID_CHUNK_BYTES: ");
    if (c.chunkBytes < 4096 || c.chunkBytes > (size_t{1} << 30)) {
      return invalidArgument("BRAID_CHUNK_BYTES=" + text + " must be between 4K and 1G");
    }
    c.chunkBytesForced = true;
  }
  getEnv("BRAID_TUNER_FILE", &c.tunerFile);
  {
    int64_t ch = 1;
    BRAID_RETURN_IF_ERROR(getEnvInt("BRAID_NCHANNELS", 1, 16, &ch));
    c.nchannels = static_cast<int>(ch);
  }
  getEnv("BRAID_SOCKET_IFNAME", &c.socketIfname);
  v = 0;
  BRAID_RETURN_IF_ERROR(getEnvInt("BRAID_CHECK", 0, 1, &v));
  c.checkCollectives = v == 1;
  v = 0;
  BRAID_RETURN_IF_ERROR(getEnvInt("BRAID_SOCKET_FAMILY", 0, 6, &v));
  if (v != 0 && v != 4 && v != 6) return invalidArgument("BRAID_SOCKET_FAMILY must be 4 or 6");
  c.socketFamily = static_cast<int>(v);
  if (getEnv("BRAID_TRANSPORT", &c.transport)) {
    // Whether a transport of that name exists is the registry's to say
    // (transports/registry.h); the communicator checks it before the rendezvous.
    for (char& ch : c.transport)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (c.transport == "tcp") c.transport = "socket";
  }
  for (auto [name, field] :
       {std::pair<const char*, size_t*>{"BRAID_SHM_WINDOW_BYTES", &c.shmWindowBytes},
        {"BRAID_SHM_FIFO_BYTES", &c.shmFifoBytes}}) {
    if (!getEnv(name, &text)) continue;
    Status s = parseSize(text, field);
    if (!s) return s.withContext(std::string(name) + ": ");
    if (*field < 64 * 1024 || *field > (size_t{1} << 30) || *field % 4096 != 0) {
      return invalidArgument(std::string(name) + "=" + text +
                             " must be a multiple of 4K between 64K and 1G");
    }
  }
  v = 0;
  BRAID_RETURN_IF_ERROR(getEnvInt("BRAID_SHM_CMA", 0, 1, &v));
  c.shmCma = v == 1;
  if (getEnv("BRAID_ALGO", &c.algo)) {
    if (strcasecmp(c.algo.c_str(), "ring") == 0) {
      c.algo = "ring";
    } else if (strcasecmp(c.algo.c_str(), "direct") == 0) {
      c.algo = "direct";
    } else if (strcasecmp(c.algo.c_str(), "tree") == 0) {
      c.algo = "tree";
    } else if (strcasecmp(c.algo.c_str(), "rabenseifner") == 0) {
      c.algo = "rabenseifner";
    } else if (strcasecmp(c.algo.c_str(), "oneshot") == 0) {
      c.algo = "oneshot";
    } else if (strcasecmp(c.algo.c_str(), "twoshot") == 0) {
      c.algo = "twoshot";
    } else {
      return invalidArgument("BRAID_ALGO=" + c.algo +
                             " is not available (this build has: ring, tree, direct, "
                             "rabenseifner, oneshot, twoshot)");
    }
  }
  getEnv("BRAID_HOST_ID", &c.hostId);
  getEnv("BRAID_RING_FILE", &c.ringFile);
  getEnv("BRAID_TOPO_FILE", &c.topoFile);
  getEnv("BRAID_TOPO_DUMP_FILE", &c.topoDumpFile);
  *out = c;
  return Status::ok();
}

}  // namespace braid
