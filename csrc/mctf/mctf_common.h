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

#include "../abi.h"  // MctfDtype
#include "../warp/warp_common.h"

namespace pywlc {

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
// kernel's flattened taps (PixelTaps), otherwise the CUDA kernel's separable sum (warp_sample).  int32 planes (the
// integer variant: mctf.py converts the frames to float64 before warping) are converted per tap.
template <typename T, int Interp, bool Flat>
struct MctfSampler;

template <typename T, int Interp>
struct MctfSampler<T, Interp, true> {
  static constexpr int K = WarpTaps<Interp>::k;
  PixelTaps<T, K> pt;
  PYWLC_HD void set(const float* field, int64_t H, int64_t W, int64_t y, int64_t x) {
    AxisTaps<T, K> ax, ay;
    mctf_taps<T, Interp>(field, H, W, y, x, ax, ay);
    pt.set(ax, ay, W, 1);
  }
  template <typename S>
  PYWLC_HD T operator()(const S* plane) const {
    if constexpr (std::is_same<S, T>::value) {
      return pt.sample(plane);
    } else {  // PixelTaps::sample with a conversion
      T acc = T(0);
      for (int k = 0; k < K * K; ++k) acc += pt.w[k] * static_cast<T>(plane[pt.off[k]]);
      return acc;
    }
  }
};

template <typename T, int Interp>
struct MctfSampler<T, Interp, false> {
  static constexpr int K = WarpTaps<Interp>::k;
  AxisTaps<T, K> ax, ay;
  int64_t W;
  PYWLC_HD void set(const float* field, int64_t H, int64_t w, int64_t y, int64_t x) {
    W = w;
    mctf_taps<T, Interp>(field, H, w, y, x, ax, ay);
  }
  template <typename S>
  PYWLC_HD T operator()(const S* plane) const {
    if constexpr (std::is_same<S, T>::value) {
      return warp_sample<T, K>(plane, W, 1, ax, ay);
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

// Predict step of odd frame k at one pixel (mctf.h gives the equations): set() reads the side information
// once, value() computes one channel's prediction and lift() applies the step.  Split so the CPU kernel can set a
// run of pixels, then stream each channel plane over it, gathering the whole run before storing any of it: the
// planes are often a multiple of 4 KiB apart, and a gather at the page offset of a pending store would wait for
// it (4K aliasing).  `right`: whether to add w_R * S_R, decided by the caller (per pixel on CUDA; per run of pixels
// on the CPU, so the branch is predictable) among the pixels of frames with a right neighbour; adding it where
// w_R = 0 adds a zero, as mctf.py does for those frames.
template <typename T, int Interp, bool Flat>
struct MctfPredictPixel {
  MctfSampler<T, Interp, Flat> sl, sr;
  T wl, wr;
  int64_t p;
  bool right;
  template <typename Args>
  PYWLC_HD void set(const Args& a, int64_t k, int64_t y, int64_t x, bool use_right) {
    const int64_t H = a.f.H, W = a.f.W, hw = H * W;
    p = y * W + x;
    wl = static_cast<T>(a.wl[k * hw + p]);
    wr = static_cast<T>(a.wr[k * hw + p]);
    right = use_right;
    sl.set(a.field_l + k * 2 * hw, H, W, y, x);
    if (right) sr.set(a.field_r + k * 2 * hw, H, W, y, x);
  }
  // The prediction of channel c.
  template <typename S, typename Args>
  PYWLC_HD T value(const Args& a, int64_t k, int64_t c) const {
    const S* el = static_cast<const S*>(a.even.ptr) + k * a.even.stride + c * a.f.H * a.f.W;
    T pred = sl(el) * wl;
    if (right) pred += sr(el + a.even.stride) * wr;
    return pred;
  }
  // The lifting step of channel c with its prediction.
  template <typename S, typename Args>
  PYWLC_HD void lift(const Args& a, int64_t k, int64_t c, T pred) const {
    const int64_t plane = c * a.f.H * a.f.W;
    const S v = static_cast<const S*>(a.src.ptr)[k * a.src.stride + plane + p];
    static_cast<S*>(a.dst.ptr)[k * a.dst.stride + plane + p] =
        MctfLift<S, T>::predict(v, pred, static_cast<T>(a.alpha), a.inverse);
  }
};

// Update step of even frame j at one pixel: H_j and H_{j-1} carried back from their connectivity sources
// (mctf.py's _update / _carry).  Branch-free in the random connectivity masks: an unconnected side reads its
// source 0 with weight 0, which adds a zero (mctf.py multiplies by the mask); only the per-frame existence of
// H_j / H_{j-1} branches.  set() / value() / lift() as MctfPredictPixel.
template <typename T>
struct MctfUpdatePixel {
  int64_t ol, orr, p;  // offsets of the carried samples in the H sequence (channel 0)
  T gl, gr;
  bool hl, hr;  // H_j / H_{j-1} exist
  template <typename Args>
  PYWLC_HD void set(const Args& a, int64_t j, int64_t pixel) {
    const int64_t hw = a.f.H * a.f.W, K = a.f.K;
    p = pixel;
    hl = j < K;  // H_j -> x_{2j} along its left vectors
    hr = j >= 1 && j - 1 < K;  // H_{j-1} -> x_{2j} along its right vectors
    ol = orr = 0;
    gl = gr = T(0);
    if (hl) {
      const int64_t q = j * hw + p, s = a.src_l[q];  // 0 where unconnected
      ol = j * a.high.stride + s;
      gl = a.conn_l[q] ? static_cast<T>(a.wl[j * hw + s]) * T(0.5) : T(0);
    }
    if (hr) {
      const int64_t q = (j - 1) * hw + p, s = a.src_r[q];
      orr = (j - 1) * a.high.stride + s;
      gr = a.conn_r[q] ? static_cast<T>(a.wr[(j - 1) * hw + s]) * T(0.5) : T(0);
    }
  }
  // The carried update u of channel c.
  template <typename S, typename Args>
  PYWLC_HD T value(const Args& a, int64_t c) const {
    const S* high = static_cast<const S*>(a.high.ptr) + c * a.f.H * a.f.W;
    T u = T(0);
    if (hl) u += static_cast<T>(high[ol]) * gl;
    if (hr) u += static_cast<T>(high[orr]) * gr;
    return u;
  }
  // The lifting step of channel c with its update.
  template <typename S, typename Args>
  PYWLC_HD void lift(const Args& a, int64_t j, int64_t c, T u) const {
    const int64_t plane = c * a.f.H * a.f.W;
    const S v = static_cast<const S*>(a.src.ptr)[j * a.src.stride + plane + p];
    static_cast<S*>(a.dst.ptr)[j * a.dst.stride + plane + p] =
        MctfLift<S, T>::update(v, u, static_cast<T>(a.alpha), static_cast<T>(a.beta), a.inverse);
  }
};

}  // namespace pywlc
