#include "topo/plan.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "topo/double_tree.h"

namespace braid::topo {

namespace {

struct Score {
  double bottleneck = -1;
  double sum = 0;
  bool better(const Score& o) const {
    if (bottleneck != o.bottleneck) return bottleneck > o.bottleneck;
    return sum > o.sum;
  }
};

Score score(const BwMatrix& bw, const std::vector<int>& ring) {
  Score s;
  s.bottleneck = std::numeric_limits<double>::infinity();
  const size_t n = ring.size();
  for (size_t i = 0; i < n; ++i) {
    const double b = bw[static_cast<size_t>(ring[i])][static_cast<size_t>(ring[(i + 1) % n])];
    s.bottleneck = std::min(s.bottleneck, b);
    s.sum += b;
  }
  return s;
}

// Greedy: from node 0, always to the unvisited node with the widest link (lowest index on ties).
std::vector<int> greedyRing(const BwMatrix& bw) {
  const size_t n = bw.size();
  std::vector<int> ring{0};
  std::vector<bool> used(n, false);
  used[0] = true;
  for (size_t k = 1; k < n; ++k) {
    const size_t cur = static_cast<size_t>(ring.back());
    size_t best = n;
    for (size_t j = 0; j < n; ++j) {
      if (!used[j] && (best == n || bw[cur][j] > bw[cur][best])) best = j;
    }
    used[best] = true;
    ring.push_back(static_cast<int>(best));
  }
  return ring;
}

// 2-opt (segment reversal) and single-node moves until nothing improves or the budget is spent.
void improve(const BwMatrix& bw, std::vector<int>* ring) {
  const size_t n = ring->size();
  Score cur = score(bw, *ring);
  long budget = 30'000'000 / static_cast<long>(n);  // score() costs n
  bool improved = true;
  while (improved && budget > 0) {
    improved = false;
    for (size_t i = 1; i + 1 < n && budget > 0; ++i) {
      for (size_t j = i + 1; j < n && budget > 0; ++j, --budget) {
        std::reverse(ring->begin() + static_cast<long>(i),
                     ring->begin() + static_cast<long>(j) + 1);
        Score s = score(bw, *ring);
        if (s.better(cur)) {
          cur = s;
          improved = true;
        } else {
          std::reverse(ring->begin() + static_cast<long>(i),
                       ring->begin() + static_cast<long>(j) + 1);
        }
      }
    }
    for (size_t i = 1; i < n && budget > 0; ++i) {
      for (size_t j = 1; j < n && budget > 0; ++j, --budget) {
        if (i == j) continue;
        const int v = (*ring)[i];
        ring->erase(ring->begin() + static_cast<long>(i));
        ring->insert(ring->begin() + static_cast<long>(j), v);
        Score s = score(bw, *ring);
        if (s.better(cur)) {
          cur = s;
          improved = true;
        } else {
          ring->erase(ring->begin() + static_cast<long>(j));
          ring->insert(ring->begin() + static_cast<long>(i), v);
        }
      }
    }
  }
}

}  // namespace

double ringBottleneck(const BwMatrix& bw, const std::vector<int>& ring) {
  if (ring.size() < 2) return std::numeric_limits<double>::infinity();
  return score(bw, ring).bottleneck;
}

std::vector<int> bestRing(const BwMatrix& bw) {
  const int n = static_cast<int>(bw.size());
  std::vector<int> ring(static_cast<size_t>(n));
  std::iota(ring.begin(), ring.end(), 0);
  if (n <= 2) return ring;
  if (n <= kExactMaxNodes) {
    std::vector<int> best = ring;
    Score bestScore = score(bw, ring);
    while (std::next_permutation(ring.begin() + 1, ring.end())) {
      Score s = score(bw, ring);
      if (s.better(bestScore)) {
        bestScore = s;
        best = ring;
      }
    }
    return best;
  }
  ring = greedyRing(bw);
  improve(bw, &ring);
  return ring;
}

std::vector<int> bestPath(const BwMatrix& bw, const std::vector<double>& endBw) {
  const size_t n = bw.size();
  if (n <= 1) {
    std::vector<int> one;
    if (n == 1) one.push_back(0);
    return one;
  }
  // A cycle through a virtual node v (the endpoint) is a path whose ends attach to it.
  BwMatrix ext(n + 1, std::vector<double>(n + 1, 0));
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) ext[i][j] = bw[i][j];
    // A hair above their value, so that among equally good paths the one with the NIC's
    // nearest devices at its ends wins.
    ext[i][n] = endBw[i] * 1.001;
    ext[n][i] = endBw[i] * 1.001;
  }
  std::vector<int> cyc = bestRing(ext);
  const auto v = std::find(cyc.begin(), cyc.end(), static_cast<int>(n));
  std::vector<int> path(v + 1, cyc.end());
  path.insert(path.end(), cyc.begin(), v);
  return path;
}

