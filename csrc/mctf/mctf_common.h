// Per-pixel math of the fused MCTF lifting kernels, shared by the CPU and CUDA backends (host and device).
//
// The prediction samples with warp_common.h's axis_taps and the same summation as pywlc.ops.warp's kernels
// (the CPU one flattens the K x K taps, PixelTaps; the CUDA one is separable, warp_sample), so a fused step
// computes bit for bit what mctf.py's composed step computes from warp() on the same backend.  The float
// operation order follows mctf.py: pred = (S_L * w_L) + (S_R * w_R), u = (0 + H_L * (w_L / 2)) + H_R * (w_R / 2).
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "../warp/warp_common.h"

namespace pywlc {

enum MctfDtype : int { kMctfFloat32 = 0, kMctfFloat64 = 1, kMctfInt32 = 2 };

// mctf.py's _round: round half up, as int32.
PYWLC_HD int32_t mctf_round(double v) { return static_cast<int32_t>(floor(v + 0.5)); }

// int32 +/- with two's-complement wrap-around, as torch's int32 arithmetic (no signed-overflow UB).
PYWLC_HD int32_t mctf_wrap_add(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}
PYWLC_HD int32_t mctf_wrap_sub(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) - static_cast<uint32_t>(b));
}

// The lifting steps for storage type S and compute type T (module doc of pywlc/mctf/mctf.py).
template <typename S, typename T>
struct MctfLift {  // float: S == T
  static PYWLC_HD S predict(S v, T pred, T alpha, bool inverse) {
    return inverse ? v / alpha + pred : alpha * (v - pred);
  }
  static PYWLC_HD S update(S v, T u, T alpha, T beta, bool inverse) {
    return inverse ? v / beta - u / alpha : beta * (v + u / alpha);
  }
};

template <>
struct MctfLift<int32_t, double> {  // reversible integer lifting: alpha = beta = 1, rounded pred / u
  static PYWLC_HD int32_t predict(int32_t v, double pred, double, bool inverse) {
    return inverse ? mctf_wrap_add(v, mctf_round(pred)) : mctf_wrap_sub(v, mctf_round(pred));
  }
  static PYWLC_HD int32_t update(int32_t v, double u, double, double, bool inverse) {
    return inverse ? mctf_wrap_sub(v, mctf_round(u)) : mctf_wrap_add(v, mctf_round(u));
  }
};

// Warp taps of pixel (y, x) displaced by field Tensor[2, H, W] (float32, channel 0 = x), border padding:
// warp's coordinate x + scale * fx with scale 1, which is exactly x + fx.
template <typename T, int Interp>
PYWLC_HD void mctf_taps(const float* field, int64_t H, int64_t W, int64_t y, int64_t x,
                        AxisTaps<T, WarpTaps<Interp>::k>& ax, AxisTaps<T, WarpTaps<Interp>::k>& ay) {
  const int64_t p = y * W + x;
  axis_taps<T, Interp>(static_cast<T>(x) + static_cast<T>(field[p]), W, kWarpBorder, ax);
  axis_taps<T, Interp>(static_cast<T>(y) + static_cast<T>(field[H * W + p]), H, kWarpBorder, ay);
}

// One reference's sample of a contiguous plane, as the warp kernel of the backend computes it: Flat is the CPU
// kernel's flattened taps, otherwise the CUDA kernel's separable sum.  int32 planes (the integer variant,
// mctf.py converts the frames to float64 before warping) are converted per tap.
template <typename T, int Interp, bool Flat>
struct MctfSampler {
  static constexpr int K = WarpTaps<Interp>::k;
  AxisTaps<T, K> ax, ay;
  PixelTaps<T, K> pt;
  int64_t W;
  PYWLC_HD void set(const float* field, int64_t H, int64_t w, int64_t y, int64_t x) {
    W = w;
    mctf_taps<T, Interp>(field, H, w, y, x, ax, ay);
    if (Flat) pt.set(ax, ay, w, 1);
  }
  template <typename S>
  PYWLC_HD T operator()(const S* plane) const {
    if constexpr (std::is_same<S, T>::value) {
      if constexpr (Flat) return pt.sample(plane);
      else return warp_sample<T, K>(plane, W, 1, ax, ay);
    } else if constexpr (Flat) {  // PixelTaps::sample with a conversion
      T acc = T(0);
      for (int k = 0; k < K * K; ++k) acc += pt.w[k] * static_cast<T>(plane[pt.off[k]]);
      return acc;
    } else {  // warp_sample with a conversion
      T acc = T(0);
      for (int i = 0; i < K; ++i) {
        const S* row = plane + ay.idx[i] * W;
        T r = T(0);
        for (int j = 0; j < K; ++j) r += ax.w[j] * static_cast<T>(row[ax.idx[j]]);
        acc += ay.w[i] * r;
      }
      return acc;
    }
  }
};

