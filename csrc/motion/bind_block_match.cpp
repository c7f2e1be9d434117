// pybind11 definitions of fixed-grid block matching (pywlc/motion/block_match.py calls these).
#include <pybind11/pybind11.h>

#include <cstdint>

#include "../bind_checks.h"
#include "../bind_registry.h"
#include "block_match.h"

namespace py = pybind11;

namespace {

pywlc::BlockMatchArgs make_args(int64_t n, int64_t h, int64_t w, uintptr_t cur, uintptr_t ref, int block, int range,
                                int subpel, int64_t lam16, uintptr_t mvs, uintptr_t sad) {
  pywlc::BlockMatchArgs a;
  a.N = n;
  a.H = h;
  a.W = w;
  a.cur = reinterpret_cast<const uint8_t*>(cur);
  a.ref = reinterpret_cast<const uint8_t*>(ref);
  a.block = block;
  a.range = range;
  a.subpel = subpel;
  a.lam16 = lam16;
  a.mvs = reinterpret_cast<int32_t*>(mvs);
  a.sad = reinterpret_cast<int32_t*>(sad);
  pywlc::block_match_validate(a);  // with the GIL held: errors surface as ValueError
  // Second line of defence (csrc/bind_checks.h): the frames' element count fits; int32 outputs aligned.
  pywlc::checked_numel({a.N, a.H, a.W}, 4, "block_match frames");
  if (mvs % alignof(int32_t) != 0 || sad % alignof(int32_t) != 0)
    throw std::invalid_argument("block_match: output pointers not aligned to 4 bytes");
  return a;
}

}  // namespace

PYWLC_REGISTER_BINDINGS(block_match) {
  m.def(
      "block_match_cpu",
      [](int64_t n, int64_t h, int64_t w, uintptr_t cur, uintptr_t ref, int block, int range, int subpel,
         int64_t lam16, uintptr_t mvs, uintptr_t sad, int threads) {
        const auto a = make_args(n, h, w, cur, ref, block, range, subpel, lam16, mvs, sad);
        py::gil_scoped_release release;
        pywlc::block_match_cpu(a, threads);
      },
      "Block matching of host uint8 cur/ref Tensor[N, H, W] (contiguous) -> mvs Tensor[N, 2, Hb, Wb] int32 "
      "(quarter-pel x, y) and sad Tensor[N, Hb, Wb] int32.");
#ifdef PYWLC_WITH_CUDA
  m.def(
      "block_match_cuda",
      [](int64_t n, int64_t h, int64_t w, uintptr_t cur, uintptr_t ref, int block, int range, int subpel,
         int64_t lam16, uintptr_t mvs, uintptr_t sad, uintptr_t stream) {
        const auto a = make_args(n, h, w, cur, ref, block, range, subpel, lam16, mvs, sad);
        py::gil_scoped_release release;
        pywlc::block_match_cuda(a, reinterpret_cast<void*>(stream));
      },
      "block_match_cpu on device memory, enqueued on `stream` (a cudaStream_t as int).");
#endif
}
