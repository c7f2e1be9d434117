// Fused 2-D lifting DWT on the CPU (../dwt2_fused.h): levels, strips, threads, and the run-time choice of the
// row kernels' instruction set.
//
// Levels chain through two scratch low bands per plane (ping-pong, in the compute type), so no level reads
// what it writes and half-precision tensors round once, at the end.  Within a level, work items are strips
// of output rows of one plane; a strip re-lifts a halo above it, so items are independent and the result is
// the same for any thread count.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "../dwt.h"
#include "../dwt2_fused.h"

namespace pywlc {
namespace {

// Below this many samples in a level, threads cost more than they save (same rule as the two-pass kernel).
constexpr int64_t kParallelMinSamples = 1 << 15;
// Output of at least this many bytes is written with non-temporal stores (see dwt2_fused_kernel.h).
constexpr int64_t kStreamMinBytes = int64_t(8) << 20;
// The inverse streams its scratch low bands too (with the tensor) for planes of at least this many bytes, beyond
// a core's L2; smaller planes' low bands stay there for the next level: 16x3x256^2 fp32 inverse 1-25 % faster
// cached (12 of 12 interleaved pairs, 1 and 2 threads, Haar / 5/3 / 9/7).
constexpr int64_t kStreamScratchMinPlaneBytes = int64_t(1) << 20;
// Strips never get fewer output row pairs than this: the halo (num_steps rows) stays a small overhead.
constexpr int64_t kMinStripRows = 16;

struct IsaEntry {
  const char* name;
  Dwt2StripFn fn;
  Haar2RowsFn haar;
};

// Widest first.
std::vector<IsaEntry> compiled_isas() {
  std::vector<IsaEntry> v;
#ifdef PYWLC_DWT2_X86
  v.push_back({"avx512", &dwt2_avx512::run_strip, &dwt2_avx512::haar2_rows});
  v.push_back({"avx2", &dwt2_avx2::run_strip, &dwt2_avx2::haar2_rows});
#endif
  v.push_back({"baseline", &dwt2_baseline::run_strip, &dwt2_baseline::haar2_rows});
  return v;
}

bool cpu_has(const std::string& isa) {
#if defined(PYWLC_DWT2_X86) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (isa == "avx512")
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("fma");
  if (isa == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return isa == "baseline";
}

// The widest instruction set this CPU runs, capped by PYWLC_DWT_ISA (baseline / avx2 / avx512) if set.
IsaEntry& selected() {
  static IsaEntry chosen = [] {
    const char* cap = std::getenv("PYWLC_DWT_ISA");
    bool allowed = cap == nullptr || *cap == '\0';
    for (const IsaEntry& e : compiled_isas()) {
      allowed = allowed || std::strcmp(cap, e.name) == 0;
      if (allowed && cpu_has(e.name)) return e;
    }
    return compiled_isas().back();
  }();
  return chosen;
}

int dwt2_fused_ring_rows_of(const DwtArgs& a) {
  int kind[kMaxLiftSteps];
  const int n = static_cast<int>(a.steps.size() / 3);
  for (int q = 0; q < n; ++q) kind[q] = static_cast<int>(a.steps[3 * q]);
  return dwt2_fused_ring_rows(kind, n);
}

template <typename C>
void run_levels(const DwtArgs& a) {
  const int64_t planes = a.batch * a.dims[0], H = a.dims[1], W = a.dims[2];
  if (planes * H * W == 0) return;
  const int64_t plane = H * W;
  const bool analysis = dwt_is_analysis(a.op);  // forward-shaped: the forward and the inverse's adjoint
  const int64_t storage_size = a.dtype == kFloat64 ? 8 : (a.dtype == kFloat16 || a.dtype == kBFloat16) ? 2 : 4;
  char* src = static_cast<char*>(const_cast<void*>(a.src));
  char* dst = static_cast<char*>(a.dst);
  // Scratch low bands: level l's low band lives in scratch[l & 1] (every level but the coarsest).
  // Level 0's low band is the largest; level 1's a quarter of it (uninitialised: every sample is written
  // before it is read).
  const int64_t sw = (W + 1) / 2, scratch_plane[2] = {((H + 1) / 2) * sw, ((H + 3) / 4) * sw};
  const int64_t scratch_size = a.levels > 1 ? planes * (scratch_plane[0] + (a.levels > 2 ? scratch_plane[1] : 0)) : 0;
  const int64_t scratch_bytes = (scratch_size * static_cast<int64_t>(sizeof(C)) + 63) / 64 * 64;
#ifdef _OPENMP
  const int threads = omp_get_max_threads();
#else
  const int threads = 1;
#endif
  // Per-thread work memory (the ring and row halves), sized for the widest level (level 0), after the scratch
  // in one block kept between calls (ScratchLease).
  const int64_t work_bytes = (dwt2_fused_work_bytes(W, dwt2_fused_ring_rows_of(a), a.dtype) + 63) / 64 * 64;
  ScratchLease lease(static_cast<size_t>(scratch_bytes + work_bytes * threads));
  C* const scratch = static_cast<C*>(lease.get());
  unsigned char* const work0 = static_cast<unsigned char*>(lease.get()) + scratch_bytes;
  auto scratch_view = [&](int l, int64_t b) {
    C* base = scratch + (l & 1) * planes * scratch_plane[0];
    return Dwt2View{base + b * scratch_plane[l & 1], sw, true};
  };
  auto tensor_view = [&](char* base, int64_t b) { return Dwt2View{base + b * plane * storage_size, W, false}; };

  Dwt2Strip proto{};
  proto.op = a.op;
  proto.mode = a.mode;
  proto.storage = a.dtype;
  proto.num_steps = static_cast<int>(a.steps.size() / 3);
  for (int q = 0; q < proto.num_steps; ++q) {
    proto.kind[q] = static_cast<int>(a.steps[3 * q]);
    proto.a[q] = a.steps[3 * q + 1];
    proto.b[q] = a.steps[3 * q + 2];
  }
  proto.k_low = a.k_low;
  proto.k_high = a.k_high;
  proto.zero_tail = a.zero_tail;
  proto.integer = a.integer;
  proto.ring_rows = dwt2_fused_ring_rows_of(a);
  proto.stream = planes * plane * storage_size >= kStreamMinBytes;
  proto.stream_scratch = plane * storage_size >= kStreamScratchMinPlaneBytes;

  const Dwt2StripFn fn = selected().fn;

  int64_t h = H, w = W;
  std::vector<int64_t> hs(a.levels), ws(a.levels);
  for (int l = 0; l < a.levels; ++l) {
    hs[l] = h;
    ws[l] = w;
    h = (h + 1) / 2;
    w = (w + 1) / 2;
  }
  // Rows [j0, j1) of level l of plane b, its scratch low bands in those of plane `slot`.
  auto run_strip = [&](int64_t b, int l, int64_t j0, int64_t j1, unsigned char* work, int64_t slot) {
    Dwt2Strip s = proto;
    s.h = hs[l];
    s.w = ws[l];
    s.j0 = j0;
    s.j1 = j1;
    s.work = work;
    if (analysis) {
      s.samples = l == 0 ? tensor_view(src, b) : scratch_view(l - 1, slot);
      s.low = l == a.levels - 1 ? tensor_view(dst, b) : scratch_view(l, slot);
      s.bands = tensor_view(dst, b);
    } else {
      s.low = l == a.levels - 1 ? tensor_view(src, b) : scratch_view(l, slot);
      s.bands = tensor_view(src, b);
      s.samples = l == 0 ? tensor_view(dst, b) : scratch_view(l - 1, slot);
    }
    fn(s);
  };
#ifdef _OPENMP
  auto thread_work = [&] { return work0 + work_bytes * omp_get_thread_num(); };
#else
  auto thread_work = [&] { return work0; };
#endif
  // Plane after plane, every level of a plane before the next: a level reads the low band the level before
  // wrote a moment ago, not after every other plane's level has passed.  Both directions stream their scratch
  // low bands when they stream the tensor, the inverse for planes beyond L2 (kStreamScratchMinPlaneBytes).
  // Cached stores there measured 15-45 % slower in the forward, even into L2-resident lines, and in the inverse
  // ~10 % slower at 1 thread and 15-70 % at 2: 1x3x1024^2 fp32 on 2 threads, 5/3 0.91-0.98 ms streamed against
  // 1.07-1.41 cached, 9/7 0.98-1.10 against 1.15-1.87 -- with both cores busy, the cached stores' reads for
  // ownership doubled the time of the levels that write scratch, the inverse's levels 1 and 2.  Below
  // kStreamMinBytes the scratch stays in the caches.  The inverse keeps its scratch in one plane's slot per
  // thread (the next plane reuses the lines), the forward in a slot per plane (one per thread, over lines the
  // plane before left in the caches, 5/3 measured 10 % slower).  The strips are the same (one per plane and
  // level), so are the results.  One thread: always (no OpenMP region).
  const bool parallel = threads > 1 && planes * H * W >= kParallelMinSamples;
  if (!parallel) {
    unsigned char* work = thread_work();
    for (int64_t b = 0; b < planes; ++b)
      for (int step = 0; step < a.levels; ++step) {
        const int l = analysis ? step : a.levels - 1 - step;
        run_strip(b, l, 0, (hs[l] + 1) / 2, work, analysis ? b : 0);
      }
    return;
  }
  // A team: whole planes as work items while every thread gets one (every level of a plane, no barrier between
  // levels: on a shared machine each barrier can wait a scheduler tick for a preempted thread), then the
  // planes left over (fewer than threads: 1x3xHxW on 2 threads leaves one) in strips of rows, level after level,
  // a barrier between levels.  Strips of every plane instead (the schedule before): 1x3x1024^2 fp32 on 2
  // threads, forward 5/3 0.79-0.82 ms against 0.85-0.89, 9/7 0.93-0.97 against 1.02-1.09.
  const int64_t rest = planes % threads, whole = planes - rest;
#pragma omp parallel
  {
    // nowait: a thread done with its planes starts on the strips of the rest.
#pragma omp for schedule(dynamic) nowait
    for (int64_t b = 0; b < whole; ++b) {
      unsigned char* work = thread_work();
#ifdef _OPENMP
      const int64_t slot = analysis ? b : omp_get_thread_num();  // whole >= threads: no slot of the rest
#else
      const int64_t slot = analysis ? b : 0;
#endif
      for (int step = 0; step < a.levels; ++step) {
        const int l = analysis ? step : a.levels - 1 - step;
        run_strip(b, l, 0, (hs[l] + 1) / 2, work, slot);
      }
    }
    for (int step = 0; step < a.levels && rest > 0; ++step) {
      const int l = analysis ? step : a.levels - 1 - step;
      const int64_t lh = hs[l], lw = ws[l], pairs = (lh + 1) / 2;
      // Two items per thread (each re-lifts a halo: 8 per thread measured 3-8 % slower, 1 per thread 0-7 %
      // slower for the inverse, 1x3x1024^2 5/3 and 9/7 on 2 threads), none shorter than kMinStripRows; a level
      // too small for threads is one item per plane.
      int64_t strips = 1;
      if (rest * lh * lw >= kParallelMinSamples) {
        strips = (2 * threads + rest - 1) / rest;
        strips = std::max<int64_t>(1, std::min(strips, pairs / kMinStripRows));
      }
      const int64_t items = rest * strips;
      // Items go to threads as they free up: on a shared machine a preempted thread's strips are taken over by
      // the others instead of holding the level's barrier (which thread lifts a strip does not change it).
#pragma omp for schedule(dynamic)
      for (int64_t q = 0; q < items; ++q) {
        const int64_t b = whole + q / strips, t = q % strips;
        run_strip(b, l, pairs * t / strips, pairs * (t + 1) / strips, thread_work(), b);
      }
    }
  }
}

}  // namespace

int dwt2_fused_ring_rows(const int* kind, int num_steps) {
  // Longest lag of the four orders make_steps() runs: forward, reversed (synthesis), and both with every kind
  // flipped (the adjoints' transposed steps).
  int longest = 0;
  for (int order = 0; order < 4; ++order) {
    const bool reversed = order & 1, flipped = order & 2;
    auto at = [&](int q) {
      const int k = reversed ? kind[num_steps - 1 - q] : kind[q];
      return flipped ? (k == kPredict ? kUpdate : kPredict) : k;
    };
    int lag = 0;
    for (int q = 1; q < num_steps; ++q) lag += (at(q) == kPredict && at(q - 1) == kUpdate) ? 1 : 0;
    longest = std::max(longest, lag);
  }
  // At sweep position k the ring holds rows k - out_lag .. k + 1, out_lag = longest + 2.
  int rows = 1;
  while (rows < longest + 4) rows *= 2;
  return rows;
}

int64_t dwt2_fused_work_bytes(int64_t w, int ring_rows, int storage) {
  // Rows padded as the kernel's ring_stride() does: whole 64-byte lines plus one.
  const int64_t c = storage == kD2Float64 ? 8 : 4, line = 64 / c;
  auto padded = [line](int64_t n) { return (n + line - 1) / line * line + line; };
  return c * (2 * ring_rows * padded(w) + 4 * padded((w + 1) / 2)) + 64;
}

bool dwt2_fused_applicable(const DwtArgs& a) {
  return a.ndim == 2 && a.src != a.dst && a.levels > 0 &&
         a.steps.size() % 3 == 0 && a.steps.size() / 3 <= static_cast<size_t>(kMaxLiftSteps);
}

void dwt2_fused_cpu(const DwtArgs& a) {
  dwt_plan(a);  // same validation as the two-pass kernel
  switch (a.dtype) {
    case kFloat64:
      return run_levels<double>(a);
    case kInt32:
      return run_levels<int32_t>(a);
    default:  // float32, float16, bfloat16: computed in float32
      return run_levels<float>(a);
  }
}

const char* dwt2_fused_isa() { return selected().name; }

Haar2RowsFn dwt2_haar_rows_fn() { return selected().haar; }

std::vector<std::string> dwt2_fused_isas_supported() {
  std::vector<std::string> v;
  for (const IsaEntry& e : compiled_isas())
    if (cpu_has(e.name)) v.push_back(e.name);
  return v;
}

bool dwt2_fused_set_isa(const std::string& name) {
  for (const IsaEntry& e : compiled_isas())
    if (name == e.name && cpu_has(e.name)) {
      selected() = e;
      return true;
    }
  return false;
}

}  // namespace pywlc