// Predict step of odd frame k at pixel (y, x), all channels (mctf.h gives the equations).
template <typename S, typename T, int Interp, bool Flat, typename Args>
PYWLC_HD void mctf_predict_pixel(const Args& a, int64_t k, int64_t y, int64_t x) {
  const int64_t H = a.f.H, W = a.f.W, hw = H * W, p = y * W + x;
  const T wl = static_cast<T>(a.wl[k * hw + p]), wr = static_cast<T>(a.wr[k * hw + p]);
  // mctf.py adds w_R * S_R only for frames with a right neighbour; w_R = 0 elsewhere adds a zero.
  const bool right = k + 1 < a.f.E && wr > T(0);
  MctfSampler<T, Interp, Flat> sl, sr;
  sl.set(a.field_l + k * 2 * hw, H, W, y, x);
  if (right) sr.set(a.field_r + k * 2 * hw, H, W, y, x);
  const S* el = static_cast<const S*>(a.even.ptr) + k * a.even.stride;
  const S* er = el + a.even.stride;
  const S* src = static_cast<const S*>(a.src.ptr) + k * a.src.stride + p;
  S* dst = static_cast<S*>(a.dst.ptr) + k * a.dst.stride + p;
  const T alpha = static_cast<T>(a.alpha);
  for (int64_t c = 0; c < a.f.C; ++c) {
    T pred = sl(el + c * hw) * wl;
    if (right) pred += sr(er + c * hw) * wr;
    dst[c * hw] = MctfLift<S, T>::predict(src[c * hw], pred, alpha, a.inverse);
  }
}

// Update step of even frame j at raster pixel p, all channels: H_j and H_{j-1} carried back from their
// connectivity sources (mctf.py's _update / _carry; unconnected sides add nothing).
template <typename S, typename T, typename Args>
PYWLC_HD void mctf_update_pixel(const Args& a, int64_t j, int64_t p) {
  const int64_t hw = a.f.H * a.f.W, K = a.f.K;
  const S* high = static_cast<const S*>(a.high.ptr);
  const S* hl = nullptr;
  const S* hr = nullptr;
  T gl = T(0), gr = T(0);
  if (j < K && a.conn_l[j * hw + p]) {  // H_j -> x_{2j} along its left vectors
    const int64_t s = a.src_l[j * hw + p];
    hl = high + j * a.high.stride + s;
    gl = static_cast<T>(a.wl[j * hw + s]) * T(0.5);
  }
  if (j >= 1 && j - 1 < K && a.conn_r[(j - 1) * hw + p]) {  // H_{j-1} -> x_{2j} along its right vectors
    const int64_t s = a.src_r[(j - 1) * hw + p];
    hr = high + (j - 1) * a.high.stride + s;
    gr = static_cast<T>(a.wr[(j - 1) * hw + s]) * T(0.5);
  }
  const S* src = static_cast<const S*>(a.src.ptr) + j * a.src.stride + p;
  S* dst = static_cast<S*>(a.dst.ptr) + j * a.dst.stride + p;
  const T alpha = static_cast<T>(a.alpha), beta = static_cast<T>(a.beta);
  for (int64_t c = 0; c < a.f.C; ++c) {
    T u = T(0);
    if (hl) u += static_cast<T>(hl[c * hw]) * gl;
    if (hr) u += static_cast<T>(hr[c * hw]) * gr;
    dst[c * hw] = MctfLift<S, T>::update(src[c * hw], u, alpha, beta, a.inverse);
  }
}

}  // namespace pywlc
