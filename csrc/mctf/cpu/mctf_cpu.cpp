// CPU fused MCTF lifting kernels (OpenMP over frames x rows).  Every output element is written by exactly
// one pixel's loop and reads only inputs, so the result does not depend on the thread count.
#include <omp.h>

#include <cstdint>

#include "../mctf.h"

namespace pywlc {
namespace {

// Below this many output samples the OpenMP team costs more than the work (as in the warp kernels).
constexpr int64_t kParallelMinSamples = 16384;

template <typename S, typename T, int Interp>
void predict(const MctfPredictArgs& a) {
  const MctfFrames f = a.f;
  const bool parallel = f.K * f.C * f.H * f.W >= kParallelMinSamples;
#pragma omp parallel for collapse(2) schedule(dynamic, 8) if (parallel)
  for (int64_t k = 0; k < f.K; ++k)
    for (int64_t y = 0; y < f.H; ++y)
      for (int64_t x = 0; x < f.W; ++x) mctf_predict_pixel<S, T, Interp, true>(a, k, y, x);
}

template <typename S, typename T>
void update(const MctfUpdateArgs& a) {
  const MctfFrames f = a.f;
  const bool parallel = f.E * f.C * f.H * f.W >= kParallelMinSamples;
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (int64_t j = 0; j < f.E; ++j)
    for (int64_t y = 0; y < f.H; ++y)
      for (int64_t x = 0; x < f.W; ++x) mctf_update_pixel<S, T>(a, j, y * f.W + x);
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
