// pywlc._C: build information, and every family's definitions (csrc/<family>/bind_<family>.cpp,
// collected through bind_registry.h).  Raw pointers travel as integers; the Python layer
// (pywlc/ops/*.py) validates, allocates and registers the torch ops.
#include <pybind11/pybind11.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "abi.h"
#include "bind_registry.h"

namespace py = pybind11;

namespace {

py::dict build_info() {
  py::dict d;
  d["version"] = PYWLC_VERSION;
#ifdef PYWLC_WITH_CUDA
  d["cuda"] = true;
  d["cuda_version"] = PYWLC_CUDA_VERSION;
  d["cuda_archs"] = PYWLC_CUDA_ARCHS;
#else
  d["cuda"] = false;
  d["cuda_version"] = py::none();
  d["cuda_archs"] = py::none();
#endif
#ifdef _OPENMP
  d["openmp"] = true;
  d["omp_max_threads"] = omp_get_max_threads();
#else
  d["openmp"] = false;
  d["omp_max_threads"] = 1;
#endif
  d["compiler"] = __VERSION__;
  return d;
}

// csrc/abi.h's codes as {group: {name: code}}: the Python layer's constants are checked against them.
py::dict abi_codes() {
  py::dict d;
  for (const pywlc::AbiCode& c : pywlc::kAbiCodes) {
    if (!d.contains(c.group)) d[c.group] = py::dict();
    d[c.group].cast<py::dict>()[c.name] = c.code;
  }
  return d;
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "pywlc compiled kernels (no libtorch): raw pointers, sizes and CUDA streams in.";
  m.def("build_info", &build_info);
  m.def("abi", &abi_codes, "The integer codes of dtypes, modes, interpolations, paddings and ops (csrc/abi.h).");
  for (pywlc::Binder bind : pywlc::binders()) bind(m);
}
