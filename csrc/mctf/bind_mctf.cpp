// pybind11 definitions of the fused MCTF lifting family (pywlc/mctf/_fused.py calls these).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <tuple>

#include "../bind_checks.h"
#include "../bind_registry.h"
#include "mctf.h"

namespace py = pybind11;

namespace {

using Frames = std::array<int64_t, 5>;  // K, E, C, H, W

pywlc::MctfFrames frames_of(const Frames& s) { return pywlc::MctfFrames{s[0], s[1], s[2], s[3], s[4]}; }

// Second line of defence (csrc/bind_checks.h): the element counts fit, pointers are non-null and aligned, and
// frames of C x H x W addressed by pointer + frame stride do not overlap.  `frames` = [K, E, C, H, W]; `a` has
// E frames, `b` and `c` K frames.
void check_sequences(int dtype, const Frames& frames, uintptr_t a, int64_t a_stride, uintptr_t b, int64_t b_stride,
                     uintptr_t c, int64_t c_stride) {
  const int64_t es = dtype == pywlc::kMctfFloat64 ? 8 : 4;
  const int64_t plane = pywlc::checked_numel({frames[2], frames[3], frames[4]}, es, "mctf frame");
  pywlc::checked_numel({std::max(frames[0], frames[1]), frames[2], frames[3], frames[4]}, es, "mctf frames");
  pywlc::check_frame_stride(frames[1], a_stride, plane, "mctf sequence");
  pywlc::check_frame_stride(frames[0], b_stride, plane, "mctf sequence");
  pywlc::check_frame_stride(frames[0], c_stride, plane, "mctf sequence");
  pywlc::check_ptr(a, frames[1] * plane, es, "mctf frames");
  pywlc::check_ptr(b, frames[0] * plane, es, "mctf frames");
  pywlc::check_ptr(c, frames[0] * plane, es, "mctf frames");
}

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
  check_sequences(dtype, frames, even, even_stride, src, src_stride, dst, dst_stride);
  const int64_t side = pywlc::checked_numel({frames[0], frames[3], frames[4]}, 8, "mctf_predict side information");
  for (const auto& [p, n, what] : {std::tuple{field_l, 2 * side, "field_l"}, std::tuple{field_r, 2 * side, "field_r"},
                                   std::tuple{wl, side, "wl"}, std::tuple{wr, side, "wr"}})
    pywlc::check_ptr(p, n, alignof(float), what);
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
  // The update reads H frames (K of them) and writes / reads E even frames: `high` is the K-frame sequence.
  check_sequences(dtype, Frames{frames[0], frames[0], frames[2], frames[3], frames[4]}, high, high_stride, high,
                  high_stride, high, high_stride);
  check_sequences(dtype, Frames{frames[1], frames[1], frames[2], frames[3], frames[4]}, src, src_stride, src,
                  src_stride, dst, dst_stride);
  const int64_t side = pywlc::checked_numel({frames[0], frames[3], frames[4]}, 8, "mctf_update side information");
  for (const auto& [p, n, al, what] :
       {std::tuple{wl, side, alignof(float), "wl"}, std::tuple{wr, side, alignof(float), "wr"},
        std::tuple{conn_l, side, std::size_t{1}, "conn_l"}, std::tuple{conn_r, side, std::size_t{1}, "conn_r"},
        std::tuple{src_l, side, alignof(int64_t), "src_l"}, std::tuple{src_r, side, alignof(int64_t), "src_r"}})
    pywlc::check_ptr(p, n, al, what);
  return a;
}

// Host-side value checks of the update's gather indices: every src in [0, H * W) (the kernel reads H_k there).
void check_update_indices(const Frames& frames, uintptr_t src_l, uintptr_t src_r) {
  const int64_t hw = frames[3] * frames[4];
  const int64_t n = frames[0] * hw;
  if (n == 0 || frames[2] == 0) return;
  pywlc::check_host_indices(cptr<int64_t>(src_l), n, hw, "mctf_update src_l");
  pywlc::check_host_indices(cptr<int64_t>(src_r), n, hw, "mctf_update src_r");
}

}  // namespace

PYWLC_REGISTER_BINDINGS(mctf) {
  m.def(
      "mctf_geometry_cpu",
      [](int64_t k, int64_t h, int64_t w, uintptr_t field_l, uintptr_t field_r, uintptr_t uses_l, uintptr_t uses_r,
         uintptr_t cut, uintptr_t has_right, uintptr_t wl, uintptr_t wr, uintptr_t conn_l, uintptr_t src_l,
         uintptr_t conn_r, uintptr_t src_r) {
        const int64_t n = pywlc::checked_numel({k, h, w}, 8, "mctf_geometry");
        for (const auto& [p, m, al, what] :
             {std::tuple{field_l, 2 * n, alignof(float), "field_l"}, std::tuple{field_r, 2 * n, alignof(float), "field_r"},
              std::tuple{uses_l, n, std::size_t{1}, "uses_l"}, std::tuple{uses_r, n, std::size_t{1}, "uses_r"},
              std::tuple{cut, k, std::size_t{1}, "cut"}, std::tuple{has_right, k, std::size_t{1}, "has_right"},
              std::tuple{wl, n, alignof(float), "wl"}, std::tuple{wr, n, alignof(float), "wr"},
              std::tuple{conn_l, n, std::size_t{1}, "conn_l"}, std::tuple{conn_r, n, std::size_t{1}, "conn_r"},
              std::tuple{src_l, n, alignof(int64_t), "src_l"}, std::tuple{src_r, n, alignof(int64_t), "src_r"}})
          pywlc::check_ptr(p, m, al, what);
        // The kernel turns p + floor(v + 1/2) into raster indices: finite vectors within 2^22 pixels
        // (pywlc/mctf/_validate.py MAX_VECTOR) keep that exact and in range of the int64 conversion.
        if (n > 0) {
          pywlc::check_host_vectors(cptr<float>(field_l), 2 * n, 4194304.0f, "mctf_geometry field_l");
          pywlc::check_host_vectors(cptr<float>(field_r), 2 * n, 4194304.0f, "mctf_geometry field_r");
        }
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
        check_update_indices(frames, src_l, src_r);
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
