// pybind11 definitions of the warping family (pywlc/ops/warp.py calls these).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>

#include "../bind_checks.h"
#include "../bind_registry.h"
#include "warp.h"

namespace py = pybind11;

namespace {

using Shape4 = std::array<int64_t, 4>;

pywlc::WarpArgs make_warp_args(int dtype, int interp, int padding, const Shape4& sizes, uintptr_t img,
                               const Shape4& img_strides, uintptr_t flow, const Shape4& flow_strides, int64_t block,
                               double scale) {
  pywlc::WarpArgs a;
  a.dtype = dtype;
  a.interp = interp;
  a.padding = padding;
  a.g = pywlc::WarpGeometry{sizes[0], sizes[1], sizes[2], sizes[3], {0, 0, 0, 0}};
  for (int k = 0; k < 4; ++k) {
    a.g.s[k] = img_strides[k];
    a.flow_s[k] = flow_strides[k];
  }
  a.img = reinterpret_cast<const void*>(img);
  a.flow = reinterpret_cast<const void*>(flow);
  a.block = block;
  a.scale = scale;
  pywlc::warp_validate(a);  // while holding the GIL, so errors surface as ValueError
  // Second line of defence (csrc/bind_checks.h): the element count fits, strides are not negative, img aligned.
  const int64_t es = dtype == pywlc::kWarpFloat64 ? 8 : 4;
  const int64_t n = pywlc::checked_numel({sizes[0], sizes[1], sizes[2], sizes[3]}, es, "warp img");
  for (int k = 0; k < 4; ++k)
    if (img_strides[k] < 0 || flow_strides[k] < 0) throw std::invalid_argument("warp: negative stride");
  pywlc::check_ptr(img, n, es, "warp img");
  return a;
}

pywlc::WarpBackwardArgs make_backward_args(const pywlc::WarpArgs& a, uintptr_t grad_out, const Shape4& grad_strides,
                                           uintptr_t grad_img, uintptr_t grad_flow, uintptr_t workspace,
                                           bool deterministic) {
  pywlc::WarpBackwardArgs b;
  b.grad_out = reinterpret_cast<const void*>(grad_out);
  for (int k = 0; k < 4; ++k) b.grad_s[k] = grad_strides[k];
  b.grad_img = reinterpret_cast<void*>(grad_img);
  b.grad_flow = reinterpret_cast<void*>(grad_flow);
  b.workspace = reinterpret_cast<void*>(workspace);
  b.deterministic = deterministic;
  pywlc::warp_validate_backward(a, b);
  return b;
}

// The contiguous output Tensor[N, C, H, W]: non-null and aligned when non-empty.
void check_out(const pywlc::WarpArgs& a, uintptr_t out) {
  const int64_t es = a.dtype == pywlc::kWarpFloat64 ? 8 : 4;
  pywlc::check_ptr(out, a.g.N * a.g.C * a.g.H * a.g.W, es, "warp out");
}

}  // namespace

PYWLC_REGISTER_BINDINGS(warp) {
  m.def(
      "warp_forward_cpu",
      [](int dtype, int interp, int padding, Shape4 sizes, uintptr_t img, Shape4 img_strides, uintptr_t flow,
         Shape4 flow_strides, int64_t block, double scale, uintptr_t out) {
        const auto a = make_warp_args(dtype, interp, padding, sizes, img, img_strides, flow, flow_strides, block,
                                      scale);
        check_out(a, out);
        py::gil_scoped_release release;
        return pywlc::warp_forward_cpu(a, reinterpret_cast<void*>(out));
      },
      "Warp host img Tensor[N, C, H, W] by a displacement field -> out Tensor[N, C, H, W] (contiguous); returns "
      "the number of pixels whose displacement is not finite.");
  m.def(
      "warp_backward_cpu",
      [](int dtype, int interp, int padding, Shape4 sizes, uintptr_t img, Shape4 img_strides, uintptr_t flow,
         Shape4 flow_strides, int64_t block, double scale, uintptr_t grad_out, Shape4 grad_strides,
         uintptr_t grad_img, uintptr_t grad_flow, bool deterministic) {
        const auto a = make_warp_args(dtype, interp, padding, sizes, img, img_strides, flow, flow_strides, block,
                                      scale);
        const auto b = make_backward_args(a, grad_out, grad_strides, grad_img, grad_flow, 0, deterministic);
        py::gil_scoped_release release;
        pywlc::warp_backward_cpu(a, b);
      },
      "Gradients of warp_forward_cpu: grad_img Tensor[N, C, H, W] and/or grad_flow Tensor[N, 2, H, W] (0 = skip).");
#ifdef PYWLC_WITH_CUDA
  m.def(
      "warp_forward_cuda",
      [](int dtype, int interp, int padding, Shape4 sizes, uintptr_t img, Shape4 img_strides, uintptr_t flow,
         Shape4 flow_strides, int64_t block, double scale, uintptr_t out, uintptr_t stream) {
        const auto a = make_warp_args(dtype, interp, padding, sizes, img, img_strides, flow, flow_strides, block,
                                      scale);
        check_out(a, out);
        py::gil_scoped_release release;
        pywlc::warp_forward_cuda(a, reinterpret_cast<void*>(out), reinterpret_cast<void*>(stream));
      },
      "warp_forward_cpu on device memory, enqueued on `stream` (a cudaStream_t as int).");
  m.def(
      "warp_backward_cuda",
      [](int dtype, int interp, int padding, Shape4 sizes, uintptr_t img, Shape4 img_strides, uintptr_t flow,
         Shape4 flow_strides, int64_t block, double scale, uintptr_t grad_out, Shape4 grad_strides,
         uintptr_t grad_img, uintptr_t grad_flow, uintptr_t workspace, bool deterministic, uintptr_t stream) {
        const auto a = make_warp_args(dtype, interp, padding, sizes, img, img_strides, flow, flow_strides, block,
                                      scale);
        const auto b = make_backward_args(a, grad_out, grad_strides, grad_img, grad_flow, workspace, deterministic);
        py::gil_scoped_release release;
        pywlc::warp_backward_cuda(a, b, reinterpret_cast<void*>(stream));
      },
      "warp_backward_cpu on device memory; deterministic=True needs an int64 workspace Tensor[N, C, H, W].");
#endif
}
