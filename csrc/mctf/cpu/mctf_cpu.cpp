// CPU fused MCTF lifting kernels (OpenMP over frames x rows).  Every output element is written by exactly
// one pixel's loop and reads only inputs, so the result does not depend on the thread count.  Each row goes in
// runs of kRun pixels: their side information is read once, then each channel plane is streamed over the run,
// gathering the run's samples before storing its outputs (mctf_common.h: 4K aliasing).
#include <omp.h>

#include <cstdint>

#include "../mctf.h"

namespace pywlc {
namespace {

// Below this many output samples the OpenMP team costs more than the work (as in the warp kernels).
constexpr int64_t kParallelMinSamples = 16384;
// Pixels per run: the run's taps stay in L1 (bicubic float64 flattened taps: ~0.6 KiB a pixel).
constexpr int64_t kRun = 32;

template <typename S, typename T, int Interp>
void predict(const MctfPredictArgs& a) {
  const MctfFrames f = a.f;
  const bool parallel = f.K * f.C * f.H * f.W >= kParallelMinSamples;
#pragma omp parallel for collapse(2) schedule(dynamic, 8) if (parallel)
  for (int64_t k = 0; k < f.K; ++k) {
    for (int64_t y = 0; y < f.H; ++y) {
      MctfPredictPixel<T, Interp, true> px[kRun];
      for (int64_t x0 = 0; x0 < f.W; x0 += kRun) {
        const int64_t m = f.W - x0 < kRun ? f.W - x0 : kRun;
        // The run adds the right reference if any of its pixels weighs it (frames with a right neighbour).
        bool right = false;
        if (k + 1 < f.E)
          for (int64_t i = 0; i < m; ++i) right |= a.wr[(k * f.H + y) * f.W + x0 + i] > 0.0f;
        for (int64_t i = 0; i < m; ++i) px[i].set(a, k, y, x0 + i, right);
        for (int64_t c = 0; c < f.C; ++c) {
          T pred[kRun];
          for (int64_t i = 0; i < m; ++i) pred[i] = px[i].template value<S>(a, k, c);
          for (int64_t i = 0; i < m; ++i) px[i].template lift<S>(a, k, c, pred[i]);
        }
      }
    }
  }
}

template <typename S, typename T>
void update(const MctfUpdateArgs& a) {
  const MctfFrames f = a.f;
  const bool parallel = f.E * f.C * f.H * f.W >= kParallelMinSamples;
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (int64_t j = 0; j < f.E; ++j) {
    for (int64_t y = 0; y < f.H; ++y) {
      MctfUpdatePixel<T> px[kRun];
      for (int64_t x0 = 0; x0 < f.W; x0 += kRun) {
        const int64_t m = f.W - x0 < kRun ? f.W - x0 : kRun;
        for (int64_t i = 0; i < m; ++i) px[i].set(a, j, y * f.W + x0 + i);
        for (int64_t c = 0; c < f.C; ++c) {
          T u[kRun];
          for (int64_t i = 0; i < m; ++i) u[i] = px[i].template value<S>(a, c);
          for (int64_t i = 0; i < m; ++i) px[i].template lift<S>(a, j, c, u[i]);
        }
      }
    }
  }
}

struct PredictFn {
  const MctfPredictArgs& a;
  template <typename S, typename T>
  void run() const {
    if (a.interp == kWarpBilinear) return predict<S, T, kWarpBilinear>(a);
    predict<S, T, kWarpBicubic>(a);
  }
};

struct UpdateFn {
  const MctfUpdateArgs& a;
  template <typename S, typename T>
  void run() const {
    update<S, T>(a);
  }
};

}  // namespace

void mctf_predict_cpu(const MctfPredictArgs& args) {
  mctf_validate(args);
  if (args.f.K * args.f.C * args.f.H * args.f.W == 0) return;
  mctf_dispatch(args.dtype, PredictFn{args});
}

void mctf_update_cpu(const MctfUpdateArgs& args) {
  mctf_validate(args);
  if (args.f.E * args.f.C * args.f.H * args.f.W == 0) return;
  mctf_dispatch(args.dtype, UpdateFn{args});
}

}  // namespace pywlc
