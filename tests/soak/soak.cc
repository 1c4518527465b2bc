// Soak: many collectives of random kinds, sizes, dtypes and ops (the same seeded sequence on
// every rank), every result checked element by element, while the process's resident memory
// and open file descriptors must stay flat. Run under a launcher:
//   braid-run -n 4 braid_soak [--iterations N] [--seed S] [--max-count C]
// Exits 0 when every check passed; prints one summary line per rank.
#include <braid/braid.h>
#include <dirent.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

long residentKiB() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  long pages = 0;
  long resident = 0;
  if (f != nullptr) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int openFds() {
  DIR* d = opendir("/proc/self/fd");
  int n = 0;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n - 1;
}

// Values are small integers so every reduction is exact in every dtype used here.
int64_t inputValue(int rank, size_t i, uint64_t seed) {
  return static_cast<int64_t>((static_cast<uint64_t>(rank) * 7 + i * 3 + seed) % 5) + 1;
}

int64_t elementAt(const std::vector<char>& buf, braidDataType_t type, size_t i) {
  switch (type) {
    case braidInt32:
      return reinterpret_cast<const int32_t*>(buf.data())[i];
    case braidInt64:
      return reinterpret_cast<const int64_t*>(buf.data())[i];
    case braidFloat32:
      return static_cast<int64_t>(reinterpret_cast<const float*>(buf.data())[i]);
    default:
      return static_cast<int64_t>(reinterpret_cast<const double*>(buf.data())[i]);
  }
}

// Checks that out[base + i] == rank q's input i for i < count (a gathered or broadcast chunk).
bool checkCopy(const std::vector<char>& out, braidDataType_t type, size_t base, size_t count, int q,
               uint64_t seed, std::string* why) {
  for (size_t i = 0; i < count; ++i) {
    const int64_t got = elementAt(out, type, base + i);
    if (got != inputValue(q, i, seed)) {
      *why = "element " + std::to_string(base + i) + " (rank " + std::to_string(q) + "'s " +
             std::to_string(i) + "): got " + std::to_string(got) + ", expected " +
             std::to_string(inputValue(q, i, seed));
      return false;
    }
  }
  return true;
}

template <typename T>
struct Typed {
  static void fill(std::vector<char>& buf, size_t count, int rank, uint64_t seed) {
    T* p = reinterpret_cast<T*>(buf.data());
    for (size_t i = 0; i < count; ++i) p[i] = static_cast<T>(inputValue(rank, i, seed));
  }
  static bool check(const std::vector<char>& buf, size_t count, size_t offset, int nranks,
                    braidRedOp_t op, uint64_t seed, std::string* why) {
    const T* p = reinterpret_cast<const T*>(buf.data());
    for (size_t i = 0; i < count; ++i) {
      int64_t acc = inputValue(0, i + offset, seed);
      for (int r = 1; r < nranks; ++r) {
        const int64_t v = inputValue(r, i + offset, seed);
        acc = op == braidMax ? std::max(acc, v) : op == braidMin ? std::min(acc, v) : acc + v;
      }
      if (op == braidAvg) acc /= nranks;
      if (static_cast<int64_t>(p[i]) != acc) {
        *why = "element " + std::to_string(i) + ": got " +
               std::to_string(static_cast<int64_t>(p[i])) + ", expected " + std::to_string(acc);
        return false;
      }
    }
    return true;
  }
};

}  // namespace

