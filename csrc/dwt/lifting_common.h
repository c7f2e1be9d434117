// Per-element lifting math shared by the CPU and CUDA DWT kernels (host and device).
//
// A "group" is V transform lines processed together.  Its even samples live in E[ne][V] and its odd
// samples in O[no][V] (row i, line v at index i * V + v), so every lifting step is a flat loop over a
// contiguous range: vectorisable on the CPU, coalesced in shared memory on the GPU.  Loops take a start
// and stride (t0, ts) so one thread (CPU: 0, 1) or a whole block (GPU: threadIdx.x, blockDim.x) can run
// them; `sync` separates steps (no-op on the CPU, __syncthreads on the GPU).
//
// Conventions (lifting steps, boundary rules, scalings) are documented in pywlc/ops/wavelets.py.
#pragma once

#include <cstdint>

#include "../abi.h"  // DwtMode, DwtOp

#if defined(__CUDACC__)
#define PYWLC_HD __host__ __device__ __forceinline__
#else
#define PYWLC_HD inline
#endif

namespace pywlc {

constexpr int kMaxLiftSteps = 8;
constexpr int kPredict = 0;  // o[i] += a * e[i] + b * e[i+1]
constexpr int kUpdate = 1;   // e[i] += a * o[i-1] + b * o[i]

template <typename T>
struct LiftScheme {
  int num_steps;
  int kind[kMaxLiftSteps];
  T a[kMaxLiftSteps];
  T b[kMaxLiftSteps];
  T k_low;
  T k_high;
  bool zero_tail;  // a missing neighbour contributes 0 (half-sample symmetric, Haar)
  bool integer;    // JPEG 2000 reversible 5/3 on int32
};

// Index of neighbour i in a sequence of length n under the boundary rule; -1 means "contributes 0".
PYWLC_HD int64_t lift_neighbour(int64_t i, int64_t n, int mode, bool zero_tail) {
  if (i >= 0 && i < n) return i;
  if (mode == kPeriodization) return ((i % n) + n) % n;
  if (zero_tail) return -1;
  return i < 0 ? 0 : n - 1;  // whole-sample symmetric extension == clamp in the lifting domain
}

// Row range [lo, hi) of a step whose neighbours (i + off0, i + off1) are both inside [0, ns).
struct StepRange {
  int64_t lo, hi;
};

PYWLC_HD StepRange interior_rows(int64_t nt, int64_t ns, int off0, int off1) {
  int64_t lo = off0 < 0 ? -off0 : 0;
  int64_t hi = ns - off1;
  if (hi > nt) hi = nt;
  if (hi < lo) hi = lo;
  return {lo, hi};
}

// Boundary row k (0-based) of a step: rows [0, lo) then [hi, nt).
PYWLC_HD int64_t boundary_row(StepRange r, int64_t k) { return k < r.lo ? k : r.hi + (k - r.lo); }

PYWLC_HD int64_t boundary_count(StepRange r, int64_t nt) { return r.lo + (nt - r.hi); }

// T.800 eq. F-5 / F-6 increments of the reversible 5/3, in 64 bits (>> on int64 is a floor division).
PYWLC_HD int64_t int53_delta(int kind, int64_t s0, int64_t s1) {
  return kind == kPredict ? -((s0 + s1) >> 1) : ((s0 + s1 + 2) >> 2);
}

// int32 addition modulo 2^32: lifting stays invertible bitwise for every int32 input.
PYWLC_HD int32_t wrap_add(int32_t t, int64_t d) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(static_cast<int64_t>(t)) +
                                                    static_cast<uint64_t>(d)));
}

struct NoSync {
  PYWLC_HD void operator()() const {}
};

// One lifting step (or its transpose) on a group.  a, b already carry the sign (+ analysis, - synthesis).
template <typename T, typename Sync>
PYWLC_HD void lift_step(T* E, T* O, int64_t ne, int64_t no, int64_t V, int kind, T a, T b, int mode,
                        bool zero_tail, bool transpose, int64_t t0, int64_t ts, Sync sync) {
  T* tgt = kind == kPredict ? O : E;
  T* src = kind == kPredict ? E : O;
  const int64_t nt = kind == kPredict ? no : ne;
  const int64_t ns = kind == kPredict ? ne : no;
  const int off0 = kind == kPredict ? 0 : -1;
  const int off1 = off0 + 1;
  const StepRange r = interior_rows(nt, ns, off0, off1);
  const int64_t d0 = off0 * V, d1 = off1 * V;
  const int64_t nb = boundary_count(r, nt);
  if (!transpose) {
    {  // E and O never overlap: say so, so the CPU build vectorises this loop
      T* __restrict__ tg = tgt;
      const T* __restrict__ s0 = src + d0;
      const T* __restrict__ s1 = src + d1;
      for (int64_t k = r.lo * V + t0; k < r.hi * V; k += ts) tg[k] += a * s0[k] + b * s1[k];
    }
    for (int64_t k = t0; k < nb * V; k += ts) {
      const int64_t i = boundary_row(r, k / V), v = k % V;
      const int64_t j0 = lift_neighbour(i + off0, ns, mode, zero_tail);
      const int64_t j1 = lift_neighbour(i + off1, ns, mode, zero_tail);
      T acc = T(0);
      if (j0 >= 0) acc += a * src[j0 * V + v];
      if (j1 >= 0) acc += b * src[j1 * V + v];
      tgt[i * V + v] += acc;
    }
    sync();
    return;
  }
  // Transpose: every target row scatters into its two neighbours.  Split into passes that never write
  // the same element twice, so the GPU needs no atomics and results are deterministic.
  for (int64_t k = r.lo * V + t0; k < r.hi * V; k += ts) src[k + d0] += a * tgt[k];
  sync();
  for (int64_t k = r.lo * V + t0; k < r.hi * V; k += ts) src[k + d1] += b * tgt[k];
  sync();
  for (int64_t v = t0; v < V; v += ts) {
    for (int64_t q = 0; q < nb; ++q) {
      const int64_t i = boundary_row(r, q);
      const int64_t j0 = lift_neighbour(i + off0, ns, mode, zero_tail);
      const int64_t j1 = lift_neighbour(i + off1, ns, mode, zero_tail);
      if (j0 >= 0) src[j0 * V + v] += a * tgt[i * V + v];
      if (j1 >= 0) src[j1 * V + v] += b * tgt[i * V + v];
    }
  }
  sync();
}

