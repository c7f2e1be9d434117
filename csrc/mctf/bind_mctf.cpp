// pybind11 definitions of the fused MCTF lifting family (pywlc/mctf/_fused.py calls these).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>

#include "../bind_registry.h"
#include "mctf.h"

namespace py = pybind11;

namespace {

using Frames = std::array<int64_t, 5>;  // K, E, C, H, W

pywlc::MctfFrames frames_of(const Frames& s) { return pywlc::MctfFrames{s[0], s[1], s[2], s[3], s[4]}; }

template <typename P>
const P* cptr(uintptr_t p) {
  return reinterpret_cast<const P*>(p);
}

pywlc::MctfPredictArgs predict_args(int dtype, int interp, bool inverse, const Frames& frames, uintptr_t even,
                                    int64_t even_stride, uintptr_t src, int64_t src_stride, uintptr_t dst,
                                    int64_t dst_stride, uintptr_t field_l, uintptr_t field_r, uintptr_t wl,
                                    uintptr_t wr, double alpha) {
  pywlc::MctfPredictArgs a{dtype,
                           interp,
                           inverse,
                           frames_of(frames),
                           {cptr<void>(even), even_stride},
                           {cptr<void>(src), src_stride},
                           {reinterpret_cast<void*>(dst), dst_stride},
                           cptr<float>(field_l),
                           cptr<float>(field_r),
                           cptr<float>(wl),
                           cptr<float>(wr),
                           alpha};
  pywlc::mctf_validate(a);  // while holding the GIL, so errors surface as ValueError
  return a;
}

pywlc::MctfUpdateArgs update_args(int dtype, bool inverse, const Frames& frames, uintptr_t high,
                                  int64_t high_stride, uintptr_t src, int64_t src_stride, uintptr_t dst,
                                  int64_t dst_stride, uintptr_t wl, uintptr_t wr, uintptr_t conn_l, uintptr_t conn_r,
                                  uintptr_t src_l, uintptr_t src_r, double alpha, double beta) {
  pywlc::MctfUpdateArgs a{dtype,
                          inverse,
                          frames_of(frames),
                          {cptr<void>(high), high_stride},
                          {cptr<void>(src), src_stride},
                          {reinterpret_cast<void*>(dst), dst_stride},
                          cptr<float>(wl),
                          cptr<float>(wr),
                          cptr<uint8_t>(conn_l),
                          cptr<uint8_t>(conn_r),
                          cptr<int64_t>(src_l),
                          cptr<int64_t>(src_r),
                          alpha,
                          beta};
  pywlc::mctf_validate(a);
  return a;
}

}  // namespace

PYWLC_REGISTER_BINDINGS(mctf) {
  m.def(
      "mctf_geometry_cpu",
      [](int64_t k, int64_t h, int64_t w, uintptr_t field_l, uintptr_t field_r, uintptr_t uses_l, uintptr_t uses_r,
         uintptr_t cut, uintptr_t has_right, uintptr_t wl, uintptr_t wr, uintptr_t conn_l, uintptr_t src_l,
         uintptr_t conn_r, uintptr_t src_r) {
        const pywlc::MctfGeometryArgs a{k,
                                        h,
                                        w,
                                        cptr<float>(field_l),
                                        cptr<float>(field_r),
                                        cptr<uint8_t>(uses_l),
                                        cptr<uint8_t>(uses_r),
                                        cptr<uint8_t>(cut),
                                        cptr<uint8_t>(has_right),
                                        reinterpret_cast<float*>(wl),
                                        reinterpret_cast<float*>(wr),
                                        reinterpret_cast<uint8_t*>(conn_l),
                                        reinterpret_cast<uint8_t*>(conn_r),
                                        reinterpret_cast<int64_t*>(src_l),
                                        reinterpret_cast<int64_t*>(src_r)};
        py::gil_scoped_release release;
        pywlc::mctf_geometry_cpu(a);
      },
      "Predict weights and connectivity of one MCTF level (host memory, see mctf.h).");
  m.def(
      "mctf_predict_cpu",
      [](int dtype, int interp, bool inverse, Frames frames, uintptr_t even, int64_t even_stride, uintptr_t src,
         int64_t src_stride, uintptr_t dst, int64_t dst_stride, uintptr_t field_l, uintptr_t field_r, uintptr_t wl,
         uintptr_t wr, double alpha) {
        const auto a = predict_args(dtype, interp, inverse, frames, even, even_stride, src, src_stride, dst,
                                    dst_stride, field_l, field_r, wl, wr, alpha);
        py::gil_scoped_release release;
        pywlc::mctf_predict_cpu(a);
      },
      "Fused MCTF predict + lift of K odd frames (frames = [K, E, C, H, W]; sequences by pointer and frame "
      "stride): analysis H = alpha * (odd - pred), synthesis odd = H / alpha + pred (int32: rounded pred).");
  m.def(
      "mctf_update_cpu",
      [](int dtype, bool inverse, Frames frames, uintptr_t high, int64_t high_stride, uintptr_t src,
         int64_t src_stride, uintptr_t dst, int64_t dst_stride, uintptr_t wl, uintptr_t wr, uintptr_t conn_l,
         uintptr_t conn_r, uintptr_t src_l, uintptr_t src_r, double alpha, double beta) {
        const auto a = update_args(dtype, inverse, frames, high, high_stride, src, src_stride, dst, dst_stride, wl,
                                   wr, conn_l, conn_r, src_l, src_r, alpha, beta);
        py::gil_scoped_release release;
        pywlc::mctf_update_cpu(a);
      },
      "Fused MCTF update + lift of E even frames: analysis L = beta * (even + u / alpha), synthesis "
      "even = L / beta - u / alpha (int32: rounded u).");
#ifdef PYWLC_WITH_CUDA
  m.def(
      "mctf_predict_cuda",
      [](int dtype, int interp, bool inverse, Frames frames, uintptr_t even, int64_t even_stride, uintptr_t src,
         int64_t src_stride, uintptr_t dst, int64_t dst_stride, uintptr_t field_l, uintptr_t field_r, uintptr_t wl,
         uintptr_t wr, double alpha, uintptr_t stream) {
        const auto a = predict_args(dtype, interp, inverse, frames, even, even_stride, src, src_stride, dst,
                                    dst_stride, field_l, field_r, wl, wr, alpha);
        py::gil_scoped_release release;
        pywlc::mctf_predict_cuda(a, reinterpret_cast<void*>(stream));
      },
      "mctf_predict_cpu on device memory, enqueued on `stream` (a cudaStream_t as int).");
  m.def(
      "mctf_update_cuda",
      [](int dtype, bool inverse, Frames frames, uintptr_t high, int64_t high_stride, uintptr_t src,
         int64_t src_stride, uintptr_t dst, int64_t dst_stride, uintptr_t wl, uintptr_t wr, uintptr_t conn_l,
         uintptr_t conn_r, uintptr_t src_l, uintptr_t src_r, double alpha, double beta, uintptr_t stream) {
        const auto a = update_args(dtype, inverse, frames, high, high_stride, src, src_stride, dst, dst_stride, wl,
                                   wr, conn_l, conn_r, src_l, src_r, alpha, beta);
        py::gil_scoped_release release;
        pywlc::mctf_update_cuda(a, reinterpret_cast<void*>(stream));
      },
      "mctf_update_cpu on device memory, enqueued on `stream`.");
#endif
}
