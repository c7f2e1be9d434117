// pybind11 definitions of the DWT family (pywlc/ops/dwt.py calls these).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "../bind_checks.h"
#include "../bind_registry.h"
#include "dwt.h"

namespace py = pybind11;

namespace {

pywlc::DwtArgs make_dwt_args(uintptr_t src, uintptr_t dst, int dtype, int64_t batch,
                             const std::array<int64_t, 3>& dims, int ndim, int levels, int mode, int op,
                             const std::vector<double>& steps, double k_low, double k_high, bool zero_tail,
                             bool integer) {
  pywlc::DwtArgs a;
  a.src = reinterpret_cast<const void*>(src);
  a.dst = reinterpret_cast<void*>(dst);
  a.dtype = dtype;
  a.batch = batch;
  for (int k = 0; k < 3; ++k) a.dims[k] = dims[k];
  a.ndim = ndim;
  a.levels = levels;
  a.mode = mode;
  a.op = op;
  a.steps = steps;
  a.k_low = k_low;
  a.k_high = k_high;
  a.zero_tail = zero_tail;
  a.integer = integer;
  pywlc::dwt_plan(a);  // validate while holding the GIL so errors surface as ValueError
  // Second line of defence (csrc/bind_checks.h): the element count fits, both buffers are non-null and aligned.
  const int64_t es = dtype == pywlc::kFloat64 ? 8 : (dtype == pywlc::kFloat16 || dtype == pywlc::kBFloat16) ? 2 : 4;
  const int64_t n = pywlc::checked_numel({batch, dims[0], dims[1], dims[2]}, es, "dwt");
  pywlc::check_ptr(src, n, es, "dwt src");
  pywlc::check_ptr(dst, n, es, "dwt dst");
  return a;
}

}  // namespace

PYWLC_REGISTER_BINDINGS(dwt) {
  m.def(
      "dwt_cpu",
      [](uintptr_t src, uintptr_t dst, int dtype, int64_t batch, std::array<int64_t, 3> dims, int ndim,
         int levels, int mode, int op, std::vector<double> steps, double k_low, double k_high, bool zero_tail,
         bool integer) {
        auto a = make_dwt_args(src, dst, dtype, batch, dims, ndim, levels, mode, op, steps, k_low, k_high,
                               zero_tail, integer);
        py::gil_scoped_release release;
        pywlc::dwt_cpu(a);
      },
      "Multi-level lifting DWT on host memory, Tensor[B, D0, D1, D2] -> same (packed layout).");
  m.def(
      "dwt_cpu_isa",
      [](const std::string& set) {
        if (!set.empty() && !pywlc::dwt2_fused_set_isa(set))
          throw std::invalid_argument("instruction set '" + set + "' is not compiled in or not run by this CPU");
        py::dict d;
        d["selected"] = pywlc::dwt2_fused_isa();
        d["supported"] = pywlc::dwt2_fused_isas_supported();
        return d;
      },
      py::arg("set") = "",
      "The fused CPU DWT's instruction set: {'selected', 'supported'}; `set` switches it (tests, benchmarks).");
#ifdef PYWLC_WITH_CUDA
  m.def(
      "dwt_cuda",
      [](uintptr_t src, uintptr_t dst, int dtype, int64_t batch, std::array<int64_t, 3> dims, int ndim,
         int levels, int mode, int op, std::vector<double> steps, double k_low, double k_high, bool zero_tail,
         bool integer, uintptr_t stream) {
        auto a = make_dwt_args(src, dst, dtype, batch, dims, ndim, levels, mode, op, steps, k_low, k_high,
                               zero_tail, integer);
        py::gil_scoped_release release;
        pywlc::dwt_cuda(a, reinterpret_cast<void*>(stream));
      },
      "Multi-level lifting DWT on device memory, enqueued on `stream` (a cudaStream_t as int).");
#endif
}
