// Fused 2-D Haar on the CPU: one pass per level reads each 2x2 block once and writes its four subband
// coefficients, instead of two lifting passes (one per axis).  Same maps as the lifting kernel.
//
// With pywt's scaling a pair (e, o) maps to ((e + o) / sqrt2, (e - o) / sqrt2): the matrix
// M = [[1, 1], [1, -1]] / sqrt2 is symmetric and its own inverse, so for paired samples the forward
// map, the inverse and both adjoints are all M (x) M.  They differ only on an unpaired last row/column
// (odd sizes, half-sample symmetric extension): the analysis scales it by sqrt2 and the synthesis by
// 1/sqrt2, and an adjoint uses the factor of the map it is the adjoint of.  `u` carries that factor.
//
// Levels chain through scratch planes holding the low band, so no level reads what it writes.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "../dwt.h"

namespace pywlc {
namespace {

constexpr int64_t kRows = 8;

struct Plane {
  int64_t h, w;  // region transformed at this level
};

// Analysis of one h x w region: `in` (row stride si) -> low band `ll` (stride sl), high bands into
// `hi` at their quadrant positions (stride sh): 'ad' at [i, wl + j], 'da' at [hl + i, j], 'dd' at
// [hl + i, wl + j].
template <typename T>
void haar2_analysis_rows(const T* in, int64_t si, T* ll, int64_t sl, T* hi, int64_t sh, Plane p, T u, int64_t i0,
                         int64_t i1) {
  const T half = T(0.5), r2 = T(M_SQRT1_2);
  const int64_t hl = (p.h + 1) / 2, wl = (p.w + 1) / 2, wp = p.w / 2;
  for (int64_t i = i0; i < i1; ++i) {
    const T* r0 = in + 2 * i * si;
    T* l = ll + i * sl;
    if (2 * i + 1 < p.h) {
      const T* r1 = r0 + si;
      T* ad = hi + i * sh + wl;
      T* da = hi + (hl + i) * sh;
      T* dd = da + wl;
      for (int64_t j = 0; j < wp; ++j) {
        const T a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
        l[j] = half * ((a + b) + (c + d));
        ad[j] = half * ((a - b) + (c - d));
        da[j] = half * ((a + b) - (c + d));
        dd[j] = half * ((a - b) - (c - d));
      }
      if (p.w & 1) {  // unpaired last column: a 1-D Haar along H, scaled by u along W
        const T a = r0[p.w - 1], c = r1[p.w - 1];
        l[wl - 1] = u * r2 * (a + c);
        da[wl - 1] = u * r2 * (a - c);
      }
    } else {  // unpaired last row (odd h): a 1-D Haar along W, scaled by u along H
      T* ad = hi + i * sh + wl;
      for (int64_t j = 0; j < wp; ++j) {
        const T a = r0[2 * j], b = r0[2 * j + 1];
        l[j] = u * r2 * (a + b);
        ad[j] = u * r2 * (a - b);
      }
      if (p.w & 1) l[wl - 1] = u * u * r0[p.w - 1];
    }
  }
}

// Synthesis of one h x w region: low band `ll` (stride sl) and high bands from `hi` (quadrant
// positions, stride sh) -> interleaved samples in `out` (stride so).
template <typename T>
void haar2_synthesis_rows(const T* ll, int64_t sl, const T* hi, int64_t sh, T* out, int64_t so, Plane p, T u,
                          int64_t i0, int64_t i1) {
  const T half = T(0.5), r2 = T(M_SQRT1_2);
  const int64_t hl = (p.h + 1) / 2, wl = (p.w + 1) / 2, wp = p.w / 2;
  for (int64_t i = i0; i < i1; ++i) {
    T* r0 = out + 2 * i * so;
    const T* l = ll + i * sl;
    const T* ad = hi + i * sh + wl;
    if (2 * i + 1 < p.h) {
      T* r1 = r0 + so;
      const T* da = hi + (hl + i) * sh;
      const T* dd = da + wl;
      for (int64_t j = 0; j < wp; ++j) {
        const T s = l[j], v = ad[j], hh = da[j], g = dd[j];
        r0[2 * j] = half * ((s + v) + (hh + g));
        r0[2 * j + 1] = half * ((s - v) + (hh - g));
        r1[2 * j] = half * ((s + v) - (hh + g));
        r1[2 * j + 1] = half * ((s - v) - (hh - g));
      }
      if (p.w & 1) {
        const T s = l[wl - 1], hh = da[wl - 1];
        r0[p.w - 1] = u * r2 * (s + hh);
        r1[p.w - 1] = u * r2 * (s - hh);
      }
    } else {
      for (int64_t j = 0; j < wp; ++j) {
        const T s = l[j], v = ad[j];
        r0[2 * j] = u * r2 * (s + v);
        r0[2 * j + 1] = u * r2 * (s - v);
      }
      if (p.w & 1) r0[p.w - 1] = u * u * l[wl - 1];
    }
  }
}

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
  std::vector<Plane> level(a.levels);
  for (int l = 0; l < a.levels; ++l)
    level[l] = {l == 0 ? H : (level[l - 1].h + 1) / 2, l == 0 ? W : (level[l - 1].w + 1) / 2};
  // Two scratch low bands per plane (ping-pong), each at most ceil(H/2) x ceil(W/2).
  const int64_t scratch_plane = ((H + 1) / 2) * ((W + 1) / 2);
  std::vector<T> scratch(a.levels > 1 ? static_cast<size_t>(2 * planes * scratch_plane) : 0);
  auto buf = [&](int which, int64_t b) { return scratch.data() + (which * planes + b) * scratch_plane; };
  for (int step = 0; step < a.levels; ++step) {
    const int l = analysis ? step : a.levels - 1 - step;
    const Plane p = level[l];
    const int64_t hl = (p.h + 1) / 2, wl = (p.w + 1) / 2;
    // Work items: chunks of kRows output rows of one plane.
    const int64_t chunks = (hl + kRows - 1) / kRows;
    const int64_t work = planes * chunks;
    const bool parallel = work > 1 && planes * p.h * p.w >= (1 << 15);
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t q = 0; q < work; ++q) {
      const int64_t b = q / chunks, i0 = (q % chunks) * kRows, i1 = std::min(hl, i0 + kRows);
      if (analysis) {
        // Input: the tensor at level 0, else the previous level's low band in scratch.
        const T* in = l == 0 ? src + b * plane : buf((l - 1) & 1, b);
        const int64_t si = l == 0 ? W : p.w;
        // The coarsest low band goes to the output, the others to scratch for the next level.
        T* ll = l == a.levels - 1 ? dst + b * plane : buf(l & 1, b);
        const int64_t sl = l == a.levels - 1 ? W : wl;
        haar2_analysis_rows(in, si, ll, sl, dst + b * plane, W, p, u, i0, i1);
      } else {
        const T* ll = l == a.levels - 1 ? src + b * plane : buf(l & 1, b);
        const int64_t sl = l == a.levels - 1 ? W : wl;
        T* out = l == 0 ? dst + b * plane : buf((l - 1) & 1, b);
        const int64_t so = l == 0 ? W : p.w;
        haar2_synthesis_rows(ll, sl, src + b * plane, W, out, so, p, u, i0, i1);
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
