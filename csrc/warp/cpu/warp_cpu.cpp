// CPU warping kernels (OpenMP).  Forward and the flow gradient gather per output pixel (rows in
// parallel); the image gradient scatters, and each thread owns whole (n, c) planes of it, so there are
// no atomics and the result is bitwise reproducible whatever the thread count (both modes are
// deterministic on the CPU).
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "../warp.h"

namespace pywlc {
namespace {

// Below this many output samples the OpenMP team costs more than the work.
constexpr int64_t kParallelMinSamples = 16384;

template <typename T, int Interp>
void forward(const WarpArgs& a, T* out) {
  constexpr int K = WarpTaps<Interp>::k;
  const WarpGeometry g = a.g;
  const T* img = static_cast<const T*>(a.img);
  const WarpFlow<T> fl{static_cast<const T*>(a.flow), {a.flow_s[0], a.flow_s[1], a.flow_s[2], a.flow_s[3]},
                       a.block, static_cast<T>(a.scale)};
  const bool parallel = g.N * g.C * g.H * g.W >= kParallelMinSamples;
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t y = 0; y < g.H; ++y) {
      AxisTaps<T, K> ax, ay;
      T* orow = out + (n * g.C * g.H + y) * g.W;
      for (int64_t x = 0; x < g.W; ++x) {
        const T* f = fl.ptr + fl.offset(n, y, x);
        axis_taps<T, Interp>(static_cast<T>(x) + fl.scale * f[0], g.W, a.padding, ax);
        axis_taps<T, Interp>(static_cast<T>(y) + fl.scale * f[fl.s[1]], g.H, a.padding, ay);
        for (int64_t c = 0; c < g.C; ++c)
          orow[c * g.H * g.W + x] = warp_sample<T, K>(img + n * g.s[0] + c * g.s[1], g.s[2], g.s[3], ax, ay);
      }
    }
  }
}

template <typename T, int Interp>
void backward(const WarpArgs& a, const WarpBackwardArgs& b) {
  constexpr int K = WarpTaps<Interp>::k;
  const WarpGeometry g = a.g;
  const T* img = static_cast<const T*>(a.img);
  const T* gout = static_cast<const T*>(b.grad_out);
  const WarpFlow<T> fl{static_cast<const T*>(a.flow), {a.flow_s[0], a.flow_s[1], a.flow_s[2], a.flow_s[3]},
                       a.block, static_cast<T>(a.scale)};
  const bool parallel = g.N * g.C * g.H * g.W >= kParallelMinSamples;
  if (b.grad_flow != nullptr) {
    // d out / d flow = d out / d coordinate (dense flow: scale 1), summed over channels.
    T* gf = static_cast<T*>(b.grad_flow);
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
    for (int64_t n = 0; n < g.N; ++n) {
      for (int64_t y = 0; y < g.H; ++y) {
        AxisTaps<T, K> ax, ay;
        for (int64_t x = 0; x < g.W; ++x) {
          const T* f = fl.ptr + fl.offset(n, y, x);
          axis_taps<T, Interp>(static_cast<T>(x) + fl.scale * f[0], g.W, a.padding, ax);
          axis_taps<T, Interp>(static_cast<T>(y) + fl.scale * f[fl.s[1]], g.H, a.padding, ay);
          T sx = T(0), sy = T(0);
          for (int64_t c = 0; c < g.C; ++c) {
            const T go = gout[n * b.grad_s[0] + c * b.grad_s[1] + y * b.grad_s[2] + x * b.grad_s[3]];
            T dx, dy;
            warp_sample_grad<T, K>(img + n * g.s[0] + c * g.s[1], g.s[2], g.s[3], ax, ay, dx, dy);
            sx += go * dx;
            sy += go * dy;
          }
          gf[((n * 2 + 0) * g.H + y) * g.W + x] = sx * fl.scale;
          gf[((n * 2 + 1) * g.H + y) * g.W + x] = sy * fl.scale;
        }
      }
    }
  }
  if (b.grad_img != nullptr) {
    T* gi = static_cast<T*>(b.grad_img);
    const int64_t plane = g.H * g.W;
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
    for (int64_t p = 0; p < g.N * g.C; ++p) {
      const int64_t n = p / g.C, c = p % g.C;
      T* dst = gi + p * plane;
      std::fill(dst, dst + plane, T(0));
      const T* go = gout + n * b.grad_s[0] + c * b.grad_s[1];
      AxisTaps<T, K> ax, ay;
      for (int64_t y = 0; y < g.H; ++y) {
        for (int64_t x = 0; x < g.W; ++x) {
          const T v = go[y * b.grad_s[2] + x * b.grad_s[3]];
          if (v == T(0)) continue;
          const T* f = fl.ptr + fl.offset(n, y, x);
          axis_taps<T, Interp>(static_cast<T>(x) + fl.scale * f[0], g.W, a.padding, ax);
          axis_taps<T, Interp>(static_cast<T>(y) + fl.scale * f[fl.s[1]], g.H, a.padding, ay);
          for (int i = 0; i < K; ++i) {
            const T vy = v * ay.w[i];
            T* row = dst + ay.idx[i] * g.W;
            for (int j = 0; j < K; ++j) row[ax.idx[j]] += vy * ax.w[j];
          }
        }
      }
    }
  }
}

template <typename T>
void dispatch_forward(const WarpArgs& a, void* out) {
  T* o = static_cast<T*>(out);
  switch (a.interp) {
    case kWarpBilinear:
      return forward<T, kWarpBilinear>(a, o);
    case kWarpBicubic:
      return forward<T, kWarpBicubic>(a, o);
    default:
      return forward<T, kWarpHevc8>(a, o);
  }
}

template <typename T>
void dispatch_backward(const WarpArgs& a, const WarpBackwardArgs& b) {
  switch (a.interp) {
    case kWarpBilinear:
      return backward<T, kWarpBilinear>(a, b);
    case kWarpBicubic:
      return backward<T, kWarpBicubic>(a, b);
    default:
      return backward<T, kWarpHevc8>(a, b);
  }
}

}  // namespace

void warp_forward_cpu(const WarpArgs& args, void* out) {
  warp_validate(args);
  if (args.g.N * args.g.C * args.g.H * args.g.W == 0) return;
  if (args.dtype == kWarpFloat32)
    dispatch_forward<float>(args, out);
  else
    dispatch_forward<double>(args, out);
}

void warp_backward_cpu(const WarpArgs& args, const WarpBackwardArgs& bwd) {
  warp_validate_backward(args, bwd);
  if (args.g.N * args.g.C * args.g.H * args.g.W == 0) {
    // C == 0 still has a (zero) flow gradient to write.
    if (bwd.grad_flow != nullptr)
      std::memset(bwd.grad_flow, 0,
                  static_cast<size_t>(args.g.N * 2 * args.g.H * args.g.W) * (args.dtype ? 8 : 4));
    return;
  }
  if (args.dtype == kWarpFloat32)
    dispatch_backward<float>(args, bwd);
  else
    dispatch_backward<double>(args, bwd);
}

}  // namespace pywlc
