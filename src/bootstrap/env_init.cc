#include "bootstrap/env_init.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>

#include "bootstrap/pmix_exchange.h"
#include "core/config.h"

// Launch detection reads the environment itself, by design: the launcher's variables (RANK,
// WORLD_SIZE, OMPI_COMM_WORLD_*, PMI_*, SLURM_*, MASTER_ADDR/PORT) and Braid's own
// BRAID_ROOT_ADDR / BRAID_SECRET say how the job was started and are read before any
// communicator (and so any Config) exists. The communicator's knobs go through Config.
namespace braid {

namespace {

struct Source {
  const char* launcher;
  const char* rank;
  const char* size;
  const char* localRank;
};

constexpr Source kSources[] = {
    {"braid-run", "BRAID_RANK", "BRAID_NRANKS", "BRAID_LOCAL_RANK"},
    {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK"},
    {"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
    {"srun", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"},
    {"pmi", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"},
};

uint64_t fnv1a(const std::string& s, uint64_t seed) {
  uint64_t h = seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

Status randomSecret(Secret* out) {
  size_t got = 0;
  while (got < out->size()) {
    ssize_t n = getrandom(out->data() + got, out->size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return systemError(errnoMessage("getrandom", errno));
    }
    got += static_cast<size_t>(n);
  }
  return Status::ok();
}

Status detectLaunch(LaunchInfo* out) {
  LaunchInfo info;
  for (const Source& src : kSources) {
    std::string rankText;
    std::string sizeText;
    bool hasRank = getEnv(src.rank, &rankText);
    bool hasSize = getEnv(src.size, &sizeText);
    if (!hasRank && !hasSize) continue;
    if (hasRank != hasSize) {
      return invalidArgument(std::string("braidCommInitFromEnv: ") +
                             (hasRank ? src.rank : src.size) + " is set but " +
                             (hasRank ? src.size : src.rank) + " is not");
    }
    int64_t rank = -1;
    int64_t size = 0;
    int64_t local = -1;
    BRAID_RETURN_IF_ERROR(getEnvInt(src.size, 1, 1 << 24, &size));
    BRAID_RETURN_IF_ERROR(getEnvInt(src.rank, 0, size - 1, &rank));
    BRAID_RETURN_IF_ERROR(getEnvInt(src.localRank, 0, 1 << 24, &local));
    info.rank = static_cast<int>(rank);
    info.nranks = static_cast<int>(size);
    info.localRank = static_cast<int>(local);
    info.launcher = src.launcher;
    break;
  }
  if (info.launcher.empty()) {
    return invalidArgument(
        "braidCommInitFromEnv: no launcher environment found: set BRAID_RANK and BRAID_NRANKS (or "
        "run under braid-run, torchrun, mpirun or srun) and BRAID_ROOT_ADDR=host:port");
  }
  std::string text;
  if (getEnv("BRAID_ROOT_ADDR", &text)) {
    Status s = SocketAddress::parse(text, 0, &info.root);
    if (!s) return s.withContext("braidCommInitFromEnv: BRAID_ROOT_ADDR: ");
    info.rootText = text;
  } else {
    std::string host;
    std::string port;
    if (getEnv("MASTER_ADDR", &host) && getEnv("MASTER_PORT", &port)) {
      int64_t p = 0;
      BRAID_RETURN_IF_ERROR(getEnvInt("MASTER_PORT", 1, 65534, &p));
      Status s = SocketAddress::resolve(host, static_cast<int>(p + 1), 0, &info.root);
      if (!s) return s.withContext("braidCommInitFromEnv: MASTER_ADDR: ");
      info.rootText = host + ":" + std::to_string(p + 1);
    } else {
      // mpirun and srun (with --mpi=pmix) serve PMIx: rank 0 publishes its address there.
      std::string why;  // why PMIx could not help, when it was tried
      if (info.launcher == "mpirun" || info.launcher == "srun" || info.launcher == "pmi") {
        Config config;
        BRAID_RETURN_IF_ERROR(Config::fromEnv(&config).withContext("braidCommInitFromEnv: "));
        bool available = false;
        BRAID_RETURN_IF_ERROR(pmixExchangeRoot(info.rank, info.nranks, config.socketIfname,
                                               config.socketFamily, config.timeoutMs, &info.root,
                                               &info.secret, &available, &why));
        if (available) {
          info.launcher += "+pmix";
          info.rootText = info.root.toString();
          info.authenticated = true;  // rank 0's random secret, passed through PMIx
          *out = info;
          return Status::ok();
        }
      }
      return invalidArgument(
          "braidCommInitFromEnv: no rendezvous address (launcher " + info.launcher +
          "): set BRAID_ROOT_ADDR=host:port (an address of rank 0's host), or MASTER_ADDR and "
          "MASTER_PORT as torchrun does (Braid uses MASTER_PORT + 1)" +
          (why.empty() ? std::string() : "; no PMIx rendezvous either: " + why));
    }
  }
  if (getEnv("BRAID_SECRET", &text)) {
    BRAID_RETURN_IF_ERROR(parseSecret(text, &info.secret));
    info.authenticated = true;
  } else {
    // Not a secret, but distinct per job and address, so two jobs never join each other.
    std::string seed = info.rootText + "|" + std::to_string(info.nranks);
    for (const char* var : {"TORCHELASTIC_RUN_ID", "SLURM_JOB_ID", "SLURM_STEP_ID",
                            "OMPI_MCA_ess_base_jobid", "PMIX_NAMESPACE"}) {
      std::string v;
      if (getEnv(var, &v)) seed += "|" + v;
    }
    uint64_t a = fnv1a(seed, 0xcbf29ce484222325ULL);
    uint64_t b = fnv1a(seed, 0x84222325cbf29ce4ULL);
    std::memcpy(info.secret.data(), &a, 8);
    std::memcpy(info.secret.data() + 8, &b, 8);
  }
  *out = info;
  return Status::ok();
}

}  // namespace braid
