// CUDA warping kernels: one thread per output pixel (n, y, x), looping over channels so the taps are
// computed once per pixel.  Forward and the flow gradient gather (no atomics).  The image gradient
// scatters: by default with float atomicAdd (fast, run-to-run order dependent), or in deterministic mode
// with integer atomics on a fixed-point int64 workspace (integer addition is associative, so the sum is
// bitwise reproducible), converted to the image dtype at the end.
//
// Fixed point: value * 2^32, each contribution rounded to nearest (error <= 2^-33), accumulated exactly;
// representable range |grad_img element| < 2^31 (int64 wraps beyond).
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "../warp.h"

namespace pywlc {
namespace {

constexpr int kThreads = 256;
constexpr double kFixedScale = 4294967296.0;  // 2^32
constexpr double kFixedInv = 1.0 / 4294967296.0;

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

unsigned grid_for(int64_t items) {
  const int64_t blocks = (items + kThreads - 1) / kThreads;
  // Grid-stride loops cover the rest: cap the grid well inside the 2^31 - 1 limit.
  return static_cast<unsigned>(blocks < 65535LL * 32 ? blocks : 65535LL * 32);
}

template <typename T>
struct Params {
  WarpGeometry g;
  WarpFlow<T> fl;
  int padding;
};

template <typename T>
Params<T> params(const WarpArgs& a) {
  return Params<T>{a.g,
                   WarpFlow<T>{static_cast<const T*>(a.flow),
                               {a.flow_s[0], a.flow_s[1], a.flow_s[2], a.flow_s[3]},
                               a.block,
                               static_cast<T>(a.scale)},
                   a.padding};
}

template <typename T, int Interp, bool Dense>
__device__ __forceinline__ void pixel_taps(const Params<T>& p, int64_t n, int64_t y, int64_t x,
                                           AxisTaps<T, WarpTaps<Interp>::k>& ax,
                                           AxisTaps<T, WarpTaps<Interp>::k>& ay) {
  const T* f = p.fl.ptr + p.fl.template offset<Dense>(n, y, x);
  axis_taps<T, Interp>(static_cast<T>(x) + p.fl.scale * f[0], p.g.W, p.padding, ax);
  axis_taps<T, Interp>(static_cast<T>(y) + p.fl.scale * f[p.fl.s[1]], p.g.H, p.padding, ay);
}

template <typename T, int Interp, bool Dense>
__global__ void warp_forward_kernel(Params<T> p, const T* __restrict__ img, T* __restrict__ out) {
  constexpr int K = WarpTaps<Interp>::k;
  const int64_t total = p.g.N * p.g.H * p.g.W, hw = p.g.H * p.g.W;
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < total;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t x = k % p.g.W, y = (k / p.g.W) % p.g.H, n = k / hw;
    AxisTaps<T, K> ax, ay;
    pixel_taps<T, Interp, Dense>(p, n, y, x, ax, ay);
    for (int64_t c = 0; c < p.g.C; ++c)
      out[(n * p.g.C + c) * hw + y * p.g.W + x] =
          warp_sample<T, K>(img + n * p.g.s[0] + c * p.g.s[1], p.g.s[2], p.g.s[3], ax, ay);
  }
}

template <typename T, int Interp, bool Dense>
__global__ void warp_grad_flow_kernel(Params<T> p, const T* __restrict__ img, const T* __restrict__ gout,
                                      WarpGeometry gg, T* __restrict__ grad_flow) {
  constexpr int K = WarpTaps<Interp>::k;
  const int64_t total = p.g.N * p.g.H * p.g.W, hw = p.g.H * p.g.W;
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < total;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t x = k % p.g.W, y = (k / p.g.W) % p.g.H, n = k / hw;
    AxisTaps<T, K> ax, ay;
    pixel_taps<T, Interp, Dense>(p, n, y, x, ax, ay);
    T sx = T(0), sy = T(0);
    for (int64_t c = 0; c < p.g.C; ++c) {
      const T go = gout[n * gg.s[0] + c * gg.s[1] + y * gg.s[2] + x * gg.s[3]];
      T dx, dy;
      warp_sample_grad<T, K>(img + n * p.g.s[0] + c * p.g.s[1], p.g.s[2], p.g.s[3], ax, ay, dx, dy);
      sx += go * dx;
      sy += go * dy;
    }
    grad_flow[(n * 2 + 0) * hw + y * p.g.W + x] = sx * p.fl.scale;
    grad_flow[(n * 2 + 1) * hw + y * p.g.W + x] = sy * p.fl.scale;
  }
}

// Float accumulation (default mode).
template <typename T>
struct AtomicFloat {
  T* base;
  __device__ __forceinline__ void add(int64_t i, T v) const { atomicAdd(base + i, v); }
};

// Fixed-point int64 accumulation (deterministic mode).
template <typename T>
struct AtomicFixed {
  unsigned long long* base;
  __device__ __forceinline__ void add(int64_t i, T v) const {
    const long long q = __double2ll_rn(static_cast<double>(v) * kFixedScale);
    atomicAdd(base + i, static_cast<unsigned long long>(q));  // two's complement: signed addition
  }
};

