#include "topo/double_tree.h"

#include <algorithm>

namespace braid {

namespace {

int lowestBit(int x) { return x & -x; }

// Children of label x (1..n) in the in-order tree over labels 1..n.
void childrenOf(int x, int n, int out[2]) {
  out[0] = out[1] = -1;
  const int b = lowestBit(x);
  if (b == 1) return;  // odd labels are leaves
  out[0] = x - b / 2;
  for (int half = b / 2; half >= 1; half /= 2) {
    if (x + half <= n) {
      out[1] = x + half;
      break;
    }
  }
}

int rootLabel(int n) {
  int r = 1;
  while (r * 2 <= n) r *= 2;
  return r;
}

int labelOf(int rank, int n, int tree) { return tree == 0 ? rank + 1 : (rank + 1) % n + 1; }
int rankOf(int label, int n, int tree) { return tree == 0 ? label - 1 : (label - 2 + n) % n; }

}  // namespace

TreeLinks doubleTreeLinks(int nranks, int rank, int tree) {
  TreeLinks links;
  if (nranks <= 1) return links;
  const int x = labelOf(rank, nranks, tree);
  int kids[2];
  childrenOf(x, nranks, kids);
  for (int i = 0; i < 2; ++i) {
    links.children[i] = kids[i] < 0 ? -1 : rankOf(kids[i], nranks, tree);
  }
  if (x != rootLabel(nranks)) {
    // The parent is the label whose children include x: walk down from the root.
    int node = rootLabel(nranks);
    for (;;) {
      int c[2];
      childrenOf(node, nranks, c);
      if (c[0] == x || c[1] == x) break;
      node = x < node ? c[0] : c[1];
    }
    links.parent = rankOf(node, nranks, tree);
  }
  return links;
}

std::vector<int> doubleTreePeers(int nranks, int rank) {
  std::vector<int> peers;
  for (int t = 0; t < 2; ++t) {
    TreeLinks l = doubleTreeLinks(nranks, rank, t);
    for (int p : {l.parent, l.children[0], l.children[1]}) {
      if (p >= 0 && p != rank && std::find(peers.begin(), peers.end(), p) == peers.end()) {
        peers.push_back(p);
      }
    }
  }
  std::sort(peers.begin(), peers.end());
  return peers;
}

}  // namespace braid
