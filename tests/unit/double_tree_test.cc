// The double binary tree plan: for every rank count, each tree spans all ranks exactly once
// from one root, parent and child links agree, depth is logarithmic, and every rank is an
// interior node in at most one of the two trees.
#include "topo/double_tree.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace braid {
namespace {

TEST(DoubleTree, SpansAgreesAndIsComplementary) {
  for (int n = 1; n <= 130; ++n) {
    std::vector<int> interior(static_cast<size_t>(n), 0);
    for (int t = 0; t < 2; ++t) {
      int roots = 0;
      std::vector<int> parentOf(static_cast<size_t>(n), -2);
      for (int r = 0; r < n; ++r) {
        TreeLinks l = doubleTreeLinks(n, r, t);
        if (l.parent < 0) ++roots;
        parentOf[static_cast<size_t>(r)] = l.parent;
        bool hasChild = false;
        for (int c : l.children) {
          if (c < 0) continue;
          hasChild = true;
          ASSERT_LT(c, n);
          ASSERT_NE(c, r);
          // The child names us as its parent.
          EXPECT_EQ(doubleTreeLinks(n, c, t).parent, r) << "n=" << n << " tree " << t;
        }
        interior[static_cast<size_t>(r)] += hasChild;
      }
      EXPECT_EQ(roots, 1) << "n=" << n << " tree " << t;
      // Every rank reaches the root (no cycles), within ceil(log2 n) + 1 steps.
      const int maxDepth = n <= 1 ? 0 : static_cast<int>(std::ceil(std::log2(n))) + 1;
      for (int r = 0; r < n; ++r) {
        int depth = 0;
        for (int x = r; parentOf[static_cast<size_t>(x)] >= 0;
             x = parentOf[static_cast<size_t>(x)]) {
          ASSERT_LE(++depth, maxDepth) << "n=" << n << " tree " << t << " rank " << r;
        }
      }
    }
    for (int r = 0; r < n; ++r) {
      EXPECT_LE(interior[static_cast<size_t>(r)], 1) << "n=" << n << " rank " << r;
    }
  }
}

TEST(DoubleTree, PeersAreSymmetric) {
  for (int n = 2; n <= 40; ++n) {
    for (int r = 0; r < n; ++r) {
      for (int p : doubleTreePeers(n, r)) {
        auto back = doubleTreePeers(n, p);
        EXPECT_NE(std::find(back.begin(), back.end(), r), back.end()) << n << " " << r << " " << p;
      }
    }
  }
}

}  // namespace
}  // namespace braid
