// Fused 2-D Haar on the CPU: one pass per level reads each 2x2 block once and writes its four subband
// coefficients, instead of two lifting passes (one per axis).  Same maps as the lifting kernel.
//
// With pywt's scaling a pair (e, o) maps to ((e + o) / sqrt2, (e - o) / sqrt2): the matrix
// M = [[1, 1], [1, -1]] / sqrt2 is symmetric and its own inverse, so for paired samples the forward
// map, the inverse and both adjoints are all M (x) M.  They differ only on an unpaired last row/column
// (odd sizes, half-sample symmetric extension): the analysis scales it by sqrt2 and the synthesis by
// 1/sqrt2, and an adjoint uses the factor of the map it is the adjoint of.  `u` carries that factor.
//
// Levels chain through scratch planes holding the low band, so no level reads what it writes.  The row
// functions (haar2_rows.h) are compiled per instruction set with the lifting kernels and chosen with them.
#include <algorithm>
#include <type_traits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "../dwt.h"
#include "../dwt2_fused.h"

namespace pywlc {
namespace {

constexpr int64_t kRows = 8;
// Output of at least this many bytes is written with non-temporal stores (dwt2_fused_cpu.cpp's threshold).
constexpr int64_t kStreamMinBytes = int64_t(8) << 20;
// The synthesis's scratch streams too for planes of at least this many bytes (dwt2_fused_cpu.cpp's threshold).
constexpr int64_t kStreamScratchMinPlaneBytes = int64_t(1) << 20;

template <typename T>
void run(const DwtArgs& a) {
  const int64_t planes = a.batch * a.dims[0], H = a.dims[1], W = a.dims[2];
  const int64_t plane = H * W;
  const bool analysis = dwt_is_analysis(a.op);
  // Analysis scales unpaired samples by k_low = sqrt2, synthesis by its inverse (see the header).
  const T k = static_cast<T>(a.k_low);
  const T u = (a.op == kForward || a.op == kForwardAdjoint) ? k : T(1) / k;
  const T* src = static_cast<const T*>(a.src);
  T* dst = static_cast<T*>(a.dst);
  std::vector<int64_t> hs(a.levels), ws(a.levels);
  for (int l = 0; l < a.levels; ++l) {
    hs[l] = l == 0 ? H : (hs[l - 1] + 1) / 2;
    ws[l] = l == 0 ? W : (ws[l - 1] + 1) / 2;
  }
  // Two scratch low bands per plane (ping-pong), each at most ceil(H/2) x ceil(W/2); uninitialised (every
  // sample is written before it is read) and kept between calls (ScratchLease).
  const int64_t scratch_plane = ((H + 1) / 2) * ((W + 1) / 2);
  ScratchLease lease(a.levels > 1 ? static_cast<size_t>(2 * planes * scratch_plane) * sizeof(T) : 0);
  T* const scratch = static_cast<T*>(lease.get());
  auto buf = [&](int which, int64_t b) { return scratch + (which * planes + b) * scratch_plane; };
  const Haar2RowsFn rows = dwt2_haar_rows_fn();
  const bool stream = planes * plane * static_cast<int64_t>(sizeof(T)) >= kStreamMinBytes;
  // Rows [i0, i1) of level l of plane b, its scratch low bands in those of plane `slot`.
  auto run_rows = [&](int64_t b, int l, int64_t i0, int64_t i1, int64_t slot) {
    const int64_t w = ws[l];
    Haar2Rows j{};
    j.analysis = analysis;
    j.float64 = std::is_same<T, double>::value;
    j.h = hs[l];
    j.w = w;
    j.i0 = i0;
    j.i1 = i1;
    j.u = static_cast<double>(u);  // exact: the kernel casts back to T
    // Streaming stores for outputs beyond the caches, the synthesis's scratch low bands too for planes beyond L2
    // (as the lifting kernel): at 1x3x1024^2 fp32 the synthesis with its coarser levels' outputs cached measured
    // 0.87-1.15 ms on 2 threads against 0.68-0.82 streamed (1 thread: 1.22-1.31 against 1.13-1.18).
    j.stream = stream && (analysis || l == 0 || plane * static_cast<int64_t>(sizeof(T)) >= kStreamScratchMinPlaneBytes);
    if (analysis) {
      // Input: the tensor at level 0, else the previous level's low band in scratch.
      j.in = l == 0 ? src + b * plane : buf((l - 1) & 1, slot);
      j.si = l == 0 ? W : w;
      // The coarsest low band goes to the output, the others to scratch for the next level.
      j.low = l == a.levels - 1 ? dst + b * plane : buf(l & 1, slot);
      j.sl = l == a.levels - 1 ? W : (w + 1) / 2;
      j.bands = dst + b * plane;
      j.sb = W;
    } else {
      j.low = const_cast<T*>(l == a.levels - 1 ? src + b * plane : buf(l & 1, slot));
      j.sl = l == a.levels - 1 ? W : (w + 1) / 2;
      j.in = src + b * plane;
      j.si = W;
      j.out = l == 0 ? dst + b * plane : buf((l - 1) & 1, slot);
      j.so = l == 0 ? W : w;
    }
    rows(j);
  };
#ifdef _OPENMP
  const int threads = omp_get_max_threads();
#else
  const int threads = 1;
#endif
  // Whole planes as work items while every thread gets one (every level of a plane, no barrier between levels:
  // see dwt2_fused_cpu.cpp), the synthesis's scratch in one plane's slot per thread (the next plane reuses the
  // lines); then the planes left over (fewer than threads) in chunks of kRows output rows, level after level, a
  // barrier between levels.  One thread: plane after plane, every level of a plane before the next (a level
  // reads the low band the level before wrote a moment ago), no OpenMP region.  16x3x256^2 fp32, the synthesis:
  // 2 threads 0.83-0.97 ms against 0.85-1.33 with a slot per plane, 1 thread 1.52-1.88 against 1.93-2.34 with
  // every plane's level before the next level.
  const bool parallel = threads > 1 && planes * H * W >= (1 << 15);
  const int64_t rest = parallel ? planes % threads : 0, whole = planes - rest;
#pragma omp parallel if (parallel)
  {
    // nowait: a thread done with its planes starts on the chunks of the rest.
#pragma omp for schedule(dynamic) nowait
    for (int64_t b = 0; b < whole; ++b) {
#ifdef _OPENMP
      const int64_t slot = analysis ? b : omp_get_thread_num();
#else
      const int64_t slot = analysis ? b : 0;
#endif
      for (int step = 0; step < a.levels; ++step) {
        const int l = analysis ? step : a.levels - 1 - step;
        run_rows(b, l, 0, (hs[l] + 1) / 2, slot);
      }
    }
    for (int step = 0; step < a.levels && rest > 0; ++step) {
      const int l = analysis ? step : a.levels - 1 - step;
      const int64_t hl = (hs[l] + 1) / 2, chunks = (hl + kRows - 1) / kRows, items = rest * chunks;
      // Dynamic: a preempted thread's chunks go to the others.
#pragma omp for schedule(dynamic)
      for (int64_t q = 0; q < items; ++q) {
        const int64_t b = whole + q / chunks, i0 = (q % chunks) * kRows;
        run_rows(b, l, i0, std::min(hl, i0 + kRows), b);
      }
    }
  }
}

}  // namespace

bool haar2_applicable(const DwtArgs& a) {
  const std::vector<double> haar_steps = {kPredict, -1.0, 0.0, kUpdate, 0.0, 0.5};
  return a.ndim == 2 && !a.integer && a.zero_tail && a.steps == haar_steps && a.src != a.dst && a.levels > 0 &&
         (a.dtype == kFloat32 || a.dtype == kFloat64);
}

void haar2_cpu(const DwtArgs& args) {
  dwt_plan(args);  // same validation as the lifting path
  if (args.dtype == kFloat32)
    run<float>(args);
  else
    run<double>(args);
}

}  // namespace pywlc
