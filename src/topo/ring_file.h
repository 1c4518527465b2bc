// Ring files (BRAID_RING_FILE, and what braid-tune writes): explicit ring orders.
//
//   # comment, blank lines ignored
//   ring 0 2 3 1        # one ring: every rank 0..n-1 exactly once, in ring order
//   ring 0 1 3 2        # more lines: more rings (channels), or rings for other sizes
//
// A communicator of n ranks uses the first ring of n ranks. Errors name the file and line.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace braid::topo {

struct RingFile {
  std::vector<std::vector<int>> rings;
  std::vector<int> lines;  // line of each ring, for messages
};

// Parses text; `name` is what messages call it ("FILE:LINE: ...").
Status parseRingFile(const std::string& text, const std::string& name, RingFile* out);
// Reads and parses a file.
Status readRingFile(const std::string& path, RingFile* out);
// The first ring of n ranks, or an error naming the file when there is none.
Status ringForSize(const RingFile& file, const std::string& name, int nranks,
                   std::vector<int>* ring);
// The text of a ring file holding these rings, with a comment header.
std::string formatRingFile(const std::vector<std::vector<int>>& rings, const std::string& comment);

}  // namespace braid::topo
