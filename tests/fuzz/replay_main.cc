// Runs the fuzz target without libFuzzer (any compiler, CI): the files given on the command
// line, else a fixed number of deterministic inputs: random bytes, and valid encodings with
// random bytes flipped, truncated or extended, so every decoder sees both garbage and
// near-misses. Real coverage-guided runs: scripts/fuzz.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include "bootstrap/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<uint8_t> validSeed(std::mt19937_64& rng, int which) {
  std::vector<uint8_t> out;
  out.push_back(static_cast<uint8_t>(which));
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
    default:
      for (char ch : std::string("00112233445566778899aabbccddeeff"))
        out.push_back(static_cast<uint8_t>(ch));
      break;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) {
    for (int i = 1; i < argc; ++i) {
      std::ifstream f(argv[i], std::ios::binary);
      std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)),
                                std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(data.data(), data.size());
    }
    std::printf("replayed %d file(s)\n", argc - 1);
    return 0;
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
      data = validSeed(rng, static_cast<int>(rng() % 5));
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