int main(int argc, char** argv) {
  long iterations = 2000;
  uint64_t seed = 1;
  size_t maxCount = 20000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--iterations") == 0) iterations = std::atol(argv[i + 1]);
    if (std::strcmp(argv[i], "--seed") == 0) seed = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--max-count") == 0)
      maxCount = std::strtoull(argv[i + 1], nullptr, 10);
  }
  const char* breakEnv = std::getenv("BRAID_SOAK_BREAK_RANK");
  const int breakRankEnv = breakEnv != nullptr ? std::atoi(breakEnv) : -1;
  braidComm_t comm;
  if (braidCommInitFromEnv(&comm) != braidSuccess) {
    std::fprintf(stderr, "init: %s\n", braidGetLastError(nullptr));
    return 1;
  }
  int rank = 0;
  int nranks = 0;
  braidCommUserRank(comm, &rank);
  braidCommCount(comm, &nranks);
  std::mt19937_64 rng(seed);
  const braidDataType_t types[] = {braidInt32, braidInt64, braidFloat32, braidFloat64};
  const braidRedOp_t ops[] = {braidSum, braidMax, braidMin};
  std::vector<char> in;
  std::vector<char> out;
  long rssStart = 0;
  int fdsStart = 0;
  const long warmup = std::min<long>(200, iterations / 10);
  for (long it = 0; it < iterations; ++it) {
    if (it == warmup) {
      rssStart = residentKiB();
      fdsStart = openFds();
    }
    const int coll = static_cast<int>(rng() % 5);
    const braidDataType_t type = types[rng() % 4];
    const braidRedOp_t op = ops[rng() % 3];
    const int root = static_cast<int>(rng() % static_cast<uint64_t>(nranks));
    const size_t count = rng() % (maxCount + 1);
    const uint64_t dataSeed = rng();
    const size_t es = type == braidInt32 || type == braidFloat32 ? 4 : 8;
    const size_t total = count * static_cast<size_t>(nranks);
    in.assign(std::max<size_t>(1, total * es), 0);
    out.assign(std::max<size_t>(1, total * es), 0);
    auto fill = [&](size_t n) {
      // BRAID_SOAK_BREAK_RANK=r corrupts rank r's input (proves the checks can fail).
      const int breakRank = breakRankEnv;
      switch (type) {
        case braidInt32:
          Typed<int32_t>::fill(in, n, rank, dataSeed);
          break;
        case braidInt64:
          Typed<int64_t>::fill(in, n, rank, dataSeed);
          break;
        case braidFloat32:
          Typed<float>::fill(in, n, rank, dataSeed);
          break;
        default:
          Typed<double>::fill(in, n, rank, dataSeed);
          break;
      }
      if (rank == breakRank && n > 0) std::memset(in.data(), 0x7f, es);
    };
    auto check = [&](size_t n, size_t offset, int contributors, braidRedOp_t o, std::string* why) {
      switch (type) {
        case braidInt32:
          return Typed<int32_t>::check(out, n, offset, contributors, o, dataSeed, why);
        case braidInt64:
          return Typed<int64_t>::check(out, n, offset, contributors, o, dataSeed, why);
        case braidFloat32:
          return Typed<float>::check(out, n, offset, contributors, o, dataSeed, why);
        default:
          return Typed<double>::check(out, n, offset, contributors, o, dataSeed, why);
      }
    };
    braidResult_t r = braidSuccess;
    bool ok = true;
    std::string why;
    const char* name = "";
    switch (coll) {
      case 0:
        name = "AllReduce";
        fill(count);
        r = braidAllReduce(in.data(), out.data(), count, type, op, comm, nullptr);
        if (r == braidSuccess) ok = check(count, 0, nranks, op, &why);
        break;
      case 1:
        name = "ReduceScatter";
        fill(total);
        r = braidReduceScatter(in.data(), out.data(), count, type, op, comm, nullptr);
        if (r == braidSuccess)
          ok = check(count, static_cast<size_t>(rank) * count, nranks, op, &why);
        break;
      case 2:
        name = "AllGather";
        fill(count);
        r = braidAllGather(in.data(), out.data(), count, type, comm, nullptr);
        for (int q = 0; r == braidSuccess && ok && q < nranks; ++q) {
          ok = checkCopy(out, type, static_cast<size_t>(q) * count, count, q, dataSeed, &why);
        }
        break;
      case 3:
        name = "Broadcast";
        fill(count);
        r = braidBroadcast(in.data(), out.data(), count, type, root, comm, nullptr);
        if (r == braidSuccess) ok = checkCopy(out, type, 0, count, root, dataSeed, &why);
        break;
      default:
        name = "Reduce";
        fill(count);
        r = braidReduce(in.data(), out.data(), count, type, op, root, comm, nullptr);
        if (r == braidSuccess && rank == root) ok = check(count, 0, nranks, op, &why);
        break;
    }
    if (r != braidSuccess || !ok) {
      std::fprintf(stderr, "rank %d: iteration %ld: %s(count %zu): %s\n", rank, it, name, count,
                   r != braidSuccess ? braidGetLastError(comm) : why.c_str());
      return 1;
    }
  }
  const long rssEnd = residentKiB();
  const int fdsEnd = openFds();
  braidCommDestroy(comm);
  const bool flat = fdsEnd == fdsStart && rssEnd <= rssStart + rssStart / 10 + 8192;
  std::printf("rank %d: %ld collectives checked; RSS %ld -> %ld KiB, fds %d -> %d: %s\n", rank,
              iterations, rssStart, rssEnd, fdsStart, fdsEnd, flat ? "flat" : "GREW");
  return flat ? 0 : 1;
}
