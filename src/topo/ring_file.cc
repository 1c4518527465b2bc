#include "topo/ring_file.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace braid::topo {

Status parseRingFile(const std::string& text, const std::string& name, RingFile* out) {
  RingFile file;
  std::istringstream in(text);
  std::string line;
  int lineNo = 0;
  auto bad = [&](const std::string& what) {
    return invalidArgument(name + ":" + std::to_string(lineNo) + ": " + what);
  };
  while (std::getline(in, line)) {
    ++lineNo;
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string keyword;
    if (!(words >> keyword)) continue;
    if (keyword != "ring")
      return bad("unknown keyword '" + keyword + "' (expected 'ring' followed by ranks)");
    std::vector<int> ring;
    std::string word;
    while (words >> word) {
      errno = 0;
      char* end = nullptr;
      const long v = std::strtol(word.c_str(), &end, 10);
      if (end == word.c_str() || *end != '\0' || errno != 0 || v < 0 || v > 1000000)
        return bad("'" + word + "' is not a rank (a non-negative integer)");
      ring.push_back(static_cast<int>(v));
    }
    if (ring.empty()) return bad("'ring' without ranks");
    const int n = static_cast<int>(ring.size());
    std::vector<int> seen(static_cast<size_t>(n), 0);
    for (int r : ring) {
      if (r >= n)
        return bad("rank " + std::to_string(r) + " is out of range for a ring of " +
                   std::to_string(n) + " ranks (a ring lists every rank 0.." +
                   std::to_string(n - 1) + " once)");
      if (seen[static_cast<size_t>(r)]++ != 0)
        return bad("rank " + std::to_string(r) + " appears twice");
    }
    file.rings.push_back(std::move(ring));
    file.lines.push_back(lineNo);
  }
  if (file.rings.empty()) return invalidArgument(name + ": no 'ring' line");
  *out = std::move(file);
  return Status::ok();
}

Status readRingFile(const std::string& path, RingFile* out) {
  std::ifstream f(path);
  if (!f) return invalidArgument(path + ": cannot open the ring file (BRAID_RING_FILE)");
  std::ostringstream text;
  text << f.rdbuf();
  if (f.bad()) return systemError(path + ": cannot read the ring file");
  return parseRingFile(text.str(), path, out);
}

Status ringForSize(const RingFile& file, const std::string& name, int nranks,
                   std::vector<int>* ring) {
  std::string sizes;
  for (size_t i = 0; i < file.rings.size(); ++i) {
    if (static_cast<int>(file.rings[i].size()) == nranks) {
      *ring = file.rings[i];
      return Status::ok();
    }
    sizes += (sizes.empty() ? "" : ", ") + std::to_string(file.rings[i].size()) + " (line " +
             std::to_string(file.lines[i]) + ")";
  }
  return invalidArgument(name + ": no ring of " + std::to_string(nranks) +
                         " ranks (its rings have " + sizes + " ranks)");
}

std::string formatRingFile(const std::vector<std::vector<int>>& rings, const std::string& comment) {
  std::string out = "# Braid ring file (BRAID_RING_FILE); format: docs/topology.md\n";
  std::istringstream c(comment);
  std::string line;
  while (std::getline(c, line)) out += "# " + line + "\n";
  for (const auto& ring : rings) {
    out += "ring";
    for (int r : ring) out += " " + std::to_string(r);
    out += "\n";
  }
  return out;
}

}  // namespace braid::topo