// Reversible integer step: tgt += sign * delta(src neighbours), wrapped to int32.
template <typename Sync>
PYWLC_HD void lift_step_int(int32_t* E, int32_t* O, int64_t ne, int64_t no, int64_t V, int kind, int sign,
                            int mode, int64_t t0, int64_t ts, Sync sync) {
  int32_t* tgt = kind == kPredict ? O : E;
  const int32_t* src = kind == kPredict ? E : O;
  const int64_t nt = kind == kPredict ? no : ne;
  const int64_t ns = kind == kPredict ? ne : no;
  const int off0 = kind == kPredict ? 0 : -1;
  for (int64_t k = t0; k < nt * V; k += ts) {
    const int64_t i = k / V, v = k % V;
    const int64_t j0 = lift_neighbour(i + off0, ns, mode, false);
    const int64_t j1 = lift_neighbour(i + off0 + 1, ns, mode, false);
    const int64_t d = int53_delta(kind, src[j0 * V + v], src[j1 * V + v]);
    tgt[k] = wrap_add(tgt[k], sign > 0 ? d : -d);
  }
  sync();
}

template <typename T, typename Sync>
PYWLC_HD void lift_scale(T* E, T* O, int64_t ne, int64_t no, int64_t V, T kl, T kh, int64_t t0, int64_t ts,
                         Sync sync) {
  for (int64_t k = t0; k < ne * V; k += ts) E[k] *= kl;
  for (int64_t k = t0; k < no * V; k += ts) O[k] *= kh;
  sync();
}

// The lifting part of one 1-D op on a gathered group (gather/scatter are the caller's: which layout is
// read and written depends on `op`, see dwt_gathers_interleaved()).
template <typename T, typename Sync>
PYWLC_HD void lift_group(T* E, T* O, int64_t ne, int64_t no, int64_t V, const LiftScheme<T>& s, int mode, int op,
                         int64_t t0, int64_t ts, Sync sync) {
  const T one = T(1);
  switch (op) {
    case kForward:  // split -> steps -> scale
      for (int q = 0; q < s.num_steps; ++q)
        lift_step(E, O, ne, no, V, s.kind[q], s.a[q], s.b[q], mode, s.zero_tail, false, t0, ts, sync);
      lift_scale(E, O, ne, no, V, s.k_low, s.k_high, t0, ts, sync);
      break;
    case kInverse:  // unscale -> steps backwards with opposite sign -> merge
      lift_scale(E, O, ne, no, V, one / s.k_low, one / s.k_high, t0, ts, sync);
      for (int q = s.num_steps - 1; q >= 0; --q)
        lift_step(E, O, ne, no, V, s.kind[q], -s.a[q], -s.b[q], mode, s.zero_tail, false, t0, ts, sync);
      break;
    case kForwardAdjoint:  // (scale . steps . split)^T = split^T . steps^T (reversed) . scale
      lift_scale(E, O, ne, no, V, s.k_low, s.k_high, t0, ts, sync);
      for (int q = s.num_steps - 1; q >= 0; --q)
        lift_step(E, O, ne, no, V, s.kind[q], s.a[q], s.b[q], mode, s.zero_tail, true, t0, ts, sync);
      break;
    default:  // kInverseAdjoint: (merge . steps^-1 . unscale)^T = unscale . (steps^-1)^T (in order) . split
      for (int q = 0; q < s.num_steps; ++q)
        lift_step(E, O, ne, no, V, s.kind[q], -s.a[q], -s.b[q], mode, s.zero_tail, true, t0, ts, sync);
      lift_scale(E, O, ne, no, V, one / s.k_low, one / s.k_high, t0, ts, sync);
      break;
  }
}

template <typename Sync>
PYWLC_HD void lift_group_int(int32_t* E, int32_t* O, int64_t ne, int64_t no, int64_t V,
                             const LiftScheme<int32_t>& s, int mode, int op, int64_t t0, int64_t ts, Sync sync) {
  if (op == kForward) {
    for (int q = 0; q < s.num_steps; ++q) lift_step_int(E, O, ne, no, V, s.kind[q], +1, mode, t0, ts, sync);
  } else {
    for (int q = s.num_steps - 1; q >= 0; --q) lift_step_int(E, O, ne, no, V, s.kind[q], -1, mode, t0, ts, sync);
  }
}

// Forward and the inverse's adjoint read interleaved samples and write [low | high]; the other two
// read [low | high] and write interleaved samples.
PYWLC_HD bool dwt_gathers_interleaved(int op) { return op == kForward || op == kInverseAdjoint; }

// Analysis-shaped ops walk levels fine -> coarse and axes in order; synthesis-shaped ones the reverse.
PYWLC_HD bool dwt_is_analysis(int op) { return op == kForward || op == kInverseAdjoint; }

}  // namespace pywlc