Plan planCluster(const ClusterInput& in) {
  Plan plan;
  const size_t nhosts = in.hosts.size();
  const int nranks = static_cast<int>(in.ranks.size());
  plan.hostRanks.assign(nhosts, {});
  for (int r = 0; r < nranks; ++r)
    plan.hostRanks[static_cast<size_t>(in.ranks[static_cast<size_t>(r)].host)].push_back(r);
  // Hosts in order of their lowest rank (hosts without ranks drop out).
  std::vector<size_t> hostOrder;
  for (size_t h = 0; h < nhosts; ++h) {
    if (!plan.hostRanks[h].empty()) hostOrder.push_back(h);
  }
  std::stable_sort(hostOrder.begin(), hostOrder.end(), [&](size_t a, size_t b) {
    return plan.hostRanks[a].front() < plan.hostRanks[b].front();
  });
  const bool multiHost = hostOrder.size() > 1;

  // NICs per host, best first: RDMA, then faster, then by index.
  std::vector<std::vector<int>> nics(nhosts);
  size_t maxNics = 0;
  for (size_t h = 0; h < nhosts; ++h) {
    const System& sys = in.hosts[h];
    nics[h] = sys.nics();
    std::stable_sort(nics[h].begin(), nics[h].end(), [&](int a, int b) {
      const Node& x = sys.nodes[static_cast<size_t>(a)];
      const Node& y = sys.nodes[static_cast<size_t>(b)];
      if (x.rdma != y.rdma) return x.rdma;
      return x.nicGBps > y.nicGBps;
    });
    // Channels use distinct NICs of the best kind only (an RDMA host's 1 GbE port is no channel).
    size_t good = 0;
    while (good < nics[h].size() && sys.nodes[static_cast<size_t>(nics[h][good])].rdma ==
                                        sys.nodes[static_cast<size_t>(nics[h][0])].rdma)
      ++good;
    if (!plan.hostRanks[h].empty()) maxNics = std::max(maxNics, good);
  }
  const int nchannels =
      multiHost ? std::max(1, std::min(in.maxChannels, static_cast<int>(maxNics))) : 1;

  for (int c = 0; c < nchannels; ++c) {
    Channel ch;
    ch.nic.assign(nhosts, -1);
    double bottleneck = std::numeric_limits<double>::infinity();
    std::vector<double> nicSpeed;
    for (size_t h : hostOrder) {
      const System& sys = in.hosts[h];
      const std::vector<int>& ranks = plan.hostRanks[h];
      const size_t k = ranks.size();
      auto nodeOf = [&](size_t i) {
        const int node = in.ranks[static_cast<size_t>(ranks[i])].node;
        return node >= 0 ? node : 0;
      };
      BwMatrix bw(k, std::vector<double>(k, 0));
      for (size_t i = 0; i < k; ++i) {
        for (size_t j = 0; j < k; ++j) {
          if (i != j) bw[i][j] = path(sys, nodeOf(i), nodeOf(j)).gbps;
        }
      }
      std::vector<int> order;
      if (multiHost) {
        std::vector<double> endBw(k, kHostMemoryGBps);
        double speed = kEthernetNicGBps;
        if (!nics[h].empty()) {
          const int nic = nics[h][static_cast<size_t>(c) % nics[h].size()];
          ch.nic[h] = nic;
          speed = sys.nodes[static_cast<size_t>(nic)].nicGBps;
          for (size_t i = 0; i < k; ++i) endBw[i] = path(sys, nodeOf(i), nic).gbps;
        }
        nicSpeed.push_back(speed);
        order = bestPath(bw, endBw);
        if (!order.empty()) {
          bottleneck = std::min({bottleneck, endBw[static_cast<size_t>(order.front())],
                                 endBw[static_cast<size_t>(order.back())]});
        }
        for (size_t i = 0; i + 1 < order.size(); ++i)
          bottleneck = std::min(
              bottleneck, bw[static_cast<size_t>(order[i])][static_cast<size_t>(order[i + 1])]);
      } else {
        order = bestRing(bw);
        if (k > 1) bottleneck = std::min(bottleneck, ringBottleneck(bw, order));
      }
      std::vector<int> hostRing;
      for (int i : order) hostRing.push_back(ranks[static_cast<size_t>(i)]);
      if (c == 0) plan.hostRanks[h] = hostRing;
      ch.ring.insert(ch.ring.end(), hostRing.begin(), hostRing.end());
    }
    for (size_t i = 0; i < nicSpeed.size(); ++i)
      bottleneck = std::min({bottleneck, nicSpeed[i], nicSpeed[(i + 1) % nicSpeed.size()]});
    ch.bottleneckGBps = nranks > 1 ? bottleneck : 0;
    plan.channels.push_back(std::move(ch));
  }

  // Trees: a double binary tree over hosts, a chain inside each host.
  const int nh = static_cast<int>(hostOrder.size());
  for (int t = 0; t < 2; ++t) {
    plan.treeParent[t].assign(static_cast<size_t>(nranks), -1);
    for (int hi = 0; hi < nh; ++hi) {
      const std::vector<int>& ranks = plan.hostRanks[hostOrder[static_cast<size_t>(hi)]];
      for (size_t i = 1; i < ranks.size(); ++i)
        plan.treeParent[t][static_cast<size_t>(ranks[i])] = ranks[i - 1];
      const TreeLinks links = doubleTreeLinks(nh, hi, t);
      if (links.parent >= 0) {
        plan.treeParent[t][static_cast<size_t>(ranks.front())] =
            plan.hostRanks[hostOrder[static_cast<size_t>(links.parent)]].front();
      }
    }
  }
  return plan;
}

std::vector<int> planByHost(const std::vector<std::string>& hostIds) {
  std::vector<std::string> hosts;  // in order of first appearance (= lowest rank)
  std::vector<std::vector<int>> ranks;
  for (size_t r = 0; r < hostIds.size(); ++r) {
    const auto it = std::find(hosts.begin(), hosts.end(), hostIds[r]);
    const size_t h = static_cast<size_t>(it - hosts.begin());
    if (it == hosts.end()) {
      hosts.push_back(hostIds[r]);
      ranks.emplace_back();
    }
    ranks[h].push_back(static_cast<int>(r));
  }
  std::vector<int> ring;
  for (const auto& rs : ranks) ring.insert(ring.end(), rs.begin(), rs.end());
  return ring;
}

}  // namespace braid::topo
