// Host API of the multi-level lifting DWT (packed Mallat layout), CPU and CUDA.
//
// Tensors are contiguous Tensor[B, D0, D1, D2] (1-D: D0 = D1 = 1; 2-D: D0 = 1); the transform runs over
// the last `ndim` axes.  Pointers are raw device/host addresses; no libtorch is linked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "../abi.h"  // DwtDtype
#include "lifting_common.h"

namespace pywlc {

struct DwtArgs {
  const void* src;  // Tensor[B, D0, D1, D2]
  void* dst;        // Tensor[B, D0, D1, D2], may equal src
  int dtype;        // DwtDtype
  int64_t batch;
  int64_t dims[3];  // D0, D1, D2
  int ndim;         // 1, 2 or 3: transformed trailing axes
  int levels;
  int mode;  // DwtMode
  int op;    // DwtOp
  std::vector<double> steps;  // [kind, a, b] per lifting step
  double k_low, k_high;
  bool zero_tail, integer;
};

// One 1-D pass: transform along `axis` (0..2) inside the region [0, region[k]) of every axis.
// `low` is the region of the next coarser level; `first_of_level` marks the level's first pass in
// execution order (it is the one that may read the op's input, see the backends).
struct DwtPass {
  int axis;
  int64_t region[3];
  int64_t low[3];
  bool first_of_level;
};

// The ordered passes of an op (see dwt_is_analysis()).  Validates sizes; throws std::invalid_argument.
inline std::vector<DwtPass> dwt_plan(const DwtArgs& a) {
  if (a.ndim < 1 || a.ndim > 3) throw std::invalid_argument("ndim must be 1, 2 or 3");
  if (a.levels < 0) throw std::invalid_argument("levels must be >= 0");
  if (a.steps.size() % 3 != 0 || a.steps.size() / 3 > static_cast<size_t>(kMaxLiftSteps))
    throw std::invalid_argument("steps must be [kind, a, b] * k with k <= 8");
  if (a.integer != (a.dtype == kInt32)) throw std::invalid_argument("the integer transform needs int32 data");
  if (a.integer && (a.op == kForwardAdjoint || a.op == kInverseAdjoint))
    throw std::invalid_argument("the integer transform has no adjoint");
  const bool analysis = dwt_is_analysis(a.op);
  std::vector<DwtPass> passes;
  int64_t region[3] = {a.dims[0], a.dims[1], a.dims[2]};
  for (int l = 0; l < a.levels; ++l) {
    int64_t low[3] = {region[0], region[1], region[2]};
    for (int ax = 3 - a.ndim; ax < 3; ++ax) low[ax] = (region[ax] + 1) / 2;
    for (int ax = 3 - a.ndim; ax < 3; ++ax) {
      const int64_t n = region[ax];
      if (n < 2) throw std::invalid_argument("level " + std::to_string(l + 1) + " has a length < 2");
      if (a.mode == kPeriodization && n % 2)
        throw std::invalid_argument("periodization needs even lengths at every level, got " + std::to_string(n));
      // Analysis runs a level's axes in order, synthesis in reverse: the first executed pass differs.
      const bool first = analysis ? ax == 3 - a.ndim : ax == 2;
      passes.push_back(DwtPass{ax, {region[0], region[1], region[2]}, {low[0], low[1], low[2]}, first});
    }
    for (int ax = 0; ax < 3; ++ax) region[ax] = low[ax];
  }
  if (analysis) return passes;
  return std::vector<DwtPass>(passes.rbegin(), passes.rend());
}

template <typename T>
LiftScheme<T> make_scheme(const DwtArgs& a) {
  LiftScheme<T> s{};
  s.num_steps = static_cast<int>(a.steps.size() / 3);
  for (int q = 0; q < s.num_steps; ++q) {
    s.kind[q] = static_cast<int>(a.steps[3 * q]);
    s.a[q] = static_cast<T>(a.steps[3 * q + 1]);
    s.b[q] = static_cast<T>(a.steps[3 * q + 2]);
  }
  s.k_low = static_cast<T>(a.k_low);
  s.k_high = static_cast<T>(a.k_high);
  s.zero_tail = a.zero_tail;
  s.integer = a.integer;
  return s;
}

// Line geometry of a pass: lines are indexed by (b, i, j); j is the axis with the smaller stride, so
// grouping consecutive j gives contiguous reads.  Element l of line (b, i, j) is at
// b * sb + i * si + j * sj + l * sa.
struct LineGeometry {
  int64_t nb, sb, ni, si, nj, sj, n, sa;
  int axis_i, axis_j;  // which of the three axes i and j index
};

inline LineGeometry line_geometry(const DwtArgs& a, const DwtPass& p) {
  const int64_t stride[3] = {a.dims[1] * a.dims[2], a.dims[2], 1};
  int other[2], k = 0;
  for (int ax = 0; ax < 3; ++ax)
    if (ax != p.axis) other[k++] = ax;
  return {a.batch,          a.dims[0] * a.dims[1] * a.dims[2],
          p.region[other[0]], stride[other[0]],
          p.region[other[1]], stride[other[1]],
          p.region[p.axis],   stride[p.axis],
          other[0],           other[1]};
}

// Uninitialised scratch memory for one call of a CPU kernel, 64-byte aligned.  One block is kept between calls
// (at most 128 MiB; cpu/dwt_scratch.cpp says why); concurrent calls each get their own.
class ScratchLease {
 public:
  explicit ScratchLease(size_t bytes);
  ~ScratchLease();
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  void* get() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
  size_t size_ = 0;
};

void dwt_cpu(const DwtArgs& args);
// Fused one-pass-per-level 2-D lifting (cpu/dwt2_fused_cpu.cpp, see dwt2_fused.h); dwt_cpu() uses it when
// applicable.  It alone reads float16 / bfloat16 directly.
bool dwt2_fused_applicable(const DwtArgs& args);
void dwt2_fused_cpu(const DwtArgs& args);
const char* dwt2_fused_isa();                           // instruction set in use: "avx512", "avx2", "baseline"
std::vector<std::string> dwt2_fused_isas_supported();  // compiled in and run by this CPU, widest first
bool dwt2_fused_set_isa(const std::string& name);       // tests/benchmarks: false if unsupported here
// Fused one-pass-per-level 2-D Haar (cpu/haar2_cpu.cpp); dwt_cpu() uses it when applicable.
bool haar2_applicable(const DwtArgs& args);
void haar2_cpu(const DwtArgs& args);
#ifdef PYWLC_WITH_CUDA
void dwt_cuda(const DwtArgs& args, void* stream);
// Fused all-levels 2-D Haar (cuda/haar2_cuda.cu); dwt_cuda() uses it when applicable.
bool haar2_cuda_applicable(const DwtArgs& args);
void haar2_cuda(const DwtArgs& args, void* stream);
// Fused 2-D lifting, one tile kernel per level (cuda/dwt2_tile_cuda.cu); dwt_cuda() uses it when applicable.
bool dwt2_tile_cuda_applicable(const DwtArgs& args);
void dwt2_tile_cuda(const DwtArgs& args, void* stream);
#endif

}  // namespace pywlc
