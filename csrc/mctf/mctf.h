// Host API of the fused MCTF lifting kernels (pywlc/mctf/_fused.py calls them through bind_mctf.cpp).
//
// One temporal level of N frames has K = N / 2 odd (H) frames and E = (N + 1) / 2 even (L) frames, each
// Tensor[C, H, W] contiguous; a frame sequence is addressed by its base pointer and its frame stride in
// elements (so even / odd frames can be read from or written to an interleaved Tensor[N, C, H, W] in place).
// Side information (from mctf.py's _geometry, contiguous): fields Tensor[K, 2, H, W] float32, weights
// Tensor[K, H, W] float32, connectivity Tensor[K, H, W] uint8 and sources Tensor[K, H, W] int64.
//
// predict: per odd frame k, pixel p: pred = wl * S(even[k], p + fl) [+ wr * S(even[k + 1], p + fr) where
//   k + 1 < E and wr > 0], S = pywlc.ops.warp with border padding; analysis dst = alpha * (src - pred),
//   synthesis dst = src / alpha + pred (integer: src -/+ floor(pred + 1/2), pred in float64).
// update: per even frame j, pixel p: u = [j < K, conn_l] wl[j, s] / 2 * H_j[s] + [1 <= j <= K, conn_r]
//   wr[j-1, s'] / 2 * H_{j-1}[s']; analysis dst = beta * (src + u / alpha), synthesis dst = src / beta - u / alpha
//   (integer: src +/- floor(u + 1/2), u in float64).
// Pointers are raw host/device addresses; no libtorch is linked.
#pragma once

#include <cstdint>
#include <stdexcept>

#include "mctf_common.h"

namespace pywlc {

struct MctfFrames {
  int64_t K, E, C, H, W;
};

struct MctfSeq {
  const void* ptr;
  int64_t stride;  // elements between frames
};

struct MctfOut {
  void* ptr;
  int64_t stride;
};

struct MctfPredictArgs {
  int dtype;      // MctfDtype of even, src, dst
  int interp;     // kWarpBilinear or kWarpBicubic
  bool inverse;   // false: analysis (src = odd, dst = H), true: synthesis (src = H, dst = odd)
  MctfFrames f;
  MctfSeq even;   // E frames
  MctfSeq src;    // K frames
  MctfOut dst;    // K frames
  const float* field_l;  // Tensor[K, 2, H, W]
  const float* field_r;
  const float* wl;       // Tensor[K, H, W]
  const float* wr;
  double alpha;
};

struct MctfUpdateArgs {
  int dtype;
  bool inverse;  // false: analysis (src = even, dst = L), true: synthesis (src = L, dst = even)
  MctfFrames f;
  MctfSeq high;  // K frames
  MctfSeq src;   // E frames
  MctfOut dst;   // E frames
  const float* wl;  // Tensor[K, H, W]
  const float* wr;
  const uint8_t* conn_l;  // Tensor[K, H, W], on the grid of even frame k
  const uint8_t* conn_r;  // Tensor[K, H, W], on the grid of even frame k + 1
  const int64_t* src_l;   // Tensor[K, H, W] raster index into H_k
  const int64_t* src_r;
  double alpha, beta;
};

inline void mctf_validate(int dtype, const MctfFrames& f, int64_t k_total) {
  if (dtype != kMctfFloat32 && dtype != kMctfFloat64 && dtype != kMctfInt32)
    throw std::invalid_argument("dtype must be float32, float64 or int32");
  if (f.K < 0 || f.C < 0 || f.H < 0 || f.W < 0) throw std::invalid_argument("negative size");
  if (f.E != k_total && f.E != k_total + 1) throw std::invalid_argument("even frames must be K or K + 1");
}

inline void mctf_validate(const MctfPredictArgs& a) {
  mctf_validate(a.dtype, a.f, a.f.K);
  if (a.interp != kWarpBilinear && a.interp != kWarpBicubic) throw std::invalid_argument("interp must be bilinear/bicubic");
  if (a.f.K * a.f.C * a.f.H * a.f.W != 0 &&
      (!a.even.ptr || !a.src.ptr || !a.dst.ptr || !a.field_l || !a.field_r || !a.wl || !a.wr))
    throw std::invalid_argument("null pointer");
}

inline void mctf_validate(const MctfUpdateArgs& a) {
  mctf_validate(a.dtype, a.f, a.f.K);
  if (a.f.E * a.f.C * a.f.H * a.f.W != 0 && (!a.src.ptr || !a.dst.ptr)) throw std::invalid_argument("null pointer");
  if (a.f.K * a.f.C * a.f.H * a.f.W != 0 &&
      (!a.high.ptr || !a.wl || !a.wr || !a.conn_l || !a.conn_r || !a.src_l || !a.src_r))
    throw std::invalid_argument("null pointer");
}

// Calls fn.run<S, T>() for the storage type S and compute type T of the runtime dtype (int32 frames
// compute in float64, as mctf.py's integer variant does).
template <typename Fn>
auto mctf_dispatch(int dtype, const Fn& fn) {
  if (dtype == kMctfFloat32) return fn.template run<float, float>();
  if (dtype == kMctfFloat64) return fn.template run<double, double>();
  return fn.template run<int32_t, double>();
}

// Geometry of one level (mctf.py's _geometry): per odd frame k and pixel p, the integer targets
// p + floor(v + 1/2) of both fields, the predict weights wl, wr (out-of-frame references get 0 and the other is
// renormalised; both out: keep the used ones; scene cut: 0) and the first-come-first-served connectivity of
// each reference (conn, and src = the raster index of the first active pixel reaching each reference pixel).
// Inputs: fields Tensor[K, 2, H, W] float32, uses Tensor[K, H, W] uint8, cut / has_right Tensor[K] uint8;
// outputs Tensor[K, H, W]: wl, wr float32, conn uint8, src int64.  All contiguous host memory.
struct MctfGeometryArgs {
  int64_t K, H, W;
  const float *field_l, *field_r;
  const uint8_t *uses_l, *uses_r, *cut, *has_right;
  float *wl, *wr;
  uint8_t *conn_l, *conn_r;
  int64_t *src_l, *src_r;
};

void mctf_geometry_cpu(const MctfGeometryArgs& args);
void mctf_predict_cpu(const MctfPredictArgs& args);
void mctf_update_cpu(const MctfUpdateArgs& args);
#ifdef PYWLC_WITH_CUDA
void mctf_predict_cuda(const MctfPredictArgs& args, void* stream);
void mctf_update_cuda(const MctfUpdateArgs& args, void* stream);
#endif

}  // namespace pywlc
