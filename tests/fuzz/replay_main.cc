// Runs the fuzz target without libFuzzer (any compiler, CI):
//   braid_fuzz_wire_replay [--target NAME] FILE...   the given inputs; a file that cannot be
//       read is an error, and with --target so is one whose first byte picks another parser
//       (so a regression directory cannot silently test the wrong parser)
//   braid_fuzz_wire_replay                           a fixed number of deterministic inputs:
//       random bytes, and valid inputs of every parser with random bytes flipped, truncated or
//       extended, so every parser sees both garbage and near-misses.
// Real coverage-guided runs: scripts/fuzz.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "bootstrap/wire.h"
#include "wire_fuzz.h"

namespace {

std::vector<uint8_t> validSeed(std::mt19937_64& rng, int which) {
  std::vector<uint8_t> out;
  out.push_back(static_cast<uint8_t>(which));
  auto append = [&out](const std::string& text) {
    out.insert(out.end(), text.begin(), text.end());
  };
  braid::SocketAddress addr;
  (void)braid::SocketAddress::parse(which % 2 ? "[::1]:29500" : "127.0.0.1:29500", 0, &addr);
  switch (which) {
    case 0: {
      braid::Hello h;
      h.nranks = 4;
      h.rank = 2;
      h.info.listen = addr;
      h.info.hostname = "node";
      uint8_t buf[braid::kHelloBytes];
      braid::encodeHello(h, buf);
      out.insert(out.end(), buf, buf + sizeof(buf));
      break;
    }
    case 1: {
      out.push_back(static_cast<uint8_t>(rng() % 64));
      for (int i = 0; i < 3; ++i) {
        uint8_t hdr[braid::kFrameHeaderBytes];
        const uint32_t len = static_cast<uint32_t>(rng() % 40);
        braid::encodeFrameHeader(static_cast<braid::FrameType>(1 + rng() % 6), len, hdr);
        out.insert(out.end(), hdr, hdr + sizeof(hdr));
        for (uint32_t j = 0; j < len; ++j) out.push_back(static_cast<uint8_t>(rng()));
      }
      break;
    }
    case 2: {
      std::vector<braid::RankInfo> table(2);
      for (int r = 0; r < 2; ++r) {
        table[r].rank = r;
        table[r].listen = addr;
      }
      out.push_back(1);  // nranks 2
      auto bytes = braid::encodeTable(table);
      out.insert(out.end(), bytes.begin(), bytes.end());
      break;
    }
    case 3: {
      braid::UniqueIdContents c;
      c.root = addr;
      braidUniqueId id;
      braid::encodeUniqueId(c, &id);
      out.insert(out.end(), id.internal, id.internal + sizeof(id.internal));
      break;
    }
    case 4:
      append("00112233445566778899aabbccddeeff");
      break;
    case 5: {
      const char* texts[] = {"127.0.0.1:29500", "[::1]:29500", "[fe80::1]:80", "10.0.0.1:0",
                             "[::ffff:1.2.3.4]:65535"};
      out.push_back(static_cast<uint8_t>(rng()));  // the family
      append(texts[rng() % 5]);
      break;
    }
    case 6:
      append("# rings\nring 0 2 3 1\nring 0 1  # two\n\nring 2 0 1\n");
      break;
    case 7:
      append("# costs\nsocket 30 1.2 4 2\nshm 1.5 9.5\ncpu_share 0.25\nloopback 5 3 2\n");
      break;
    default: {
      uint8_t rank[4];
      braid::putU32(rank, static_cast<uint32_t>(rng() % 16));
      out.insert(out.end(), rank, rank + 4);
      append("rank 3 (node pid 42) failed: connection reset");
      break;
    }
  }
  return out;
}

// Reads a whole file; false (after saying why) when it cannot.
bool readInput(const char* path, std::vector<uint8_t>* data) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "braid_fuzz_wire_replay: cannot open '%s'\n", path);
    return false;
  }
  data->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  if (f.bad()) {
    std::fprintf(stderr, "braid_fuzz_wire_replay: cannot read '%s'\n", path);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int first = 1;
  const char* target = nullptr;
  if (argc > 2 && std::strcmp(argv[1], "--target") == 0) {
    target = argv[2];
    first = 3;
  }
  if (argc > first) {
    for (int i = first; i < argc; ++i) {
      std::vector<uint8_t> data;
      if (!readInput(argv[i], &data)) return 1;
      if (target != nullptr &&
          (data.empty() || std::strcmp(braidFuzzTargetName(data[0]), target) != 0)) {
        std::fprintf(stderr, "braid_fuzz_wire_replay: '%s' picks parser '%s', not '%s'\n", argv[i],
                     data.empty() ? "(none: empty file)" : braidFuzzTargetName(data[0]), target);
        return 1;
      }
      LLVMFuzzerTestOneInput(data.data(), data.size());
    }
    std::printf("replayed %d file(s)\n", argc - first);
    return 0;
  }
  if (target != nullptr) {
    std::fprintf(stderr, "braid_fuzz_wire_replay: --target %s without files\n", target);
    return 1;
  }
  const long iterations = std::getenv("BRAID_FUZZ_ITERATIONS")
                              ? std::atol(std::getenv("BRAID_FUZZ_ITERATIONS"))
                              : 2000000;
  std::mt19937_64 rng(20261126);
  for (long it = 0; it < iterations; ++it) {
    std::vector<uint8_t> data;
    if (it % 2 == 0) {
      data.resize(rng() % 400);
      for (auto& b : data) b = static_cast<uint8_t>(rng());
    } else {
      data = validSeed(rng, static_cast<int>(rng() % kBraidFuzzTargets));
      const int edits = static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && data.size() > 1; ++e) {
        switch (rng() % 3) {
          case 0:
            data[1 + rng() % (data.size() - 1)] ^= static_cast<uint8_t>(1u << (rng() % 8));
            break;
          case 1:
            data.resize(1 + rng() % data.size());
            break;
          default:
            data.push_back(static_cast<uint8_t>(rng()));
            break;
        }
      }
    }
    LLVMFuzzerTestOneInput(data.data(), data.size());
  }
  std::printf("%ld inputs, no crash\n", iterations);
  return 0;
}
