// CPU warping kernels (OpenMP).  Forward and the flow gradient gather per output pixel (rows in
// parallel); the image gradient scatters, and each thread owns whole (n, c) planes of it, so there are
// no atomics and the result is bitwise reproducible whatever the thread count (both modes are
// deterministic on the CPU).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

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

// 8-tap filter on block vectors: every pixel of a block shares the fractional phase, so the block is
// filtered separably -- a horizontal pass over the block's B + 7 source rows into `tmp`, then a vertical
// pass -- about 8 * (2B + 7) / B multiply-adds per sample instead of 72.  Virtual source row r of the
// block is output row i's tap k with r = i + k (the taps of consecutive rows are consecutive rows).
template <typename T>
int64_t forward_blocks_hevc8(const WarpArgs& a, T* out) {
  constexpr int K = WarpTaps<kWarpHevc8>::k;
  const WarpGeometry g = a.g;
  const T* img = static_cast<const T*>(a.img);
  const WarpFlow<T> fl = flow_of<T>(a);
  const int64_t B = a.block, nby = g.H / B, nbx = g.W / B;
  const bool parallel = g.N * g.C * g.H * g.W >= kParallelMinSamples;
  int64_t nonfinite = 0;
#pragma omp parallel if (parallel) reduction(+ : nonfinite)
  {
    std::vector<T> tmp(static_cast<size_t>((B + K - 1) * B));
    std::vector<AxisTaps<T, K>> tx(static_cast<size_t>(B)), ty(static_cast<size_t>(B));
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int64_t n = 0; n < g.N; ++n) {
      for (int64_t by = 0; by < nby; ++by) {
        for (int64_t bx = 0; bx < nbx; ++bx) {
          const T* f = fl.ptr + n * fl.s[0] + by * fl.s[2] + bx * fl.s[3];
          const T fx = f[0], fy = f[fl.s[1]];
          const int64_t nbad = !(std::isfinite(fx) && std::isfinite(fy));
          nonfinite += nbad * B * B;
          const int64_t x0 = bx * B, y0 = by * B;
          for (int64_t j = 0; j < B; ++j)
            axis_taps<T, kWarpHevc8>(static_cast<T>(x0 + j) + fl.scale * fx, g.W, a.padding, tx[j]);
          for (int64_t i = 0; i < B; ++i)
            axis_taps<T, kWarpHevc8>(static_cast<T>(y0 + i) + fl.scale * fy, g.H, a.padding, ty[i]);
          // The shared-rows form needs every row's coordinate inside axis_taps' unclamped range (then
          // row i's first tap is first + i exactly); a block far outside the frame goes per pixel.
          const T c0 = static_cast<T>(y0) + fl.scale * fy;
          const T far = static_cast<T>(K + 2);
          if (!(c0 >= -far && c0 + static_cast<T>(B - 1) <= static_cast<T>(g.H - 1) + far)) {
            for (int64_t c = 0; c < g.C; ++c) {
              const T* plane = img + n * g.s[0] + c * g.s[1];
              T* orow = out + ((n * g.C + c) * g.H + y0) * g.W + x0;
              for (int64_t i = 0; i < B; ++i)
                for (int64_t j = 0; j < B; ++j)
                  orow[i * g.W + j] = warp_sample<T, K>(plane, g.s[2], g.s[3], tx[j], ty[i]);
            }
            continue;
          }
          int64_t first = static_cast<int64_t>(c0);
          if (static_cast<T>(first) > c0) --first;
          first -= K / 2 - 1;
          for (int64_t c = 0; c < g.C; ++c) {
            const T* plane = img + n * g.s[0] + c * g.s[1];
            for (int64_t r = 0; r < B + K - 1; ++r) {
              const int64_t sr = std::clamp<int64_t>(first + r, 0, g.H - 1);
              const T* src = plane + sr * g.s[2];
              T* trow = tmp.data() + r * B;
              for (int64_t j = 0; j < B; ++j) {
                T acc = T(0);
                for (int k = 0; k < K; ++k) acc += tx[j].w[k] * src[tx[j].idx[k] * g.s[3]];
                trow[j] = acc;
              }
            }
            T* orow = out + ((n * g.C + c) * g.H + y0) * g.W + x0;
            for (int64_t i = 0; i < B; ++i) {
              for (int64_t j = 0; j < B; ++j) {
                T acc = T(0);
                for (int k = 0; k < K; ++k) acc += ty[i].w[k] * tmp[(i + k) * B + j];
                orow[i * g.W + j] = acc;
              }
            }
          }
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
    if (I == kWarpHevc8 && !D) return forward_blocks_hevc8<T>(a, static_cast<T*>(out));
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

}  // namespace

int64_t warp_forward_cpu(const WarpArgs& args, void* out) {
  warp_validate(args);
  if (args.g.N * args.g.C * args.g.H * args.g.W == 0) return 0;
  return warp_dispatch(args, ForwardFn{args, out});
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
  warp_dispatch(args, BackwardFn{args, bwd});
}

}  // namespace pywlc
