// Per-pixel sampling math shared by the CPU and CUDA warping kernels (host and device).
//
// A sample at (cx, cy) is separable: out = sum_i sum_j wy[i] * wx[j] * img[iy[i], ix[j]] over K taps per
// axis.  axis_taps() gives one axis' tap indices (already inside [0, n): out-of-frame taps of `zeros`
// padding are clamped and get weight 0, so inner loops are branch-free), weights, and d(weight)/d(coord)
// for the flow gradient.  Conventions follow F.grid_sample(align_corners=True), see pywlc/ops/warp.py.
#pragma once

#include <cmath>
#include <cstdint>

#include "../abi.h"  // WarpInterp, WarpPadding, WarpDtype

#ifndef PYWLC_HD
#if defined(__CUDACC__)
#define PYWLC_HD __host__ __device__ __forceinline__
#else
#define PYWLC_HD inline
#endif
#endif

namespace pywlc {

// Taps per axis of each interpolation.
template <int Interp>
struct WarpTaps {
  static constexpr int k = Interp == kWarpBilinear ? 2 : (Interp == kWarpBicubic ? 4 : 8);
};

// grid_sample's bicubic kernel (Keys 1981 cubic convolution, A = -0.75 as in PyTorch/OpenCV).
constexpr double kCubicA = -0.75;

// HEVC luma interpolation filter (ITU-T H.265, 8.5.3.3.3.1, Table 8-11): taps for positions -3..+4 around
// the integer sample at fractional offset frac/4.  Each row sums to 64.
PYWLC_HD int hevc_luma_tap(int frac, int k) {
  const int quarter[8] = {-1, 4, -10, 58, 17, -5, 1, 0};
  const int half[8] = {-1, 4, -11, 40, 40, -11, 4, -1};
  switch (frac) {
    case 0:
      return k == 3 ? 64 : 0;
    case 1:
      return quarter[k];
    case 2:
      return half[k];
    default:
      return quarter[7 - k];  // 3/4 is the mirror of 1/4
  }
}

template <typename T, int K>
struct AxisTaps {
  int64_t idx[K];
  T w[K];
  T dw[K];  // d w / d coordinate
};

// Taps of one axis of length n at coordinate c (pixels, align_corners=True).
template <typename T, int Interp>
PYWLC_HD void axis_taps(T c, int64_t n, int padding, AxisTaps<T, WarpTaps<Interp>::k>& a) {
  constexpr int K = WarpTaps<Interp>::k;
  T mask = T(1);  // d(clamped c)/dc
  const T lim = static_cast<T>(n - 1);
  if (Interp == kWarpBilinear && padding == kWarpBorder) {
    // grid_sample clips the coordinate itself for bilinear border padding (zero gradient outside).
    if (!(c >= T(0))) {  // written so that NaN lands here too: memory-safe for any input
      c = T(0);
      mask = T(0);
    } else if (c > lim) {
      c = lim;
      mask = T(0);
    }
  } else {
    // Beyond the filter support every tap is clamped to the edge (border) or zero (zeros): the sample no
    // longer depends on c, so clamping c there changes nothing and keeps the int64 conversion defined.
    const T far = static_cast<T>(K + 2);
    if (!(c >= -far)) {  // NaN lands here too
      c = -far;
      mask = T(0);
    } else if (c > lim + far) {
      c = lim + far;
      mask = T(0);
    }
  }
  // floor() through the int64 conversion (c is bounded above): baseline x86-64 has no SSE4.1 roundss,
  // so floorf would be a libm call per axis and pixel.
  int64_t i0 = static_cast<int64_t>(c);
  if (static_cast<T>(i0) > c) --i0;
  const T t = c - static_cast<T>(i0);
  const int64_t first = i0 - (K / 2 - 1);
  if (Interp == kWarpBilinear) {
    a.w[0] = T(1) - t;
    a.w[1] = t;
    a.dw[0] = T(-1);
    a.dw[1] = T(1);
  } else if (Interp == kWarpBicubic) {
    // Weights of taps i0-1..i0+2 at distances t+1, t, 1-t, 2-t (PyTorch get_cubic_upsample_coefficients).
    const T A = static_cast<T>(kCubicA);
    const T x1 = t + T(1), x2 = t, x3 = T(1) - t, x4 = T(2) - t;
    a.w[0] = ((A * x1 - T(5) * A) * x1 + T(8) * A) * x1 - T(4) * A;
    a.w[1] = ((A + T(2)) * x2 - (A + T(3))) * x2 * x2 + T(1);
    a.w[2] = ((A + T(2)) * x3 - (A + T(3))) * x3 * x3 + T(1);
    a.w[3] = ((A * x4 - T(5) * A) * x4 + T(8) * A) * x4 - T(4) * A;
    a.dw[0] = (T(3) * A * x1 - T(10) * A) * x1 + T(8) * A;
    a.dw[1] = (T(3) * (A + T(2)) * x2 - T(2) * (A + T(3))) * x2;
    a.dw[2] = -((T(3) * (A + T(2)) * x3 - T(2) * (A + T(3))) * x3);
    a.dw[3] = -((T(3) * A * x4 - T(10) * A) * x4 + T(8) * A);
  } else {
    // Quarter-pel positions are exact in binary floating point, so t * 4 is an integer 0..3.
    const int frac = static_cast<int>(t * T(4) + T(0.5)) & 3;
    for (int k = 0; k < K; ++k) {
      a.w[k] = static_cast<T>(hevc_luma_tap(frac, k)) / T(64);
      a.dw[k] = T(0);  // motion vectors get no gradient (they are integers)
    }
  }
  for (int k = 0; k < K; ++k) {
    int64_t idx = first + k;
    if (idx < 0 || idx > n - 1) {
      if (padding == kWarpZeros) {
        a.w[k] = T(0);
        a.dw[k] = T(0);
      }
      idx = idx < 0 ? 0 : n - 1;
    }
    a.idx[k] = idx;
    a.dw[k] *= mask;
  }
}

// Displacement field: dense relative flow (block 1, scale 1) or one vector per block x block tile
// (quarter-pel motion vectors: scale 1/4).  Element (n, ch, y, x) of the field is at
// ptr[n * s[0] + ch * s[1] + (y / block) * s[2] + (x / block) * s[3]].
template <typename T>
struct WarpFlow {
  const T* ptr;
  int64_t s[4];
  int64_t block;
  T scale;
  // Dense flows skip the two integer divisions (they cost as much as a bilinear sample).
  template <bool Dense>
  PYWLC_HD int64_t offset(int64_t n, int64_t y, int64_t x) const {
    return Dense ? n * s[0] + y * s[2] + x * s[3] : n * s[0] + (y / block) * s[2] + (x / block) * s[3];
  }
};

// Image geometry: sizes and element strides of Tensor[N, C, H, W].
struct WarpGeometry {
  int64_t N, C, H, W;
  int64_t s[4];
};

// Forward value of one plane at the taps.
template <typename T, int K>
PYWLC_HD T warp_sample(const T* plane, int64_t sy, int64_t sx, const AxisTaps<T, K>& ax, const AxisTaps<T, K>& ay) {
  T acc = T(0);
  for (int i = 0; i < K; ++i) {
    const T* row = plane + ay.idx[i] * sy;
    T r = T(0);
    for (int j = 0; j < K; ++j) r += ax.w[j] * row[ax.idx[j] * sx];
    acc += ay.w[i] * r;
  }
  return acc;
}

// The K x K taps flattened once per pixel (element offsets and weight products), so the per-channel
// work is K * K loads and multiply-adds.
template <typename T, int K>
struct PixelTaps {
  int64_t off[K * K];
  T w[K * K];
  PYWLC_HD void set(const AxisTaps<T, K>& ax, const AxisTaps<T, K>& ay, int64_t sy, int64_t sx) {
    for (int i = 0; i < K; ++i)
      for (int j = 0; j < K; ++j) {
        off[i * K + j] = ay.idx[i] * sy + ax.idx[j] * sx;
        w[i * K + j] = ay.w[i] * ax.w[j];
      }
  }
  PYWLC_HD T sample(const T* plane) const {
    T acc = T(0);
    for (int k = 0; k < K * K; ++k) acc += w[k] * plane[off[k]];
    return acc;
  }
};

// d sample / d (cx, cy) of one plane at the taps.
template <typename T, int K>
PYWLC_HD void warp_sample_grad(const T* plane, int64_t sy, int64_t sx, const AxisTaps<T, K>& ax,
                               const AxisTaps<T, K>& ay, T& dx, T& dy) {
  T gx = T(0), gy = T(0);
  for (int i = 0; i < K; ++i) {
    const T* row = plane + ay.idx[i] * sy;
    T rw = T(0), rd = T(0);
    for (int j = 0; j < K; ++j) {
      const T v = row[ax.idx[j] * sx];
      rw += ax.w[j] * v;
      rd += ax.dw[j] * v;
    }
    gx += ay.w[i] * rd;
    gy += ay.dw[i] * rw;
  }
  dx = gx;
  dy = gy;
}

}  // namespace pywlc
