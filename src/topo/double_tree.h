// The two complementary binary trees of the double binary tree AllReduce (Sanders, Speck,
// Traff 2009), planned purely from (nranks, rank): every rank computes the same trees.
//
// Tree 0 labels rank r as x = r + 1 and links labels as an in-order binary tree: a label whose
// lowest set bit is b has children x - b/2 and x + b/2 (the right one moved down while it is
// past n), so odd labels are leaves and even labels interior. Tree 1 does the same with the
// labels shifted by one rank (rank r gets label (r + 1) mod n + 1). A rank is interior in tree 0
// iff r is odd and in tree 1 iff r is even (and r != n - 1): interior in at most one tree, so
// each rank forwards at most one tree's half of the data.
#pragma once

#include <vector>

namespace braid {

struct TreeLinks {
  int parent = -1;  // -1 at the root
  int children[2] = {-1, -1};
};

// Links of `rank` in tree `tree` (0 or 1) of an n-rank communicator.
TreeLinks doubleTreeLinks(int nranks, int rank, int tree);

// Every rank this rank exchanges data with in either tree (for connection set-up).
std::vector<int> doubleTreePeers(int nranks, int rank);

}  // namespace braid
