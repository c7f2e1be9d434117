// Host API of the warping kernels (dense relative flow and block motion vectors), CPU and CUDA.
//
// img Tensor[N, C, H, W] with any element strides; the displacement field Tensor[N, 2, H / block, W / block]
// (channel 0 = x, 1 = y, in pixels times `scale`) with any element strides; outputs are contiguous.
// Pointers are raw host/device addresses; no libtorch is linked.  Math is in the image dtype (fp32/fp64;
// the Python layer runs fp16/bf16 images in fp32).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "warp_common.h"

namespace pywlc {

struct WarpArgs {
  int dtype;    // WarpDtype, of img, flow and every output
  int interp;   // WarpInterp
  int padding;  // WarpPadding
  WarpGeometry g;
  const void* img;   // Tensor[N, C, H, W], strides g.s
  const void* flow;  // Tensor[N, 2, H / block, W / block], strides flow_s
  int64_t flow_s[4];
  int64_t block;
  double scale;
};

struct WarpBackwardArgs {
  const void* grad_out;  // Tensor[N, C, H, W], strides grad_s
  int64_t grad_s[4];
  void* grad_img;   // Tensor[N, C, H, W] contiguous, or null; the kernel overwrites it
  void* grad_flow;  // Tensor[N, 2, H, W] contiguous (dense flow only), or null
  void* workspace;  // CUDA deterministic mode: Tensor[N, C, H, W] int64, else null
  bool deterministic;
};

// Throws std::invalid_argument on a broken invariant (the Python layer checks first, with nicer words).
inline void warp_validate(const WarpArgs& a) {
  if (a.dtype != kWarpFloat32 && a.dtype != kWarpFloat64) throw std::invalid_argument("dtype must be float32/64");
  if (a.interp < kWarpBilinear || a.interp > kWarpHevc8) throw std::invalid_argument("unknown interpolation");
  if (a.padding != kWarpBorder && a.padding != kWarpZeros) throw std::invalid_argument("unknown padding");
  if (a.g.N < 0 || a.g.C < 0 || a.g.H < 0 || a.g.W < 0) throw std::invalid_argument("negative size");
  if (a.block < 1) throw std::invalid_argument("block must be >= 1");
  if (a.g.H % a.block || a.g.W % a.block)
    throw std::invalid_argument("block " + std::to_string(a.block) + " must divide H and W");
  const bool empty = a.g.N * a.g.C * a.g.H * a.g.W == 0;
  if (!empty && (a.img == nullptr || a.flow == nullptr)) throw std::invalid_argument("null img or flow");
}

inline void warp_validate_backward(const WarpArgs& a, const WarpBackwardArgs& b) {
  warp_validate(a);
  if (b.grad_flow != nullptr && a.block != 1) throw std::invalid_argument("grad_flow needs a dense flow");
  if (b.grad_out == nullptr && a.g.N * a.g.C * a.g.H * a.g.W != 0) throw std::invalid_argument("null grad_out");
}

// Calls fn.run<T, Interp, Dense>() for the runtime (dtype, interp, block == 1); both backends use it.
template <typename Fn>
auto warp_dispatch(const WarpArgs& a, const Fn& fn) {
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

// Returns how many output pixels had a non-finite displacement (their output is unspecified; the Python
// layer raises): the check rides along the flow read, so valid input pays no extra pass.
int64_t warp_forward_cpu(const WarpArgs& args, void* out /* Tensor[N, C, H, W] contiguous */);
void warp_backward_cpu(const WarpArgs& args, const WarpBackwardArgs& bwd);
#ifdef PYWLC_WITH_CUDA
void warp_forward_cuda(const WarpArgs& args, void* out /* Tensor[N, C, H, W] contiguous */, void* stream);
void warp_backward_cuda(const WarpArgs& args, const WarpBackwardArgs& bwd, void* stream);
#endif

}  // namespace pywlc
