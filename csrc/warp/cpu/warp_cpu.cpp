// CPU warping kernels (OpenMP).  Forward and the flow gradient gather per output pixel (rows in
// parallel); the image gradient scatters, and each thread owns whole (n, c) planes of it, so there are
// no atomics and the result is bitwise reproducible whatever the thread count (both modes are
// deterministic on the CPU).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../warp.h"

namespace pywlc {
namespace {

// Below this many output samples the OpenMP team costs more than the work.
constexpr int64_t kParallelMinSamples = 16384;

template <typename T>
WarpFlow<T> flow_of(const WarpArgs& a) {
  return WarpFlow<T>{static_cast<const T*>(a.flow),
                     {a.flow_s[0], a.flow_s[1], a.flow_s[2], a.flow_s[3]},
                     a.block,
                     static_cast<T>(a.scale)};
}

template <typename T, int Interp, bool Dense>
int64_t forward(const WarpArgs& a, T* out) {
  constexpr int K = WarpTaps<Interp>::k;
  const WarpGeometry g = a.g;
  const T* img = static_cast<const T*>(a.img);
  const WarpFlow<T> fl = flow_of<T>(a);
  const bool parallel = g.N * g.C * g.H * g.W >= kParallelMinSamples;
  int64_t nonfinite = 0;
#pragma omp parallel for collapse(2) schedule(dynamic, 8) reduction(+ : nonfinite) if (parallel)
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t y = 0; y < g.H; ++y) {
      AxisTaps<T, K> ax, ay;
      PixelTaps<T, K> pt;
      T* orow = out + (n * g.C * g.H + y) * g.W;
      const T* img_n = img + n * g.s[0];
      for (int64_t x = 0; x < g.W; ++x) {
        const T* f = fl.ptr + fl.template offset<Dense>(n, y, x);
        const T fx = f[0], fy = f[fl.s[1]];
        // The flow check rides along the read the kernel does anyway (no extra pass in Python).
        nonfinite += !(std::isfinite(fx) && std::isfinite(fy));
        axis_taps<T, Interp>(static_cast<T>(x) + fl.scale * fx, g.W, a.padding, ax);
        axis_taps<T, Interp>(static_cast<T>(y) + fl.scale * fy, g.H, a.padding, ay);
        if constexpr (K <= 4) {
          pt.set(ax, ay, g.s[2], g.s[3]);
          for (int64_t c = 0; c < g.C; ++c) orow[c * g.H * g.W + x] = pt.sample(img_n + c * g.s[1]);
        } else {  // 8 x 8 taps: the separable form does 72 multiply-adds per channel instead of building 64 pairs
          for (int64_t c = 0; c < g.C; ++c)
            orow[c * g.H * g.W + x] = warp_sample<T, K>(img_n + c * g.s[1], g.s[2], g.s[3], ax, ay);
        }
      }
    }
  }
  return nonfinite;
}

template <typename T, int Interp, bool Dense>
void backward(const WarpArgs& a, const WarpBackwardArgs& b) {
  constexpr int K = WarpTaps<Interp>::k;
  const WarpGeometry g = a.g;
  const T* img = static_cast<const T*>(a.img);
  const T* gout = static_cast<const T*>(b.grad_out);
  const WarpFlow<T> fl = flow_of<T>(a);
  const bool parallel = g.N * g.C * g.H * g.W >= kParallelMinSamples;
  T* gi = static_cast<T*>(b.grad_img);
  T* gf = static_cast<T*>(b.grad_flow);
  const int64_t plane = g.H * g.W;
  // One team, two work-shared loops without a barrier between them: the image-gradient planes (few,
  // large) go first, and threads that get no plane (N * C < threads) or finish early take rows of the
  // flow gradient, so e.g. 3 planes on 2 threads do not leave a thread idle.
#pragma omp parallel if (parallel)
  {
    AxisTaps<T, K> ax, ay;
    if (gi != nullptr) {
#pragma omp for schedule(dynamic, 1) nowait
      for (int64_t p = 0; p < g.N * g.C; ++p) {
        const int64_t n = p / g.C, c = p % g.C;
        T* dst = gi + p * plane;
        std::fill(dst, dst + plane, T(0));
        const T* go = gout + n * b.grad_s[0] + c * b.grad_s[1];
        for (int64_t y = 0; y < g.H; ++y) {
          for (int64_t x = 0; x < g.W; ++x) {
            const T v = go[y * b.grad_s[2] + x * b.grad_s[3]];
            if (v == T(0)) continue;
            const T* f = fl.ptr + fl.template offset<Dense>(n, y, x);
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
    if (gf != nullptr) {
      // d out / d flow = scale * d out / d coordinate, summed over channels (a gather: no conflicts).
#pragma omp for collapse(2) schedule(dynamic, 8) nowait
      for (int64_t n = 0; n < g.N; ++n) {
        for (int64_t y = 0; y < g.H; ++y) {
          for (int64_t x = 0; x < g.W; ++x) {
            const T* f = fl.ptr + fl.template offset<Dense>(n, y, x);
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
  }
}

struct ForwardFn {
  const WarpArgs& a;
  void* out;
  template <typename T, int I, bool D>
  int64_t run() const {
    return forward<T, I, D>(a, static_cast<T*>(out));
  }
};

struct BackwardFn {
  const WarpArgs& a;
  const WarpBackwardArgs& b;
  template <typename T, int I, bool D>
  int64_t run() const {
    backward<T, I, D>(a, b);
    return 0;
  }
};

// Calls fn.run<T, Interp, Dense>() for the runtime (dtype, interp, block == 1).
template <typename Fn>
int64_t dispatch(const WarpArgs& a, const Fn& fn) {
  const bool dense = a.block == 1;
#define PYWLC_WARP_CASE(T, I) return dense ? fn.template run<T, I, true>() : fn.template run<T, I, false>()
  if (a.dtype == kWarpFloat32) {
    if (a.interp == kWarpBilinear) PYWLC_WARP_CASE(float, kWarpBilinear);
    if (a.interp == kWarpBicubic) PYWLC_WARP_CASE(float, kWarpBicubic);
    PYWLC_WARP_CASE(float, kWarpHevc8);
  }
  if (a.interp == kWarpBilinear) PYWLC_WARP_CASE(double, kWarpBilinear);
  if (a.interp == kWarpBicubic) PYWLC_WARP_CASE(double, kWarpBicubic);
  PYWLC_WARP_CASE(double, kWarpHevc8);
#undef PYWLC_WARP_CASE
}

}  // namespace

int64_t warp_forward_cpu(const WarpArgs& args, void* out) {
  warp_validate(args);
  if (args.g.N * args.g.C * args.g.H * args.g.W == 0) return 0;
  return dispatch(args, ForwardFn{args, out});
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
  dispatch(args, BackwardFn{args, bwd});
}

}  // namespace pywlc