template <typename T, int Interp, bool Dense, typename Acc>
__global__ void warp_grad_img_kernel(Params<T> p, const T* __restrict__ gout, WarpGeometry gg, Acc acc) {
  constexpr int K = WarpTaps<Interp>::k;
  const int64_t total = p.g.N * p.g.H * p.g.W, hw = p.g.H * p.g.W;
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < total;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t x = k % p.g.W, y = (k / p.g.W) % p.g.H, n = k / hw;
    AxisTaps<T, K> ax, ay;
    pixel_taps<T, Interp, Dense>(p, n, y, x, ax, ay);
    for (int64_t c = 0; c < p.g.C; ++c) {
      const T v = gout[n * gg.s[0] + c * gg.s[1] + y * gg.s[2] + x * gg.s[3]];
      if (v == T(0)) continue;
      const int64_t base = (n * p.g.C + c) * hw;
      for (int i = 0; i < K; ++i) {
        const T vy = v * ay.w[i];
        if (vy == T(0)) continue;  // zero-padded or exact-integer taps
        for (int j = 0; j < K; ++j)
          if (ax.w[j] != T(0)) acc.add(base + ay.idx[i] * p.g.W + ax.idx[j], vy * ax.w[j]);
      }
    }
  }
}

template <typename T>
__global__ void fixed_to_float_kernel(const long long* __restrict__ src, T* __restrict__ dst, int64_t total) {
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < total;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[k] = static_cast<T>(static_cast<double>(src[k]) * kFixedInv);
}

template <typename T, int Interp, bool Dense>
void forward(const WarpArgs& a, T* out, cudaStream_t st) {
  const int64_t pixels = a.g.N * a.g.H * a.g.W;
  const T* img = static_cast<const T*>(a.img);
  warp_forward_kernel<T, Interp, Dense><<<grid_for(pixels), kThreads, 0, st>>>(params<T>(a), img, out);
  check(cudaGetLastError(), "warp_forward_kernel launch");
}

template <typename T, int Interp, bool Dense>
void backward(const WarpArgs& a, const WarpBackwardArgs& b, cudaStream_t st) {
  const int64_t pixels = a.g.N * a.g.H * a.g.W;
  const int64_t total = pixels * a.g.C;
  const Params<T> p = params<T>(a);
  const T* gout = static_cast<const T*>(b.grad_out);
  const WarpGeometry gg{a.g.N, a.g.C, a.g.H, a.g.W, {b.grad_s[0], b.grad_s[1], b.grad_s[2], b.grad_s[3]}};
  if (b.grad_flow != nullptr) {
    warp_grad_flow_kernel<T, Interp, Dense><<<grid_for(pixels), kThreads, 0, st>>>(
        p, static_cast<const T*>(a.img), gout, gg, static_cast<T*>(b.grad_flow));
    check(cudaGetLastError(), "warp_grad_flow_kernel launch");
  }
  if (b.grad_img == nullptr) return;
  T* gi = static_cast<T*>(b.grad_img);
  if (!b.deterministic) {
    check(cudaMemsetAsync(gi, 0, static_cast<size_t>(total) * sizeof(T), st), "cudaMemsetAsync");
    warp_grad_img_kernel<T, Interp, Dense, AtomicFloat<T>>
        <<<grid_for(pixels), kThreads, 0, st>>>(p, gout, gg, AtomicFloat<T>{gi});
    check(cudaGetLastError(), "warp_grad_img_kernel launch");
    return;
  }
  if (b.workspace == nullptr) throw std::invalid_argument("deterministic mode needs an int64 workspace");
  auto* ws = static_cast<unsigned long long*>(b.workspace);
  check(cudaMemsetAsync(ws, 0, static_cast<size_t>(total) * sizeof(long long), st), "cudaMemsetAsync");
  warp_grad_img_kernel<T, Interp, Dense, AtomicFixed<T>>
      <<<grid_for(pixels), kThreads, 0, st>>>(p, gout, gg, AtomicFixed<T>{ws});
  check(cudaGetLastError(), "warp_grad_img_kernel launch");
  fixed_to_float_kernel<T><<<grid_for(total), kThreads, 0, st>>>(reinterpret_cast<const long long*>(ws), gi, total);
  check(cudaGetLastError(), "fixed_to_float_kernel launch");
}

struct ForwardFn {
  const WarpArgs& a;
  void* out;
  cudaStream_t st;
  template <typename T, int I, bool D>
  void run() const {
    forward<T, I, D>(a, static_cast<T*>(out), st);
  }
};

struct BackwardFn {
  const WarpArgs& a;
  const WarpBackwardArgs& b;
  cudaStream_t st;
  template <typename T, int I, bool D>
  void run() const {
    backward<T, I, D>(a, b, st);
  }
};

}  // namespace

void warp_forward_cuda(const WarpArgs& args, void* out, void* stream) {
  warp_validate(args);
  if (args.g.N * args.g.C * args.g.H * args.g.W == 0) return;
  warp_dispatch(args, ForwardFn{args, out, static_cast<cudaStream_t>(stream)});
}

void warp_backward_cuda(const WarpArgs& args, const WarpBackwardArgs& bwd, void* stream) {
  warp_validate_backward(args, bwd);
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  if (args.g.N * args.g.C * args.g.H * args.g.W == 0) {
    if (bwd.grad_flow != nullptr)  // C == 0 still has a (zero) flow gradient to write
      check(cudaMemsetAsync(bwd.grad_flow, 0,
                            static_cast<size_t>(args.g.N * 2 * args.g.H * args.g.W) * (args.dtype ? 8 : 4), st),
            "cudaMemsetAsync");
    return;
  }
  warp_dispatch(args, BackwardFn{args, bwd, st});
}

}  // namespace pywlc
