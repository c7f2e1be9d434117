// Row functions of the fused 2-D Haar (haar2_cpu.cpp), compiled once per instruction set like the lifting
// kernels: cpu/dwt2_fused_<isa>.cpp includes this file after dwt2_fused_kernel.h, inside
// `namespace pywlc::dwt2_<isa>` and after its target pragma (internal linkage except haar2_rows(), see there).
// The 2x2 butterflies are plain loops over even/odd samples, which the compiler vectorises with the
// deinterleaving permutes of the target (SSE2: ~4x slower than AVX-512 on the same loops).

namespace {

constexpr double kHaarSqrtHalf = 0.70710678118654752440;  // M_SQRT1_2, without <cmath>'s POSIX extension

struct Plane {
  int64_t h, w;  // region transformed at this level
};

#if PYWLC_DWT2_LEVEL == 3
// AVX-512 butterflies of whole blocks of n pairs (the loops below do the rest): the two rows split once into
// evens and odds by a lane permute, the four bands written with streaming stores where `stream` (outputs beyond
// the caches: no read for ownership) and aligned.  The arithmetic is the scalar loops', operation for operation.
template <typename T>
int64_t haar2_analysis_vector(const T* __restrict__ x0, const T* __restrict__ x1, T* __restrict__ lo, T* __restrict__ ad,
                              T* __restrict__ da, T* __restrict__ dd, int64_t wp, bool stream) {
  using S = Split512<T>;
  using L = Lanes512<T>;
  using V = typename S::V;
  constexpr int64_t n = L::kN;
  const V half = L::set1(T(0.5));
  const bool s_lo = stream && reinterpret_cast<uintptr_t>(lo) % 64 == 0, s_ad = stream && reinterpret_cast<uintptr_t>(ad) % 64 == 0;
  const bool s_da = stream && reinterpret_cast<uintptr_t>(da) % 64 == 0, s_dd = stream && reinterpret_cast<uintptr_t>(dd) % 64 == 0;
  int64_t j = 0;
  for (; j + n <= wp; j += n) {
    const V a0 = S::load(x0 + 2 * j), b0 = S::load(x0 + 2 * j + n), a1 = S::load(x1 + 2 * j), b1 = S::load(x1 + 2 * j + n);
    const V e0 = S::evens(a0, b0), o0 = S::odds(a0, b0), e1 = S::evens(a1, b1), o1 = S::odds(a1, b1);
    const V sum0 = e0 + o0, dif0 = e0 - o0, sum1 = e1 + o1, dif1 = e1 - o1;
    S::store(lo + j, S::mul(half, sum0 + sum1), s_lo);
    S::store(ad + j, S::mul(half, dif0 + dif1), s_ad);
    S::store(da + j, S::mul(half, sum0 - sum1), s_da);
    S::store(dd + j, S::mul(half, dif0 - dif1), s_dd);
  }
  return j;
}

template <typename T>
int64_t haar2_synthesis_vector(const T* __restrict__ lo, const T* __restrict__ v_ad, const T* __restrict__ v_da,
                               const T* __restrict__ dd, T* __restrict__ y0, T* __restrict__ y1, int64_t wp, bool stream) {
  using S = Split512<T>;
  using L = Lanes512<T>;
  using V = typename S::V;
  constexpr int64_t n = L::kN;
  const V half = L::set1(T(0.5));
  const bool s0 = stream && reinterpret_cast<uintptr_t>(y0) % 64 == 0, s1 = stream && reinterpret_cast<uintptr_t>(y1) % 64 == 0;
  int64_t j = 0;
  for (; j + n <= wp; j += n) {
    const V s = S::load(lo + j), v = S::load(v_ad + j), hh = S::load(v_da + j), g = S::load(dd + j);
    const V sp = s + v, sm = s - v, hp = hh + g, hm = hh - g;
    const V e0 = S::mul(half, sp + hp), o0 = S::mul(half, sm + hm), e1 = S::mul(half, sp - hp), o1 = S::mul(half, sm - hm);
    S::store(y0 + 2 * j, S::merge_lo(e0, o0), s0);
    S::store(y0 + 2 * j + n, S::merge_hi(e0, o0), s0);
    S::store(y1 + 2 * j, S::merge_lo(e1, o1), s1);
    S::store(y1 + 2 * j + n, S::merge_hi(e1, o1), s1);
  }
  return j;
}
#endif

// Analysis of one h x w region: `in` (row stride si) -> low band `ll` (stride sl), high bands into
// `hi` at their quadrant positions (stride sh): 'ad' at [i, wl + j], 'da' at [hl + i, j], 'dd' at
// [hl + i, wl + j].
template <typename T>
void haar2_analysis_rows(const T* in, int64_t si, T* ll, int64_t sl, T* hi, int64_t sh, Plane p, T u, int64_t i0,
                         int64_t i1, bool stream) {
  const T half = T(0.5), r2 = T(kHaarSqrtHalf);
  const int64_t hl = (p.h + 1) / 2, wl = (p.w + 1) / 2, wp = p.w / 2;
  for (int64_t i = i0; i < i1; ++i) {
    const T* r0 = in + 2 * i * si;
    T* l = ll + i * sl;
    if (2 * i + 1 < p.h) {
      // Six distinct rows: say so, or the alias checks of six pointers stop the loop's vectorisation.
      const T* __restrict__ x0 = r0;
      const T* __restrict__ x1 = r0 + si;
      T* __restrict__ lo = l;
      T* __restrict__ ad = hi + i * sh + wl;
      T* __restrict__ da = hi + (hl + i) * sh;
      T* __restrict__ dd = hi + (hl + i) * sh + wl;
      // Pair sums and differences of each row first, then the butterflies across the two rows, in chunks: one
      // loop of four stride-2 loads does not vectorise (GCC 12), two loops of two do.
      constexpr int64_t kChunk = 256;
      T sum0[kChunk], dif0[kChunk], sum1[kChunk], dif1[kChunk];
#if PYWLC_DWT2_LEVEL == 3
      const int64_t done = haar2_analysis_vector(x0, x1, lo, ad, da, dd, wp, stream);
#else
      const int64_t done = 0;
      (void)stream;
#endif
      for (int64_t j0 = done; j0 < wp; j0 += kChunk) {
        const int64_t n = wp - j0 < kChunk ? wp - j0 : kChunk;
        const T* __restrict__ y0 = x0 + 2 * j0;
        const T* __restrict__ y1 = x1 + 2 * j0;
        for (int64_t j = 0; j < n; ++j) {
          sum0[j] = y0[2 * j] + y0[2 * j + 1];
          dif0[j] = y0[2 * j] - y0[2 * j + 1];
        }
        for (int64_t j = 0; j < n; ++j) {
          sum1[j] = y1[2 * j] + y1[2 * j + 1];
          dif1[j] = y1[2 * j] - y1[2 * j + 1];
        }
        for (int64_t j = 0; j < n; ++j) {
          lo[j0 + j] = half * (sum0[j] + sum1[j]);
          ad[j0 + j] = half * (dif0[j] + dif1[j]);
          da[j0 + j] = half * (sum0[j] - sum1[j]);
          dd[j0 + j] = half * (dif0[j] - dif1[j]);
        }
      }
      if (p.w & 1) {  // unpaired last column: a 1-D Haar along H, scaled by u along W
        const T a = x0[p.w - 1], c = x1[p.w - 1];
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
                          int64_t i0, int64_t i1, bool stream) {
  const T half = T(0.5), r2 = T(kHaarSqrtHalf);
  const int64_t hl = (p.h + 1) / 2, wl = (p.w + 1) / 2, wp = p.w / 2;
  for (int64_t i = i0; i < i1; ++i) {
    T* r0 = out + 2 * i * so;
    const T* l = ll + i * sl;
    const T* ad = hi + i * sh + wl;
    if (2 * i + 1 < p.h) {
      T* r1 = r0 + so;
      const T* da = hi + (hl + i) * sh;
      {  // six distinct rows (see the analysis)
        T* __restrict__ y0 = r0;
        T* __restrict__ y1 = r1;
        const T* __restrict__ lo = l;
        const T* __restrict__ v_ad = ad;
        const T* __restrict__ v_da = da;
        const T* __restrict__ dd = da + wl;
#if PYWLC_DWT2_LEVEL == 3
        const int64_t done = haar2_synthesis_vector(lo, v_ad, v_da, dd, y0, y1, wp, stream);
#else
        const int64_t done = 0;
        (void)stream;
#endif
        for (int64_t j = done; j < wp; ++j) {
          const T s = lo[j], v = v_ad[j], hh = v_da[j], g = dd[j];
          y0[2 * j] = half * ((s + v) + (hh + g));
          y0[2 * j + 1] = half * ((s - v) + (hh - g));
          y1[2 * j] = half * ((s + v) - (hh + g));
          y1[2 * j + 1] = half * ((s - v) - (hh - g));
        }
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
void haar2_rows_typed(const Haar2Rows& j) {
  const Plane p{j.h, j.w};
  const T u = static_cast<T>(j.u);
  if (j.analysis)
    haar2_analysis_rows(static_cast<const T*>(j.in), j.si, static_cast<T*>(j.low), j.sl, static_cast<T*>(j.bands), j.sb,
                        p, u, j.i0, j.i1, j.stream);
  else
    haar2_synthesis_rows(static_cast<const T*>(j.low), j.sl, static_cast<const T*>(j.in), j.si, static_cast<T*>(j.out),
                         j.so, p, u, j.i0, j.i1, j.stream);
}

}  // namespace

void haar2_rows(const Haar2Rows& j) {
  if (j.float64)
    haar2_rows_typed<double>(j);
  else
    haar2_rows_typed<float>(j);
  if (j.stream) stream_fence();  // before other threads (or the next level) read the rows
}
