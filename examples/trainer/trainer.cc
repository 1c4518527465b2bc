// A data-parallel trainer on the gradient synchronizer (braidGradSync*).
//
// A small MLP (ReLU hidden layers, softmax cross-entropy) learns labels that a fixed random
// "teacher" assigns to synthetic inputs; everything is generated from the step and sample
// index, so no data is downloaded and every run is reproducible. Each of N ranks takes 1/N of
// the global batch; gradients are averaged by the synchronizer, so N ranks follow the same
// trajectory as one rank on the whole batch (up to float32 round-off) and end bitwise
// identical to each other.
//
// Overlap: with --overlap on, backward marks each layer's gradients ready as soon as they are
// computed, so the buckets of the last layers reduce while earlier layers are still computing;
// with --overlap off, everything is marked after backward.
//
//   braid-run -n 2 build/examples/trainer/braid_trainer --steps 20
//   braid-run -n 2 build/examples/trainer/braid_trainer --bench      (compute / comm / overlap)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "braid/braid.h"

namespace {

struct Options {
  int steps = 20;
  int batch = 64;  // global
  int in = 64;
  int hidden = 256;
  int layers = 3;  // hidden layers
  int classes = 10;
  float lr = 0.2f;
  size_t bucketBytes = 128 << 10;  // small model: small buckets, so backward overlaps them
  bool bf16 = false;
  bool separate = false;  // one buffer per gradient (fused buckets) instead of one flat array
  std::string overlap = "both";  // on, off, both
  bool bench = false;
  int benchSteps = 10;
  std::string dump;  // directory for weights.rank<R>.bin
  bool quiet = false;
  // Emulates an accelerator: after each layer's backward the host thread sleeps this long, as
  // it would while waiting for a GPU kernel. The CPU is then free for communication.
  int deviceUsPerLayer = 0;
};

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "%s\nUsage: braid_trainer [--steps K] [--batch B] [--in D] [--hidden H] "
               "[--layers L] [--classes C] [--lr X] [--bucket-kb KB] [--bf16] [--separate] "
               "[--overlap on|off|both] [--bench [--bench-steps K]] [--dump DIR] [--quiet] "
               "[--device-us-per-layer US]\n",
               msg);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--steps")
      o.steps = std::atoi(next().c_str());
    else if (a == "--batch")
      o.batch = std::atoi(next().c_str());
    else if (a == "--in")
      o.in = std::atoi(next().c_str());
    else if (a == "--hidden")
      o.hidden = std::atoi(next().c_str());
    else if (a == "--layers")
      o.layers = std::atoi(next().c_str());
    else if (a == "--classes")
      o.classes = std::atoi(next().c_str());
    else if (a == "--lr")
      o.lr = static_cast<float>(std::atof(next().c_str()));
    else if (a == "--bucket-kb")
      o.bucketBytes = static_cast<size_t>(std::atol(next().c_str())) << 10;
    else if (a == "--bf16")
      o.bf16 = true;
    else if (a == "--separate")
      o.separate = true;
    else if (a == "--overlap")
      o.overlap = next();
    else if (a == "--bench")
      o.bench = true;
    else if (a == "--bench-steps")
      o.benchSteps = std::atoi(next().c_str());
    else if (a == "--dump")
      o.dump = next();
    else if (a == "--quiet")
      o.quiet = true;
    else if (a == "--device-us-per-layer")
      o.deviceUsPerLayer = std::atoi(next().c_str());
    else
      usage(("unknown option " + a).c_str());
  }
  if (o.steps < 0 || o.batch <= 0 || o.in <= 0 || o.hidden <= 0 || o.layers < 0 || o.classes <= 1 ||
      o.benchSteps <= 0) {
    usage("invalid sizes");
  }
  if (o.overlap != "on" && o.overlap != "off" && o.overlap != "both") usage("bad --overlap");
  return o;
}

