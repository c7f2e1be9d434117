// pybind11 definitions of the motion family (pywlc/motion/hvsbm.py calls these).  The estimator itself is the
// torch-free ezbc library (ezbc_port/); outputs have data-dependent sizes, so they come back as numpy arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "../bind_registry.h"
#include "ezbc/hvsbm.h"

namespace py = pybind11;

namespace {

// A 2-D uint8 or float32 numpy array as an ezbc plane (no copy; strides in elements, rows must have unit
// element stride).  The array stays referenced by the caller for the duration of the call.
ezbc::PlaneView as_plane(const py::array& a, const char* name) {
  const std::string n(name);
  if (a.ndim() != 2) throw std::invalid_argument(n + " must be a 2-D array [H, W], got ndim " + std::to_string(a.ndim()));
  ezbc::PlaneView p;
  if (a.dtype().is(py::dtype::of<uint8_t>())) {
    p.type = ezbc::PixelType::U8;
  } else if (a.dtype().is(py::dtype::of<float>())) {
    p.type = ezbc::PixelType::F32;
  } else {
    throw std::invalid_argument(n + " must be uint8 or float32");
  }
  // Sizes go into ints below: refuse what would truncate (second line of defence, csrc/bind_checks.h).
  if (a.shape(0) > (py::ssize_t{1} << 20) || a.shape(1) > (py::ssize_t{1} << 20))
    throw std::invalid_argument(n + " is larger than 2^20 pixels along a side");
  const auto item = static_cast<py::ssize_t>(a.itemsize());
  if (a.strides(1) != item || a.strides(0) % item != 0)
    throw std::invalid_argument(n + " must have contiguous rows");
  p.data = a.data();
  p.height = static_cast<int>(a.shape(0));
  p.width = static_cast<int>(a.shape(1));
  p.stride = a.strides(0) / item;
  return p;
}

template <typename T>
py::array_t<T> to_numpy(const std::vector<T>& v, std::vector<py::ssize_t> shape) {
  py::array_t<T> out(shape);
  if (!v.empty()) std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

}  // namespace

PYWLC_REGISTER_BINDINGS(hvsbm) {
  m.def(
      "hvsbm_cpu",
      [](const py::array& cur, const py::array& ref_left, const std::optional<py::array>& ref_right, double lam,
         int levels, int subpel, int search_range, int temporal_distance, int threads, int bi_iterations,
         double scene_cut_factor) {
        const ezbc::PlaneView c = as_plane(cur, "cur");               // [H, W]
        const ezbc::PlaneView l = as_plane(ref_left, "ref_left");     // [H, W]
        ezbc::PlaneView r;                                            // [H, W]
        if (ref_right) r = as_plane(*ref_right, "ref_right");
        ezbc::HvsbmParams p;
        p.lambda = lam;
        p.levels = levels;
        p.subpel = subpel;
        p.search_range = search_range;
        p.temporal_distance = temporal_distance;
        p.threads = threads;
        p.bi_iterations = bi_iterations;
        p.scene_cut_factor = scene_cut_factor;
        const ezbc::PlaneView* rp = ref_right ? &r : nullptr;
        ezbc::validate(c, l, rp, p);  // with the GIL held: errors surface as ValueError
        ezbc::HvsbmResult res;
        {
          py::gil_scoped_release release;
          res = ezbc::hvsbm(c, l, rp, p);
        }
        const py::ssize_t h = res.height, w = res.width, nb = static_cast<py::ssize_t>(res.blocks.size());
        // Leaves as one int32 table: x, y, size, mode, use_left, use_right, left.x, left.y, right.x, right.y.
        std::vector<int32_t> table;
        std::vector<double> costs;
        table.reserve(static_cast<size_t>(nb) * 10);
        for (const ezbc::Block& b : res.blocks) {
          const int32_t row[10] = {b.x, b.y, b.size, static_cast<int32_t>(b.mode), b.use_left, b.use_right,
                                   b.left.x, b.left.y, b.right.x, b.right.y};
          table.insert(table.end(), row, row + 10);
          costs.push_back(b.cost);
        }
        py::dict out;
        out["blocks"] = to_numpy(table, {nb, 10});
        out["block_cost"] = to_numpy(costs, {nb});
        out["field_left"] = to_numpy(res.field_left, {2, h, w});
        out["uses_left"] = to_numpy(res.uses_left, {h, w});
        out["connected_left"] = to_numpy(res.connected_left, {h, w});
        out["first_left"] = to_numpy(res.first_left, {h, w});
        if (res.has_right) {
          out["field_right"] = to_numpy(res.field_right, {2, h, w});
          out["uses_right"] = to_numpy(res.uses_right, {h, w});
          out["connected_right"] = to_numpy(res.connected_right, {h, w});
          out["first_right"] = to_numpy(res.first_right, {h, w});
        }
        out["cost"] = res.cost;
        out["sad"] = res.sad;
        out["intra_cost"] = res.intra_cost;
        out["inter_cost"] = res.inter_cost;
        out["scene_cut"] = res.scene_cut;
        return out;
      },
      py::arg("cur"), py::arg("ref_left"), py::arg("ref_right"), py::arg("lam"), py::arg("levels"),
      py::arg("subpel"), py::arg("search_range"), py::arg("temporal_distance"), py::arg("threads"),
      py::arg("bi_iterations"), py::arg("scene_cut_factor"),
      "HVSBM motion estimation of cur [H, W] against ref_left (and ref_right) [H, W] (uint8 or float32); "
      "returns a dict of numpy arrays (quadtree leaves, dense fields, connectivity masks) and the scene-cut flag.");
}
