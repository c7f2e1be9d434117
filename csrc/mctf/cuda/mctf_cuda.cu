// CUDA fused MCTF lifting kernels: one thread per output pixel (frame, y, x) in a grid-stride loop, looping
// over channels so the taps / connectivity are read once per pixel.  Both steps gather (no atomics), so the
// result is deterministic; the per-pixel math is mctf_common.h's, sampling as warp_cuda.cu does.
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "../mctf.h"

namespace pywlc {
namespace {

constexpr int kThreads = 256;

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

unsigned grid_for(int64_t items) {
  const int64_t blocks = (items + kThreads - 1) / kThreads;
  // Grid-stride loops cover the rest: cap the grid well inside the 2^31 - 1 limit.
  return static_cast<unsigned>(blocks < 65535LL * 32 ? blocks : 65535LL * 32);
}

template <typename S, typename T, int Interp>
__global__ void mctf_predict_kernel(MctfPredictArgs a) {
  const int64_t hw = a.f.H * a.f.W, total = a.f.K * hw;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t k = i / hw, p = i % hw;
    MctfPredictPixel<T, Interp, false> px;
    px.set(a, k, p / a.f.W, p % a.f.W, k + 1 < a.f.E && a.wr[i] > 0.0f);
    for (int64_t c = 0; c < a.f.C; ++c) px.template lift<S>(a, k, c, px.template value<S>(a, k, c));
  }
}

template <typename S, typename T>
__global__ void mctf_update_kernel(MctfUpdateArgs a) {
  const int64_t hw = a.f.H * a.f.W, total = a.f.E * hw;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t j = i / hw;
    MctfUpdatePixel<T> px;
    px.set(a, j, i % hw);
    for (int64_t c = 0; c < a.f.C; ++c) px.template lift<S>(a, j, c, px.template value<S>(a, c));
  }
}

struct PredictFn {
  const MctfPredictArgs& a;
  cudaStream_t st;
  template <typename S, typename T>
  void run() const {
    const unsigned grid = grid_for(a.f.K * a.f.H * a.f.W);
    if (a.interp == kWarpBilinear)
      mctf_predict_kernel<S, T, kWarpBilinear><<<grid, kThreads, 0, st>>>(a);
    else
      mctf_predict_kernel<S, T, kWarpBicubic><<<grid, kThreads, 0, st>>>(a);
    check(cudaGetLastError(), "mctf_predict_kernel launch");
  }
};

struct UpdateFn {
  const MctfUpdateArgs& a;
  cudaStream_t st;
  template <typename S, typename T>
  void run() const {
    mctf_update_kernel<S, T><<<grid_for(a.f.E * a.f.H * a.f.W), kThreads, 0, st>>>(a);
    check(cudaGetLastError(), "mctf_update_kernel launch");
  }
};

}  // namespace

void mctf_predict_cuda(const MctfPredictArgs& args, void* stream) {
  mctf_validate(args);
  if (args.f.K * args.f.C * args.f.H * args.f.W == 0) return;
  mctf_dispatch(args.dtype, PredictFn{args, static_cast<cudaStream_t>(stream)});
}

void mctf_update_cuda(const MctfUpdateArgs& args, void* stream) {
  mctf_validate(args);
  if (args.f.E * args.f.C * args.f.H * args.f.W == 0) return;
  mctf_dispatch(args.dtype, UpdateFn{args, static_cast<cudaStream_t>(stream)});
}

}  // namespace pywlc