// Deterministic uniform in [-1, 1) from a 64-bit key (splitmix64).
float hashUniform(uint64_t key) {
  uint64_t z = key + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<float>(static_cast<double>(z >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

#define CHECK_BRAID(expr, what)                                                            \
  do {                                                                                     \
    braidResult_t r_ = (expr);                                                             \
    if (r_ != braidSuccess) {                                                              \
      std::fprintf(stderr, "%s failed: %s: %s\n", #expr, braidGetErrorString(r_), (what)); \
      std::exit(1);                                                                        \
    }                                                                                      \
  } while (0)

// One dense layer: W is [in][out] (so the inner loops run over contiguous outputs), b is [out].
struct Layer {
  int in, out;
  size_t wOff, bOff;  // offsets into the parameter / gradient stores
};

class Mlp {
 public:
  Mlp(const Options& o) : o_(o) {
    std::vector<int> dims = {o.in};
    for (int l = 0; l < o.layers; ++l) dims.push_back(o.hidden);
    dims.push_back(o.classes);
    size_t off = 0;
    for (size_t l = 0; l + 1 < dims.size(); ++l) {
      Layer L{dims[l], dims[l + 1], off, 0};
      off += static_cast<size_t>(L.in) * L.out;
      L.bOff = off;
      off += static_cast<size_t>(L.out);
      layers_.push_back(L);
    }
    params.resize(off);
    flatGrad_.resize(off);
    for (size_t l = 0; l < layers_.size(); ++l) {
      const Layer& L = layers_[l];
      const float scale = std::sqrt(2.0f / static_cast<float>(L.in));
      for (size_t k = 0; k < static_cast<size_t>(L.in) * L.out; ++k) {
        params[L.wOff + k] = scale * hashUniform((l << 40) ^ k);
      }
      for (int k = 0; k < L.out; ++k) params[L.bOff + k] = 0.0f;
    }
    if (o.separate) {
      for (const Layer& L : layers_) {
        sepGrads_.emplace_back(static_cast<size_t>(L.in) * L.out);
        sepGrads_.emplace_back(static_cast<size_t>(L.out));
      }
    }
    acts_.resize(layers_.size() + 1);
  }

  size_t numParams() const { return params.size(); }
  size_t numGrads() const { return layers_.size() * 2; }
  // Gradient k: layer k/2, weight (even) or bias (odd).
  float* grad(size_t k) {
    if (o_.separate) return sepGrads_[k].data();
    const Layer& L = layers_[k / 2];
    return flatGrad_.data() + ((k % 2) ? L.bOff : L.wOff);
  }
  size_t gradCount(size_t k) const {
    const Layer& L = layers_[k / 2];
    return (k % 2) ? static_cast<size_t>(L.out) : static_cast<size_t>(L.in) * L.out;
  }

  // Synthetic data: sample s of step t of the global batch.
  void makeBatch(int step, int first, int count, std::vector<float>* x, std::vector<int>* y) const {
    x->assign(static_cast<size_t>(count) * o_.in, 0.0f);
    y->assign(static_cast<size_t>(count), 0);
    for (int s = 0; s < count; ++s) {
      const uint64_t id = static_cast<uint64_t>(step) * o_.batch + static_cast<uint64_t>(first + s);
      float* xs = x->data() + static_cast<size_t>(s) * o_.in;
      for (int i = 0; i < o_.in; ++i)
        xs[i] = hashUniform((id << 20) ^ static_cast<uint64_t>(i) ^ (1ull << 62));
      // Teacher: argmax of a fixed random projection.
      int best = 0;
      float bestV = -1e30f;
      for (int c = 0; c < o_.classes; ++c) {
        float v = 0;
        for (int i = 0; i < o_.in; ++i)
          v += xs[i] * hashUniform((7ull << 56) ^ (static_cast<uint64_t>(c) << 24) ^
                                   static_cast<uint64_t>(i));
        if (v > bestV) bestV = v, best = c;
      }
      (*y)[static_cast<size_t>(s)] = best;
    }
  }

  // Forward on `n` samples; returns the mean loss. Keeps the activations for backward.
  float forward(const std::vector<float>& x, const std::vector<int>& y, int n) {
    n_ = n;
    acts_[0] = x;
    for (size_t l = 0; l < layers_.size(); ++l) {
      const Layer& L = layers_[l];
      std::vector<float>& out = acts_[l + 1];
      out.assign(static_cast<size_t>(n) * L.out, 0.0f);
      const float* W = params.data() + L.wOff;
      const float* b = params.data() + L.bOff;
      for (int s = 0; s < n; ++s) {
        const float* xs = acts_[l].data() + static_cast<size_t>(s) * L.in;
        float* os = out.data() + static_cast<size_t>(s) * L.out;
        for (int o = 0; o < L.out; ++o) os[o] = b[o];
        for (int i = 0; i < L.in; ++i) {
          const float xi = xs[i];
          const float* Wi = W + static_cast<size_t>(i) * L.out;
          for (int o = 0; o < L.out; ++o) os[o] += xi * Wi[o];
        }
        if (l + 1 < layers_.size()) {
          for (int o = 0; o < L.out; ++o) os[o] = std::max(os[o], 0.0f);
        }
      }
    }
    // Softmax cross-entropy; dlogits = (p - onehot) / n.
    const int C = o_.classes;
    dout_.assign(static_cast<size_t>(n) * C, 0.0f);
    double loss = 0;
    for (int s = 0; s < n; ++s) {
      const float* z = acts_.back().data() + static_cast<size_t>(s) * C;
      float m = z[0];
      for (int c = 1; c < C; ++c) m = std::max(m, z[c]);
      double sum = 0;
      for (int c = 0; c < C; ++c) sum += std::exp(static_cast<double>(z[c] - m));
      const int t = y[static_cast<size_t>(s)];
      loss += -(static_cast<double>(z[t] - m) - std::log(sum));
      for (int c = 0; c < C; ++c) {
        const double p = std::exp(static_cast<double>(z[c] - m)) / sum;
        dout_[static_cast<size_t>(s) * C + c] = static_cast<float>((p - (c == t ? 1.0 : 0.0)) / n);
      }
    }
    return static_cast<float>(loss / n);
  }

  // Backward; calls ready(k) for each gradient as soon as it is final, last layer first.
  template <typename Ready>
  void backward(Ready&& ready) {
    std::vector<float> dcur = dout_, dprev;
    for (size_t l = layers_.size(); l-- > 0;) {
      const Layer& L = layers_[l];
      float* gW = grad(2 * l);
      float* gb = grad(2 * l + 1);
      std::fill(gW, gW + static_cast<size_t>(L.in) * L.out, 0.0f);
      std::fill(gb, gb + L.out, 0.0f);
      const float* X = acts_[l].data();
      for (int s = 0; s < n_; ++s) {
        const float* ds = dcur.data() + static_cast<size_t>(s) * L.out;
        const float* xs = X + static_cast<size_t>(s) * L.in;
        for (int o = 0; o < L.out; ++o) gb[o] += ds[o];
        for (int i = 0; i < L.in; ++i) {
          const float xi = xs[i];
          float* gWi = gW + static_cast<size_t>(i) * L.out;
          for (int o = 0; o < L.out; ++o) gWi[o] += xi * ds[o];
        }
      }
      ready(2 * l);
      ready(2 * l + 1);
      if (o_.deviceUsPerLayer > 0) {  // the "kernels" after this layer's weight gradient
        std::this_thread::sleep_for(std::chrono::microseconds(o_.deviceUsPerLayer));
      }
      if (l == 0) break;
      // dX = dY W^T, through the ReLU of layer l-1's output.
      dprev.assign(static_cast<size_t>(n_) * L.in, 0.0f);
      const float* W = params.data() + L.wOff;
      for (int s = 0; s < n_; ++s) {
        const float* ds = dcur.data() + static_cast<size_t>(s) * L.out;
        const float* xs = X + static_cast<size_t>(s) * L.in;
        float* dp = dprev.data() + static_cast<size_t>(s) * L.in;
        for (int i = 0; i < L.in; ++i) {
          if (xs[i] <= 0.0f) continue;  // ReLU
          const float* Wi = W + static_cast<size_t>(i) * L.out;
          float acc = 0;
          for (int o = 0; o < L.out; ++o) acc += Wi[o] * ds[o];
          dp[i] = acc;
        }
      }
      dcur.swap(dprev);
    }
  }

  void sgd(float lr) {
    for (size_t k = 0; k < numGrads(); ++k) {
      const Layer& L = layers_[k / 2];
      float* p = params.data() + ((k % 2) ? L.bOff : L.wOff);
      const float* g = grad(k);
      const size_t c = gradCount(k);
      for (size_t i = 0; i < c; ++i) p[i] -= lr * g[i];
    }
  }

  std::vector<float> params;

 private:
  Options o_;
  std::vector<Layer> layers_;
  std::vector<float> flatGrad_;
  std::vector<std::vector<float>> sepGrads_;
  std::vector<std::vector<float>> acts_;
  std::vector<float> dout_;
  int n_ = 0;
};

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Trainer {
  Options o;
  braidComm_t comm = nullptr;
  braidGradSync_t gs = nullptr;
  int rank = 0, nranks = 1;
  Mlp mlp;
  std::vector<float> x;
  std::vector<int> y;
  double waitSeconds = 0;  // in braidGradSyncWait

  explicit Trainer(const Options& opt) : o(opt), mlp(opt) {}

  void gsCheck(braidResult_t r, const char* what) {
    if (r != braidSuccess) {
      std::fprintf(stderr, "rank %d: %s: %s\n", rank, what, braidGradSyncGetLastError(gs));
      std::exit(1);
    }
  }

  void barrier() {
    float z = 0;
    CHECK_BRAID(braidAllReduce(&z, &z, 1, braidFloat32, braidSum, comm, nullptr),
                braidGetLastError(comm));
  }

  // One step; returns the global mean loss when `reportLoss`. sync: gradients are averaged;
  // overlap: marked during backward rather than after it.
  float step(int t, bool compute, bool sync, bool overlap, bool reportLoss) {
    float loss = 0;
    if (compute) {
      const int local = o.batch / nranks;
      mlp.makeBatch(t, rank * local, local, &x, &y);
      loss = mlp.forward(x, y, local);
      mlp.backward([&](size_t k) {
        if (sync && overlap)
          gsCheck(braidGradSyncMarkReady(gs, static_cast<int>(k), mlp.grad(k)), "mark");
      });
    }
    if (sync) {
      if (!compute || !overlap) {
        for (size_t k = mlp.numGrads(); k-- > 0;) {
          gsCheck(braidGradSyncMarkReady(gs, static_cast<int>(k), mlp.grad(k)), "mark");
        }
      }
      const double w0 = now();
      gsCheck(braidGradSyncWait(gs), "wait");
      waitSeconds += now() - w0;
    }
    if (compute) mlp.sgd(o.lr);
    if (reportLoss) {
      CHECK_BRAID(braidAllReduce(&loss, &loss, 1, braidFloat32, braidAvg, comm, nullptr),
                  braidGetLastError(comm));
    }
    return loss;
  }

  // The four bench phases: {compute, sync, overlap}.
  static constexpr int kPhases = 4;
  static constexpr bool kPhase[kPhases][3] = {
      {true, false, false}, {false, true, false}, {true, true, false}, {true, true, true}};

  // Median seconds per step of each phase (max over ranks), and mean ms in braidGradSyncWait.
  // Phases are interleaved step by step (compute, comm, off, on, compute, ...) so that drift in
  // the machine's speed hits them all alike, as in the peer comparisons.
  void timePhases(double medians[kPhases], double waitMs[kPhases]) {
    for (int p = 0; p < kPhases; ++p) {
      for (int t = 0; t < 2; ++t) step(t, kPhase[p][0], kPhase[p][1], kPhase[p][2], false);
    }
    std::vector<double> times[kPhases];
    double waits[kPhases] = {};
    for (int t = 0; t < o.benchSteps; ++t) {
      for (int p = 0; p < kPhases; ++p) {
        barrier();
        const double waitBefore = waitSeconds;
        const double t0 = now();
        step(t, kPhase[p][0], kPhase[p][1], kPhase[p][2], false);
        times[p].push_back(now() - t0);
        waits[p] += waitSeconds - waitBefore;
      }
    }
    for (int p = 0; p < kPhases; ++p) {
      float m = static_cast<float>(median(times[p]));
      CHECK_BRAID(braidAllReduce(&m, &m, 1, braidFloat32, braidMax, comm, nullptr),
                  braidGetLastError(comm));
      medians[p] = m;
      waitMs[p] = waits[p] / o.benchSteps * 1e3;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  Trainer tr(o);
  if (braidCommInitFromEnv(&tr.comm) != braidSuccess) {
    std::fprintf(stderr, "braidCommInitFromEnv: %s\n", braidGetLastError(nullptr));
    return 1;
  }
  braidCommUserRank(tr.comm, &tr.rank);
  braidCommCount(tr.comm, &tr.nranks);
  if (o.batch % tr.nranks != 0) {
    std::fprintf(stderr, "--batch %d does not divide by %d ranks\n", o.batch, tr.nranks);
    return 2;
  }
  const int flags = o.bf16 ? BRAID_GRADSYNC_BF16 : 0;
  if (braidGradSyncCreate(&tr.gs, tr.comm, o.bucketBytes, flags) != braidSuccess) {
    std::fprintf(stderr, "braidGradSyncCreate: %s\n", braidGradSyncGetLastError(nullptr));
    return 1;
  }
  for (size_t k = 0; k < tr.mlp.numGrads(); ++k) {
    tr.gsCheck(
        braidGradSyncRegister(tr.gs, tr.mlp.grad(k), tr.mlp.gradCount(k), braidFloat32, nullptr),
        "register");
  }
  int buckets = 0;
  tr.gsCheck(braidGradSyncGetBucketCount(tr.gs, &buckets), "bucket count");
  const bool lead = tr.rank == 0;
  if (lead) {
    std::printf(
        "braid_trainer: %d ranks, %zu parameters (%.2f MiB of gradients) in %d buckets, "
        "global batch %d (%d per rank)%s%s\n",
        tr.nranks, tr.mlp.numParams(), tr.mlp.numParams() * 4.0 / (1 << 20), buckets, o.batch,
        o.batch / tr.nranks, o.bf16 ? ", bf16 transport" : "",
        o.separate ? ", separate gradient buffers" : ", one flat gradient array");
  }

  if (o.bench) {
    double medians[Trainer::kPhases];
    double waitMs[Trainer::kPhases];
    tr.timePhases(medians, waitMs);
    const double compute = medians[0];
    const double comm = medians[1];
    const double off = medians[2];
    const double offWait = waitMs[2];
    const double on = medians[3];
    const double onWait = waitMs[3];
    if (lead) {
      std::printf("compute only        %8.2f ms/step\n", compute * 1e3);
      std::printf("communication only  %8.2f ms/step\n", comm * 1e3);
      std::printf("compute + comm      %8.2f ms/step (sum of the two)\n", (compute + comm) * 1e3);
      std::printf("step, overlap off   %8.2f ms/step (%.2f ms in braidGradSyncWait)\n", off * 1e3,
                  offWait);
      std::printf(
          "step, overlap on    %8.2f ms/step (%.2f ms in braidGradSyncWait; %.0f%% of "
          "the communication hidden)\n",
          on * 1e3, onWait, comm > 0 ? 100.0 * (compute + comm - on) / comm : 0.0);
    }
  } else {
    std::vector<std::string> modes;
    if (o.overlap != "off") modes.push_back("on");
    if (o.overlap != "on") modes.push_back("off");
    const std::vector<float> init = tr.mlp.params;
    for (const std::string& mode : modes) {
      tr.mlp.params = init;
      double total = 0;
      for (int t = 0; t < o.steps; ++t) {
        tr.barrier();
        const double t0 = now();
        const float loss = tr.step(t, true, true, mode == "on", true);
        const double dt = now() - t0;
        total += dt;
        if (lead && !o.quiet) {
          std::printf("overlap %-3s step %3d  loss %.6f  %.2f ms\n", mode.c_str(), t, loss,
                      dt * 1e3);
        }
      }
      if (lead && o.steps > 0) {
        std::printf("overlap %-3s mean %.2f ms/step over %d steps\n", mode.c_str(),
                    total / o.steps * 1e3, o.steps);
      }
    }
    if (!o.dump.empty()) {
      const std::string path = o.dump + "/weights.rank" + std::to_string(tr.rank) + ".bin";
      FILE* f = std::fopen(path.c_str(), "wb");
      if (f == nullptr ||
          std::fwrite(tr.mlp.params.data(), sizeof(float), tr.mlp.params.size(), f) !=
              tr.mlp.params.size() ||
          std::fclose(f) != 0) {
        std::fprintf(stderr, "cannot write %s\n", path.c_str());
        return 1;
      }
    }
  }
  tr.gsCheck(braidGradSyncDestroy(tr.gs), "destroy");
  braidCommDestroy(tr.comm);
  return 0;
}
