// Row kernels of the fused 2-D lifting DWT (../dwt2_fused.h), written once and compiled once per instruction
// set: cpu/dwt2_fused_<isa>.cpp includes this file after a `#pragma GCC target` and inside
// `namespace pywlc::dwt2_<isa>`.  Everything below has internal linkage except run_strip(), so no copy
// compiled for a wider instruction set can be picked by the linker for a narrower one (the usual trap of
// multi-versioning through inline/template functions).  The includer provides <cstdint>, <cstring>,
// <type_traits>, <immintrin.h> (x86), ../dwt2_fused.h and ../lifting_common.h, all before its target pragma,
// and PYWLC_DWT2_LEVEL: 0 portable C++, 1 SSE2, 2 AVX2, 3 AVX-512 (GCC's target pragma does not define
// __AVX2__ / __AVX512F__, so the few intrinsics below key on this).
//
// Layout of a level (ITU-T T.800 Annex F, 2D_SD / 2D_SR): analysis lifts columns first, then rows;
// synthesis rows first, then columns -- the order of the two-pass kernel, so integer 5/3 stays bitwise equal.
//   forward: raw rows enter a ring (even rows -> E, odd rows -> O); the column steps run as one sweep over
//            ring positions, step q working `lag[q]` rows behind the newest (Kutil 2006); a row leaving the
//            sweep is scaled, lifted along the row and written to its two bands.
//   inverse: a row of two bands is unscaled and lifted along the row into the ring; the column steps sweep
//            in reverse order with negated weights; a row leaving the sweep is written out.
// Conventions (steps, boundary rules, scalings) are those of lifting_common.h and pywlc/ops/wavelets.py.

namespace {

using i64 = int64_t;

#if defined(__GNUC__) || defined(__clang__)
#define PYWLC_DWT2_INLINE inline __attribute__((always_inline))
#define PYWLC_DWT2_INLINE_LAMBDA __attribute__((always_inline))
#else
#define PYWLC_DWT2_INLINE inline
#define PYWLC_DWT2_INLINE_LAMBDA
#endif

// ----------------------------------------------------------------------------------------------------
// Element types and their conversions to the compute type

template <class C>
constexpr bool kInteger = static_cast<C>(1) / static_cast<C>(2) == static_cast<C>(0);

#include "../half_bits.h"  // F16, BF16 and their conversions, shared with the CUDA tile kernel

template <class C>
inline C load1(const C* p, i64 i) {
  return p[i];
}
inline float load1(const F16* p, i64 i) { return half_to_float(p[i].bits); }
inline float load1(const BF16* p, i64 i) { return bf16_to_float(p[i].bits); }

template <class C>
inline void store1(C* p, i64 i, C v) {
  p[i] = v;
}
inline void store1(F16* p, i64 i, float v) { p[i].bits = float_to_half(v); }
inline void store1(BF16* p, i64 i, float v) { p[i].bits = float_to_bf16(v); }

template <class C, class S>
void store_row(S* __restrict__ dst, const C* __restrict__ src, i64 n) {
  for (i64 i = 0; i < n; ++i) store1(dst, i, src[i]);
}

// dst[i] = src[i] * scale (integers: no scale), with non-temporal stores when `stream`: rows written to the
// tensor are not read again by this call, and for tensors beyond the caches a streaming store skips the
// read-for-ownership of each line (a third of the traffic).  Only where storage and compute types agree.
template <class C>
void store_scaled(C* __restrict__ dst, const C* __restrict__ src, i64 n, C scale, bool stream) {
  i64 i = 0;
#if PYWLC_DWT2_LEVEL > 0
  if (stream) {
#if PYWLC_DWT2_LEVEL == 3
    constexpr i64 kBytes = 64;
#elif PYWLC_DWT2_LEVEL == 2
    constexpr i64 kBytes = 32;
#else
    constexpr i64 kBytes = 16;
#endif
    constexpr i64 kLanes = kBytes / static_cast<i64>(sizeof(C));
    for (; i < n && reinterpret_cast<uintptr_t>(dst + i) % kBytes; ++i) dst[i] = kInteger<C> ? src[i] : src[i] * scale;
    for (; i + kLanes <= n; i += kLanes) {
      if constexpr (std::is_same<C, float>::value) {
#if PYWLC_DWT2_LEVEL == 3
        _mm512_stream_ps(dst + i, _mm512_mul_ps(_mm512_loadu_ps(src + i), _mm512_set1_ps(scale)));
#elif PYWLC_DWT2_LEVEL == 2
        _mm256_stream_ps(dst + i, _mm256_mul_ps(_mm256_loadu_ps(src + i), _mm256_set1_ps(scale)));
#else
        _mm_stream_ps(dst + i, _mm_mul_ps(_mm_loadu_ps(src + i), _mm_set1_ps(scale)));
#endif
      } else if constexpr (std::is_same<C, double>::value) {
#if PYWLC_DWT2_LEVEL == 3
        _mm512_stream_pd(dst + i, _mm512_mul_pd(_mm512_loadu_pd(src + i), _mm512_set1_pd(scale)));
#elif PYWLC_DWT2_LEVEL == 2
        _mm256_stream_pd(dst + i, _mm256_mul_pd(_mm256_loadu_pd(src + i), _mm256_set1_pd(scale)));
#else
        _mm_stream_pd(dst + i, _mm_mul_pd(_mm_loadu_pd(src + i), _mm_set1_pd(scale)));
#endif
      } else {
#if PYWLC_DWT2_LEVEL == 3
        _mm512_stream_si512(reinterpret_cast<__m512i*>(dst + i), _mm512_loadu_si512(src + i));
#elif PYWLC_DWT2_LEVEL == 2
        _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
#else
        _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i), _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
#endif
      }
    }
  }
#else
  (void)stream;
#endif
  if constexpr (kInteger<C>) {
    for (; i < n; ++i) dst[i] = src[i];
  } else {
    for (; i < n; ++i) dst[i] = src[i] * scale;
  }
}

template <class C, class S>
void store_scaled(S* __restrict__ dst, const C* __restrict__ src, i64 n, C scale, bool) {  // half storage
  for (i64 i = 0; i < n; ++i) store1(dst, i, src[i] * scale);
}

template <class C, class S>
void load_row(C* __restrict__ dst, const S* __restrict__ src, i64 n) {
  for (i64 i = 0; i < n; ++i) dst[i] = load1(src, i);
}

// ----------------------------------------------------------------------------------------------------
// Lifting arithmetic

constexpr i64 kPrefetchLines = 16;  // at most this many lines requested at the head of an upcoming row
constexpr i64 kPrefetchAhead = 3;  // sweep positions ahead
// Sweep positions ahead for the forward's input rows requested along the row sweeps (forward_strip): at
// 1x3x1024^2 fp32 read from memory, the forward 20-30 % faster than with the row heads alone.
constexpr i64 kPrefetchAlongAhead = 4;

// The lines requested along the AVX-512 row sweeps (row_forward_pipelined, row_inverse_pipelined) go to L1 for
// rows up to this many bytes and to L2 beyond: a wide row's ring (16 rows of 4 KiB at 1024 wide fp32) does not
// fit L1, and lines fetched there a few positions early were pushed out by the ring traffic before their use
// while pushing ring rows out themselves.  1 thread, 1x3x1024^2 fp32 (paired interleaved runs on the shared
// machine): 9/7 inverse 13-17 % faster, 5/3 inverse 5-13 %, forward 10 %; the 256-wide rows of a 16x3x256^2
// batch measured even (inverse) to 3 % slower (forward) in L2, so they stay in L1.
constexpr i64 kPrefetchL1RowBytes = 2048;

inline void prefetch_line(const char* p, bool to_l2) {
#if defined(__GNUC__) || defined(__clang__)
  if (to_l2)
    __builtin_prefetch(p, 0, 2);  // prefetcht1
  else
    __builtin_prefetch(p, 0, 3);  // prefetcht0
#else
  (void)p, (void)to_l2;
#endif
}

// Touch the first lines of a row the sweep reads a few positions from now: the whole row up to kPrefetchLines.
// At common widths every row is a page of its own, and hardware stream prefetchers stop at page boundaries; a
// few early requests restart the stream (requesting whole 4 KiB rows instead floods the line-fill buffers and
// stalls the loop).  Rows of 1 KiB and less (the 256-wide planes of a training batch) are requested whole:
// 14-27 % off their forward.
template <class S>
inline void prefetch_row_head(const S* row, i64 n) {
#if defined(__GNUC__) || defined(__clang__)
  const char* p = reinterpret_cast<const char*>(row);
  const i64 bytes = n * static_cast<i64>(sizeof(S)), end = bytes < kPrefetchLines * 64 ? bytes : kPrefetchLines * 64;
  for (i64 b = 0; b < end; b += 64) __builtin_prefetch(p + b, 0, 3);
#else
  (void)row, (void)n;
#endif
}

// Neighbour of sample i of a length-n sequence under the boundary rule; -1 contributes 0
// (lifting_common.h, lift_neighbour).  Periodic ring rows are addressed virtually and never come here.
inline i64 neighbour(i64 i, i64 n, int mode, bool zero_tail) {
  if (i >= 0 && i < n) return i;
  if (mode == kPeriodization) return ((i % n) + n) % n;
  if (zero_tail) return -1;
  return i < 0 ? 0 : n - 1;
}

// t[i] += a * s0[i] + b * s1[i]: every float lifting step, along a row or across ring rows.
template <class C>
inline void axpby(C* __restrict__ t, const C* __restrict__ s0, const C* __restrict__ s1, i64 n, C a, C b) {
  for (i64 i = 0; i < n; ++i) t[i] += a * s0[i] + b * s1[i];
}

// out[i] = t[i] + a * s0[i] + b * s1[i]: a step whose target row is read from the tensor and written to the ring
// (the forward's first two steps load rows this way instead of copying them first).
template <class C>
inline void axpby_to(C* __restrict__ out, const C* __restrict__ t, const C* __restrict__ s0, const C* __restrict__ s1,
                     i64 n, C a, C b) {
  for (i64 i = 0; i < n; ++i) out[i] = t[i] + (a * s0[i] + b * s1[i]);
}

// out[i] = t[i] + (a * s0[i] + b * s1[i]) into the tensor, and with `copy`, copy[i] = s0[i]: the inverse's last
// column step of a row writes its result straight to the output (inverse_strip) instead of into the ring row
// that was copied out two sweep positions later -- that copy re-read a row which had left L1 by then -- and
// copies out its source row s0 where this is the last read of it.  Streaming stores as store_scaled() (the copy
// streams where it shares the output's alignment, else a plain store).
template <class C, class S>
void axpby_store(S* __restrict__ out, S* __restrict__ copy, const C* __restrict__ t, const C* __restrict__ s0,
                 const C* __restrict__ s1, i64 n, C a, C b, bool stream) {
  static_assert(!kInteger<C>, "integer steps go through the ring (column_step)");
  i64 i = 0;
  if constexpr (std::is_same<S, C>::value) {
#if PYWLC_DWT2_LEVEL > 0
    if (stream) {
#if PYWLC_DWT2_LEVEL == 3
      constexpr i64 kBytes = 64;
#elif PYWLC_DWT2_LEVEL == 2
      constexpr i64 kBytes = 32;
#else
      constexpr i64 kBytes = 16;
#endif
      constexpr i64 kLanes = kBytes / static_cast<i64>(sizeof(C));
      for (; i < n && reinterpret_cast<uintptr_t>(out + i) % kBytes; ++i) {
        out[i] = t[i] + (a * s0[i] + b * s1[i]);
        if (copy != nullptr) copy[i] = s0[i];
      }
      const bool copy_stream = copy != nullptr && reinterpret_cast<uintptr_t>(copy + i) % kBytes == 0;
      for (; i + kLanes <= n; i += kLanes) {
        if constexpr (std::is_same<C, float>::value) {
#if PYWLC_DWT2_LEVEL == 3
          const __m512 e = _mm512_loadu_ps(s0 + i);
          const __m512 o = _mm512_loadu_ps(s1 + i);
          const __m512 ab = _mm512_fmadd_ps(_mm512_set1_ps(a), e, _mm512_mul_ps(_mm512_set1_ps(b), o));
          _mm512_stream_ps(out + i, _mm512_add_ps(_mm512_loadu_ps(t + i), ab));
          if (copy_stream) _mm512_stream_ps(copy + i, e); else if (copy != nullptr) _mm512_storeu_ps(copy + i, e);
#elif PYWLC_DWT2_LEVEL == 2
          const __m256 e = _mm256_loadu_ps(s0 + i);
          const __m256 o = _mm256_loadu_ps(s1 + i);
          const __m256 ab = _mm256_fmadd_ps(_mm256_set1_ps(a), e, _mm256_mul_ps(_mm256_set1_ps(b), o));
          _mm256_stream_ps(out + i, _mm256_add_ps(_mm256_loadu_ps(t + i), ab));
          if (copy_stream) _mm256_stream_ps(copy + i, e); else if (copy != nullptr) _mm256_storeu_ps(copy + i, e);
#else
          const __m128 e = _mm_loadu_ps(s0 + i);
          const __m128 o = _mm_loadu_ps(s1 + i);
          const __m128 ab = _mm_add_ps(_mm_mul_ps(_mm_set1_ps(a), e), _mm_mul_ps(_mm_set1_ps(b), o));
          _mm_stream_ps(out + i, _mm_add_ps(_mm_loadu_ps(t + i), ab));
          if (copy_stream) _mm_stream_ps(copy + i, e); else if (copy != nullptr) _mm_storeu_ps(copy + i, e);
#endif
        } else {
#if PYWLC_DWT2_LEVEL == 3
          const __m512d e = _mm512_loadu_pd(s0 + i);
          const __m512d o = _mm512_loadu_pd(s1 + i);
          const __m512d ab = _mm512_fmadd_pd(_mm512_set1_pd(a), e, _mm512_mul_pd(_mm512_set1_pd(b), o));
          _mm512_stream_pd(out + i, _mm512_add_pd(_mm512_loadu_pd(t + i), ab));
          if (copy_stream) _mm512_stream_pd(copy + i, e); else if (copy != nullptr) _mm512_storeu_pd(copy + i, e);
#elif PYWLC_DWT2_LEVEL == 2
          const __m256d e = _mm256_loadu_pd(s0 + i);
          const __m256d o = _mm256_loadu_pd(s1 + i);
          const __m256d ab = _mm256_fmadd_pd(_mm256_set1_pd(a), e, _mm256_mul_pd(_mm256_set1_pd(b), o));
          _mm256_stream_pd(out + i, _mm256_add_pd(_mm256_loadu_pd(t + i), ab));
          if (copy_stream) _mm256_stream_pd(copy + i, e); else if (copy != nullptr) _mm256_storeu_pd(copy + i, e);
#else
          const __m128d e = _mm_loadu_pd(s0 + i);
          const __m128d o = _mm_loadu_pd(s1 + i);
          const __m128d ab = _mm_add_pd(_mm_mul_pd(_mm_set1_pd(a), e), _mm_mul_pd(_mm_set1_pd(b), o));
          _mm_stream_pd(out + i, _mm_add_pd(_mm_loadu_pd(t + i), ab));
          if (copy_stream) _mm_stream_pd(copy + i, e); else if (copy != nullptr) _mm_storeu_pd(copy + i, e);
#endif
        }
      }
    }
#endif
    if (copy != nullptr) {
      for (; i < n; ++i) {
        copy[i] = s0[i];
        out[i] = t[i] + (a * s0[i] + b * s1[i]);
      }
    } else {
      for (; i < n; ++i) out[i] = t[i] + (a * s0[i] + b * s1[i]);
    }
  } else {  // half storage: one rounding of the fp32 result
    (void)stream;
    for (; i < n; ++i) {
      if (copy != nullptr) store1(copy, i, s0[i]);
      store1(out, i, t[i] + (a * s0[i] + b * s1[i]));
    }
  }
}

// T.800 eq. F-5 / F-6 increments in 32 bits: floor((x + y) / 2) and floor((x + y + 2) / 4) without forming
// x + y (which can overflow int32); equal to lifting_common.h's int53_delta for every int32 pair.
inline int32_t floor_half_sum(int32_t x, int32_t y) { return (x >> 1) + (y >> 1) + (x & y & 1); }
inline int32_t floor_quarter_sum(int32_t x, int32_t y) { return (x >> 2) + (y >> 2) + (((x & 3) + (y & 3) + 2) >> 2); }

// Reversible step: t += sign * delta, modulo 2^32 (wrap_add), so the round trip is bitwise for any int32.
inline uint32_t int_delta(bool predict, int32_t x, int32_t y) {
  return predict ? 0u - static_cast<uint32_t>(floor_half_sum(x, y)) : static_cast<uint32_t>(floor_quarter_sum(x, y));
}

inline void int_step(int32_t* __restrict__ t, const int32_t* __restrict__ s0, const int32_t* __restrict__ s1, i64 n,
                     bool predict, bool forward) {
  if (predict == forward) {  // forward predict subtracts floor_half_sum; inverse update subtracts floor_quarter_sum
    if (predict)
      for (i64 i = 0; i < n; ++i)
        t[i] = static_cast<int32_t>(static_cast<uint32_t>(t[i]) - static_cast<uint32_t>(floor_half_sum(s0[i], s1[i])));
    else
      for (i64 i = 0; i < n; ++i)
        t[i] = static_cast<int32_t>(static_cast<uint32_t>(t[i]) - static_cast<uint32_t>(floor_quarter_sum(s0[i], s1[i])));
  } else {
    if (predict)
      for (i64 i = 0; i < n; ++i)
        t[i] = static_cast<int32_t>(static_cast<uint32_t>(t[i]) + static_cast<uint32_t>(floor_half_sum(s0[i], s1[i])));
    else
      for (i64 i = 0; i < n; ++i)
        t[i] = static_cast<int32_t>(static_cast<uint32_t>(t[i]) + static_cast<uint32_t>(floor_quarter_sum(s0[i], s1[i])));
  }
}

inline void int_step_to(int32_t* __restrict__ out, const int32_t* __restrict__ t, const int32_t* __restrict__ s0,
                        const int32_t* __restrict__ s1, i64 n, bool predict) {  // forward sign only
  if (predict)
    for (i64 i = 0; i < n; ++i)
      out[i] = static_cast<int32_t>(static_cast<uint32_t>(t[i]) - static_cast<uint32_t>(floor_half_sum(s0[i], s1[i])));
  else
    for (i64 i = 0; i < n; ++i)
      out[i] = static_cast<int32_t>(static_cast<uint32_t>(t[i]) + static_cast<uint32_t>(floor_quarter_sum(s0[i], s1[i])));
}

// The scheme in the compute type, in execution order:
//   forward:           as given;
//   inverse:           reversed, negated, reciprocal scales;
//   forward adjoint:   (scale . steps . split)^T = split^T . steps^T (reversed) . scale -- inverse-shaped;
//   inverse adjoint:   (merge . steps^-1 . unscale)^T = unscale . (steps^-1)^T (in order) . split -- forward-shaped.
// The transpose of a step is a step of the other kind with a and b swapped (o[i] += a e[i] + b e[i+1] scatters
// into e[i] and e[i+1], i.e. e[j] += b o[j-1] + a o[j]); only at a symmetric boundary, where the extension
// folds a neighbour back onto the edge sample, does it differ (transposed_boundary()).
template <class C>
struct Steps {
  int n;
  int kind[8];
  C a[8], b[8];
  int lag[8];  // sweep lag of each step in the column pipeline
  int out_lag;  // rows between the newest step and a row leaving the sweep (after every read of it)
  C row_low, row_high;  // scaling applied when a row is stored (forward-shaped) or loaded (inverse-shaped)
  C col_low, col_high;  // the same along columns, applied to E / O ring rows
  bool zero_tail;
  bool transposed;  // the adjoints: steps are transposes (kind and a / b as executed, see above)
};

// The op's shape: forward-shaped ops read samples and write bands (forward_strip), the others the reverse.
inline bool forward_shaped(int op) { return op == kForward || op == kInverseAdjoint; }

template <class C>
Steps<C> make_steps(const Dwt2Strip& s) {
  Steps<C> p{};
  p.n = s.num_steps;
  const bool reversed = s.op == kInverse || s.op == kForwardAdjoint;
  const bool negated = s.op == kInverse || s.op == kInverseAdjoint;
  p.transposed = s.op == kForwardAdjoint || s.op == kInverseAdjoint;
  for (int q = 0; q < p.n; ++q) {
    const int from = reversed ? p.n - 1 - q : q;
    const double a = negated ? -s.a[from] : s.a[from], b = negated ? -s.b[from] : s.b[from];
    p.kind[q] = p.transposed ? (s.kind[from] == kPredict ? kUpdate : kPredict) : s.kind[from];
    p.a[q] = static_cast<C>(p.transposed ? b : a);
    p.b[q] = static_cast<C>(p.transposed ? a : b);
    // A predict that follows an update needs e[j + 1] updated: it runs one row behind (lift_group_pipelined).
    p.lag[q] = q == 0 ? 0 : p.lag[q - 1] + ((p.kind[q] == kPredict && p.kind[q - 1] == kUpdate) ? 1 : 0);
  }
  p.out_lag = (p.n ? p.lag[p.n - 1] : 0) + 2;
  // The inverse and its adjoint multiply by the reciprocal, computed in the compute type as lift_group does.
  const bool reciprocal = s.op == kInverse || s.op == kInverseAdjoint;
  const C one = static_cast<C>(1);
  const C kl = static_cast<C>(s.k_low), kh = static_cast<C>(s.k_high);
  p.row_low = p.col_low = reciprocal ? one / kl : kl;
  p.row_high = p.col_high = reciprocal ? one / kh : kh;
  p.zero_tail = s.zero_tail;
  return p;
}

// Target sample j of a transposed step under the symmetric boundary rule, summed from its definition: the
// original step (kind `kind` flipped back, coefficients swapped back) added a * src[n0(i)] + b * src[n1(i)] to
// its target i; its transpose adds a * tgt[i] to n0(i) and b * tgt[i] to n1(i).  `tgt(i)` is the original
// target (the transposed step's source, length ns); the original source has length nt.  Only i within one of
// j can map to j (the extension folds at most one sample), so the reads stay within the step's stencil.
template <class C, class Row>
PYWLC_DWT2_INLINE C transposed_boundary(i64 j, int kind, C a, C b, i64 nt, i64 ns, bool zero_tail, Row tgt) {
  const bool orig_predict = kind != kPredict;  // the transposed step's kind is the original's flipped
  const C orig_a = b, orig_b = a;
  C acc = C(0);
  for (i64 i = j - 1; i <= j + 1; ++i) {
    if (i < 0 || i >= ns) continue;
    const i64 n0 = neighbour(orig_predict ? i : i - 1, nt, kSymmetric, zero_tail);
    const i64 n1 = neighbour(orig_predict ? i + 1 : i, nt, kSymmetric, zero_tail);
    const C w = (n0 == j ? orig_a : C(0)) + (n1 == j ? orig_b : C(0));
    if (w != C(0)) acc += w * tgt(i);
  }
  return acc;
}

// Samples a transposed symmetric step computes from its definition: two at each end (the fold reaches one
// sample in; one more keeps the interior's two reads inside the sequence for any length).
constexpr i64 kTransposedEdge = 2;

// tgt[i] += a * src[i + off0] + b * src[i + off0 + 1] for i in [lo, hi), off0 = 0 (predict) or -1 (update): the
// interior of a step along a row.  With AVX-512 the neighbour one sample over comes from two aligned loads and a
// lane rotation (valignd / valignq) instead of a load one element off: that load splits every cache line, and
// spanning two stores of the previous step it cannot be forwarded from them (a stall per vector).
#if PYWLC_DWT2_LEVEL == 3
template <class C>
struct Lanes512;
template <>
struct Lanes512<float> {
  using V = __m512;
  static constexpr i64 kN = 16;
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V set1(float v) { return _mm512_set1_ps(v); }
  static V zero() { return _mm512_setzero_ps(); }
  static V blend(V v, unsigned lanes, V w) { return _mm512_mask_mov_ps(v, static_cast<__mmask16>(lanes), w); }
  static void store_lanes(float* p, V v, unsigned lanes) { _mm512_mask_storeu_ps(p, static_cast<__mmask16>(lanes), v); }
  static V next(V cur, V nxt) {  // lanes 1.. of cur, then lane 0 of nxt
    return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(nxt), _mm512_castps_si512(cur), 1));
  }
  static V prev(V prv, V cur) {  // last lane of prv, then lanes ..14 of cur
    return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(cur), _mm512_castps_si512(prv), 15));
  }
  static V step(V t, V s0, V s1, V a, V b) { return _mm512_add_ps(t, _mm512_fmadd_ps(a, s0, _mm512_mul_ps(b, s1))); }
  static V sym_step(V t, V s0, V s1, V a) { return _mm512_fmadd_ps(a, _mm512_add_ps(s0, s1), t); }  // a == b
};
template <>
struct Lanes512<double> {
  using V = __m512d;
  static constexpr i64 kN = 8;
  static V load(const double* p) { return _mm512_loadu_pd(p); }
  static void store(double* p, V v) { _mm512_storeu_pd(p, v); }
  static V set1(double v) { return _mm512_set1_pd(v); }
  static V zero() { return _mm512_setzero_pd(); }
  static V blend(V v, unsigned lanes, V w) { return _mm512_mask_mov_pd(v, static_cast<__mmask8>(lanes), w); }
  static void store_lanes(double* p, V v, unsigned lanes) { _mm512_mask_storeu_pd(p, static_cast<__mmask8>(lanes), v); }
  static V next(V cur, V nxt) {
    return _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(nxt), _mm512_castpd_si512(cur), 1));
  }
  static V prev(V prv, V cur) {
    return _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(cur), _mm512_castpd_si512(prv), 7));
  }
  static V step(V t, V s0, V s1, V a, V b) { return _mm512_add_pd(t, _mm512_fmadd_pd(a, s0, _mm512_mul_pd(b, s1))); }
  static V sym_step(V t, V s0, V s1, V a) { return _mm512_fmadd_pd(a, _mm512_add_pd(s0, s1), t); }  // a == b
};
#endif

template <class C>
PYWLC_DWT2_INLINE void row_axpby(C* __restrict__ tgt, const C* __restrict__ src, i64 lo, i64 hi, i64 off0, C a, C b) {
#if PYWLC_DWT2_LEVEL == 3
  if constexpr (std::is_same<C, float>::value || std::is_same<C, double>::value) {
    // Whole aligned blocks of n samples from the one holding lo, the lanes outside [lo, hi) masked off the store
    // (no scalar head or tail: at the narrow rows of coarse levels those cost as much as the vectors).  Loads
    // may pass the end of the row: rows are padded by a line (ring_stride()), and lanes read there reach only
    // masked samples; before its start the update reads zeros instead.
    using L = Lanes512<C>;
    constexpr i64 n = L::kN;
    if (hi <= lo) return;
    const typename L::V va = L::set1(a), vb = L::set1(b);
    i64 i = lo / n * n;
    auto lanes = [lo, hi](i64 at) {
      const i64 first = lo > at ? lo - at : 0, last = hi - at < n ? hi - at : n;
      return ((1u << last) - 1u) & ~((1u << first) - 1u);
    };
    if (off0 == 0) {
      typename L::V cur = L::load(src + i);
      for (; i < hi; i += n) {
        const typename L::V nxt = L::load(src + i + n);
        const typename L::V v = L::step(L::load(tgt + i), cur, L::next(cur, nxt), va, vb);
        if (i >= lo && i + n <= hi)
          L::store(tgt + i, v);
        else
          L::store_lanes(tgt + i, v, lanes(i));
        cur = nxt;
      }
    } else {
      typename L::V prv = i >= n ? L::load(src + i - n) : L::zero();  // lane n-1 only feeds sample i - 1 + 1 = i
      for (; i < hi; i += n) {
        const typename L::V cur = L::load(src + i);
        const typename L::V v = L::step(L::load(tgt + i), L::prev(prv, cur), cur, va, vb);
        if (i >= lo && i + n <= hi)
          L::store(tgt + i, v);
        else
          L::store_lanes(tgt + i, v, lanes(i));
        prv = cur;
      }
    }
    return;
  }
#endif
  axpby(tgt + lo, src + lo + off0, src + lo + off0 + 1, hi > lo ? hi - lo : 0, a, b);
}

// A whole step along a row, borders included, in vectors (AVX-512, float / double; false elsewhere): the
// neighbours past either end (lift_neighbour: the edge sample, 0 with a zero tail, the far end periodically) are
// put into their lanes by a blend.  Patching the border samples with scalar code instead makes the next step's
// vector loads overlap those scalar stores (and the scalar loads overlap masked vector stores), which store
// forwarding cannot serve: a stall per border per step, which at the narrow rows of coarse levels cost more than
// the rows' arithmetic.
template <class C>
PYWLC_DWT2_INLINE bool row_step_vector(C* __restrict__ tgt, const C* __restrict__ src, i64 nt, i64 ns, bool predict,
                                       C a, C b, int mode, bool zero_tail) {
#if PYWLC_DWT2_LEVEL == 3
  if constexpr (std::is_same<C, float>::value || std::is_same<C, double>::value) {
    using L = Lanes512<C>;
    using V = typename L::V;
    constexpr i64 n = L::kN;
    constexpr unsigned kAll = (1u << n) - 1u;
    const bool periodic = mode == kPeriodization;
    const bool zero = zero_tail && !periodic;
    const V before = L::set1(zero ? C(0) : src[periodic ? ns - 1 : 0]);  // src[-1]
    const V after = L::set1(zero ? C(0) : src[periodic ? 0 : ns - 1]);   // src[ns]
    const V va = L::set1(a), vb = L::set1(b);
    const bool sym = a == b;  // t + a (s0 + s1), as row_pipeline() computes it
    auto store = [tgt, nt](i64 i, V v) {
      if (i + n <= nt)
        L::store(tgt + i, v);
      else
        L::store_lanes(tgt + i, v, (1u << (nt - i)) - 1u);
    };
    if (predict) {  // o[i] += a * e[i] + b * e[i + 1]
      V cur = L::load(src);
      for (i64 i = 0; i < nt; i += n) {
        const V nxt = L::load(src + i + n);  // within the row's padding past the end (ring_stride())
        V s1 = L::next(cur, nxt);
        const i64 past = ns - 1 - i;  // the lane whose e[i + 1] is e[ns]
        if (past < n) s1 = L::blend(s1, kAll & (kAll << past), after);
        store(i, sym ? L::sym_step(L::load(tgt + i), cur, s1, va) : L::step(L::load(tgt + i), cur, s1, va, vb));
        cur = nxt;
      }
    } else {  // e[i] += a * o[i - 1] + b * o[i]
      V prv = before;
      for (i64 i = 0; i < nt; i += n) {
        const V cur = L::load(src + i);
        V s0 = L::prev(prv, cur);
        V s1 = cur;
        const i64 past = ns - i;  // the lane whose o[i] is o[ns]
        if (past < n) s1 = L::blend(s1, kAll & (kAll << past), after);
        store(i, sym ? L::sym_step(L::load(tgt + i), s0, s1, va) : L::step(L::load(tgt + i), s0, s1, va, vb));
        prv = cur;
      }
    }
    return true;
  }
#endif
  (void)tgt, (void)src, (void)nt, (void)ns, (void)predict, (void)a, (void)b, (void)mode, (void)zero_tail;
  return false;
}

// One lifting step along a contiguous row of halves E[ne], O[no]: the interior is one vectorised loop, the
// (at most two) boundary samples take their neighbours from the boundary rule.
template <class C>
PYWLC_DWT2_INLINE void row_step(C* E, C* O, i64 ne, i64 no, int kind, C a, C b, int mode, bool zero_tail, bool forward,
                                bool transposed = false) {
  const bool predict = kind == kPredict;
  C* tgt = predict ? O : E;
  const C* src = predict ? E : O;
  const i64 nt = predict ? no : ne, ns = predict ? ne : no;
  const i64 off0 = predict ? 0 : -1;
  i64 lo = -off0;  // first sample whose neighbours (i + off0, i + off0 + 1) both exist
  i64 hi = ns - off0 - 1;
  if (hi > nt) hi = nt;
  if (hi < lo) hi = lo;
  if constexpr (!kInteger<C>) {
    if (transposed && mode != kPeriodization) {  // a periodic transpose is the flipped step everywhere
      lo = lo > kTransposedEdge ? lo : kTransposedEdge;
      hi = hi < nt - kTransposedEdge ? hi : nt - kTransposedEdge;
      if (hi < lo) hi = lo;
      if (lo > nt) lo = hi = nt;
      row_axpby(tgt, src, lo, hi, off0, a, b);
      auto at = [src](i64 i) { return src[i]; };
      for (i64 i = 0; i < lo; ++i) tgt[i] += transposed_boundary(i, kind, a, b, nt, ns, zero_tail, at);
      for (i64 i = hi; i < nt; ++i) tgt[i] += transposed_boundary(i, kind, a, b, nt, ns, zero_tail, at);
      return;
    }
  }
  if constexpr (kInteger<C>) {
    int_step(tgt + lo, src + lo + off0, src + lo + off0 + 1, hi - lo, predict, forward);
  } else {
    if (row_step_vector(tgt, src, nt, ns, predict, a, b, mode, zero_tail)) return;
    row_axpby(tgt, src, lo, hi, off0, a, b);
  }
  for (int part = 0; part < 2; ++part) {
    const i64 i0 = part == 0 ? 0 : hi, i1 = part == 0 ? (lo < nt ? lo : nt) : nt;
    for (i64 i = i0; i < i1; ++i) {
      const i64 j0 = neighbour(i + off0, ns, mode, zero_tail), j1 = neighbour(i + off0 + 1, ns, mode, zero_tail);
      if constexpr (kInteger<C>) {
        const uint32_t d = int_delta(predict, src[j0], src[j1]);
        tgt[i] = static_cast<int32_t>(static_cast<uint32_t>(tgt[i]) + (forward ? d : 0u - d));
      } else {
        C acc = C(0);
        if (j0 >= 0) acc += a * src[j0];
        if (j1 >= 0) acc += b * src[j1];
        tgt[i] += acc;
      }
    }
  }
}

// A row's halves: E[ne] (even samples, low band) and O[no] (odd samples, high band).
template <class C>
struct Halves {
  C* e;
  C* o;
};

// ----------------------------------------------------------------------------------------------------
// Register-blocked row transform (AVX-512, float / double; symmetric boundaries, the forward and the inverse)
//
// Every lifting step of a row in one sweep over blocks of 2n samples (n lanes of evens, n of odds), the steps
// software-pipelined (Kutil 2006, the single-loop scheme, here along the row): a predict needs the evens of the
// next block, so it runs one block behind the step before it; an update needs the odds of the previous block,
// which the pipeline still holds.  The samples stay in registers from the split to the scaled store, instead of
// one sweep through L1 per step (the split, each step, and the scaling each loaded and stored the whole row:
// ~6 loads and 4 stores per vector of output, where this does one load and one store); 1.5x faster on a
// 1024-wide 9/7 row in L2.  The arithmetic is row_step_vector()'s with two reassociations: a step whose two
// weights are equal (5/3, 9/7) is t + a (s0 + s1), and the row's column scale is folded into the band scale
// (the steps are linear).  Results differ from the step-per-sweep path by rounding only (fp64: 1.2e-15
// relative at most over the shapes, modes and levels of tests/test_dwt*.py).  Periodic rows (whose first block
// needs the last) and the adjoints' transposed border steps keep the per-step path.
#if PYWLC_DWT2_LEVEL == 3
template <class C>
struct Split512;
template <>
struct Split512<float> {
  using V = __m512;
  using Mask = __mmask16;
  static V evens(V lo, V hi) {
    return _mm512_permutex2var_ps(lo, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), hi);
  }
  static V odds(V lo, V hi) {
    return _mm512_permutex2var_ps(lo, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), hi);
  }
  static V merge_lo(V e, V o) {  // e0 o0 e1 o1 .. e7 o7
    return _mm512_permutex2var_ps(e, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), o);
  }
  static V merge_hi(V e, V o) {  // e8 o8 .. e15 o15
    return _mm512_permutex2var_ps(e, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), o);
  }
  static V lane(V v, i64 l) { return _mm512_permutexvar_ps(_mm512_set1_epi32(static_cast<int>(l)), v); }
  static V load(const float* p, i64 count) {  // lanes past `count` read as 0 (and are not touched in memory)
    return count >= 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(static_cast<Mask>((1u << count) - 1u), p);
  }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v, bool stream) {  // stream: p is line-aligned
    if (stream)
      _mm512_stream_ps(p, v);
    else
      _mm512_storeu_ps(p, v);
  }
  static void store(float* p, V v, i64 count, bool stream) {
    if (count >= 16) {
      if (stream && reinterpret_cast<uintptr_t>(p) % 64 == 0)
        _mm512_stream_ps(p, v);
      else
        _mm512_storeu_ps(p, v);
    } else {
      _mm512_mask_storeu_ps(p, static_cast<Mask>((1u << count) - 1u), v);
    }
  }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
};
template <>
struct Split512<double> {
  using V = __m512d;
  using Mask = __mmask8;
  static V evens(V lo, V hi) { return _mm512_permutex2var_pd(lo, _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), hi); }
  static V odds(V lo, V hi) { return _mm512_permutex2var_pd(lo, _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15), hi); }
  static V merge_lo(V e, V o) { return _mm512_permutex2var_pd(e, _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), o); }
  static V merge_hi(V e, V o) { return _mm512_permutex2var_pd(e, _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15), o); }
  static V lane(V v, i64 l) { return _mm512_permutexvar_pd(_mm512_set1_epi64(l), v); }
  static V load(const double* p, i64 count) {
    return count >= 8 ? _mm512_loadu_pd(p) : _mm512_maskz_loadu_pd(static_cast<Mask>((1u << count) - 1u), p);
  }
  static V load(const double* p) { return _mm512_loadu_pd(p); }
  static void store(double* p, V v, bool stream) {  // stream: p is line-aligned
    if (stream)
      _mm512_stream_pd(p, v);
    else
      _mm512_storeu_pd(p, v);
  }
  static void store(double* p, V v, i64 count, bool stream) {
    if (count >= 8) {
      if (stream && reinterpret_cast<uintptr_t>(p) % 64 == 0)
        _mm512_stream_pd(p, v);
      else
        _mm512_storeu_pd(p, v);
    } else {
      _mm512_mask_storeu_pd(p, static_cast<Mask>((1u << count) - 1u), v);
    }
  }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
};

inline i64 clamp_lanes(i64 v, i64 n) { return v < 0 ? 0 : (v > n ? n : v); }

// The sweep for a scheme of N steps over halves of ne evens and no odds, for R rows of that width at once:
// load(r, c, e, o) gives block c of row r (zeros past the ends), store(r, i, e, o) takes block i of row r after
// the last step.  Stage q works on block c - lag[q] at sweep position c; cur[q] / prv[q] hold its latest two
// blocks (evens, odds), which the next stage reads.  The kinds alternate, the first a predict when P0 (the
// forward) or an update (the inverse): known at compile time, so the stages unroll into straight-line code on
// registers.  The R rows' stages run side by side: a position's steps are one dependent chain per row (about
// 40 cycles for 9/7), and a row of a few blocks is too short for the core to overlap consecutive positions
// much, so two rows give it two independent chains, and their edge checks are made once.
template <class C, int N, bool P0, bool kSym, int R, class Load, class Store>
PYWLC_DWT2_INLINE void row_pipeline(const Steps<C>& p, i64 ne, i64 no, Load load, Store store) {
  using L = Lanes512<C>;
  using S = Split512<C>;
  using V = typename L::V;
  using Edge = std::true_type;
  using Inner = std::false_type;
  constexpr i64 n = L::kN;
  constexpr unsigned kAll = (1u << n) - 1u;
  constexpr auto predict = [](int q) { return ((q - 1) % 2 == 0) == P0; };  // the kind of stage q >= 1
  i64 lag[N + 1];
  V va[N + 1], vb[N + 1];
  lag[0] = 0;
#pragma GCC unroll 8
  for (int q = 1; q <= N; ++q) {
    lag[q] = lag[q - 1] + (predict(q) ? 1 : 0);
    va[q] = L::set1(p.a[q - 1]);
    vb[q] = L::set1(p.b[q - 1]);
  }
  const i64 blocks = (ne + n - 1) / n, w = ne + no;
  const bool zero = p.zero_tail;
  V ce[R][N + 1], co[R][N + 1], pe[R][N + 1], po[R][N + 1];
#pragma GCC unroll 2
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int q = 0; q <= N; ++q) ce[r][q] = co[r][q] = pe[r][q] = po[r][q] = L::zero();
  // One sweep position; `edge` positions check the row's ends (the first block of an update, the blocks
  // whose neighbours cross the end, partial loads and stores), the others run straight through.
  auto position = [&](i64 c, auto edge) PYWLC_DWT2_INLINE_LAMBDA {
    constexpr bool kEdge = decltype(edge)::value;
#pragma GCC unroll 2
    for (int r = 0; r < R; ++r) {
      if (!kEdge || c < blocks) {
        load(r, c, ce[r][0], co[r][0], edge);
      } else {
        ce[r][0] = co[r][0] = L::zero();
      }
    }
#pragma GCC unroll 8
    for (int q = 1; q <= N; ++q) {
      const i64 i = c - lag[q];
#pragma GCC unroll 2
      for (int r = 0; r < R; ++r) {
        if (predict(q)) {  // o[k] += a e[k] + b e[k + 1] on block i = the previous stage's prv
          const V e = pe[r][q - 1];
          V s1 = L::next(e, ce[r][q - 1]);
          if (kEdge) {
            const i64 past = ne - 1 - i * n;  // the lane whose e[k + 1] is e[ne] (the edge sample, or 0)
            if (past < n && past >= 0) s1 = L::blend(s1, kAll & (kAll << past), zero ? L::zero() : S::lane(e, past));
          }
          co[r][q] = kSym ? L::sym_step(po[r][q - 1], e, s1, va[q]) : L::step(po[r][q - 1], e, s1, va[q], vb[q]);
          ce[r][q] = e;
        } else {  // e[k] += a o[k - 1] + b o[k] on block i = the previous stage's cur
          const V o = co[r][q - 1];
          V before = po[r][q - 1], s1 = o;
          if (kEdge) {
            if (i == 0) before = zero ? L::zero() : S::lane(o, 0);
            const i64 past = no - i * n;  // the lane whose o[k] is o[no]
            if (past < n && past >= 0) {
              const V edge_o = zero ? L::zero() : past > 0 ? S::lane(o, past - 1) : S::lane(po[r][q - 1], n - 1);
              s1 = L::blend(s1, kAll & (kAll << past), edge_o);
            }
          }
          const V s0 = L::prev(before, o);
          ce[r][q] = kSym ? L::sym_step(ce[r][q - 1], s0, s1, va[q]) : L::step(ce[r][q - 1], s0, s1, va[q], vb[q]);
          co[r][q] = o;
        }
      }
    }
    const i64 i = c - lag[N];
#pragma GCC unroll 2
    for (int r = 0; r < R; ++r)
      if (!kEdge || i >= 0) store(r, i, ce[r][N], co[r][N], edge);
#pragma GCC unroll 2
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
      for (int q = 0; q <= N; ++q) {
        pe[r][q] = ce[r][q];
        po[r][q] = co[r][q];
      }
  };
  // Positions that need no checks: every stage past its first block and short of the last whose neighbours or
  // loads / stores reach the end.
  auto floor_div = [](i64 a) { return a >= 0 ? a / n : i64(-1); };
  auto lesser = [](i64 a, i64 b) { return a < b ? a : b; };
  i64 inner_end = floor_div(w - 2 * n) / 2 + 1;  // whole loads: 2n (c + 1) <= w
  inner_end = lesser(inner_end, lag[N] + floor_div(no - n) + 1);  // whole stores of both halves
#pragma GCC unroll 8
  for (int q = 1; q <= N; ++q)
    inner_end = lesser(inner_end, lag[q] + (predict(q) ? floor_div(ne - 1 - n) : floor_div(no - n)) + 1);
  const i64 inner_begin = lag[N] + 1, end = blocks + lag[N];
  i64 c = 0;
  for (; c < lesser(inner_begin, end); ++c) position(c, Edge());
  for (; c < inner_end; ++c) position(c, Inner());
  for (; c < end; ++c) position(c, Edge());
}

// Whether row_pipeline() takes the rows of this scheme (and the C it is compiled for).
template <class C>
inline bool row_pipeline_applies(const Steps<C>& p, int mode, i64 w, bool first_predict) {
  if (!(std::is_same<C, float>::value || std::is_same<C, double>::value) || p.transposed || mode == kPeriodization ||
      w < 2 || (p.n != 2 && p.n != 4))
    return false;
  for (int q = 0; q < p.n; ++q)
    if ((p.kind[q] == kPredict) != ((q % 2 == 0) == first_predict)) return false;
  return true;
}

// Forward rows: R rows x[r][w] (lifted along columns) split, scaled by col[r], lifted, scaled and stored to
// low[r] / high[r]; pf[r]: an input row to request along the sweep (or null).
template <class C, int N, bool kSym, int R>
void row_forward_pipelined(const C* const* x, i64 w, const C* col, const Steps<C>& p, C* const* low,
                           C* const* high, const bool* stream, const char* const* pf) {
  using S = Split512<C>;
  using V = typename S::V;
  constexpr i64 n = Lanes512<C>::kN;
  const i64 ne = (w + 1) / 2, no = w / 2;
  // The row's column scale and the band scales as one factor: the steps are linear, so scaling the samples
  // before them (as the step-per-sweep path does) or the halves after them differs only in rounding.
  V vl[R], vh[R];
  // Streaming stores need whole aligned lines: a row that starts off a line is stored the ordinary way.
  bool stream_low[R], stream_high[R];
  for (int r = 0; r < R; ++r) {
    vl[r] = Lanes512<C>::set1(p.row_low * col[r]);
    vh[r] = Lanes512<C>::set1(p.row_high * col[r]);
    stream_low[r] = stream[r] && reinterpret_cast<uintptr_t>(low[r]) % 64 == 0;
    stream_high[r] = stream[r] && reinterpret_cast<uintptr_t>(high[r]) % 64 == 0;
  }
  const bool pf_l2 = w * static_cast<i64>(sizeof(C)) > kPrefetchL1RowBytes;
  row_pipeline<C, N, true, kSym, R>(
      p, ne, no,
      [&](int r, i64 c, V& e, V& o, auto edge) PYWLC_DWT2_INLINE_LAMBDA {
        // Two lines of an input row a few positions ahead per block of this one (see forward_strip).
        if (pf[r] != nullptr) {
          prefetch_line(pf[r] + c * 128, pf_l2);
          prefetch_line(pf[r] + c * 128 + 64, pf_l2);
        }
        const C* xr = x[r];
        const i64 at = 2 * n * c;
        const V lo = decltype(edge)::value ? S::load(xr + at, clamp_lanes(w - at, n)) : S::load(xr + at);
        const V hi = decltype(edge)::value ? S::load(xr + at + n, clamp_lanes(w - at - n, n)) : S::load(xr + at + n);
        e = S::evens(lo, hi);
        o = S::odds(lo, hi);
      },
      [&](int r, i64 i, V e, V o, auto edge) PYWLC_DWT2_INLINE_LAMBDA {
        if (decltype(edge)::value) {
          S::store(low[r] + i * n, S::mul(e, vl[r]), clamp_lanes(ne - i * n, n), stream_low[r]);
          if (i * n < no) S::store(high[r] + i * n, S::mul(o, vh[r]), clamp_lanes(no - i * n, n), stream_high[r]);
        } else {
          S::store(low[r] + i * n, S::mul(e, vl[r]), stream_low[r]);
          S::store(high[r] + i * n, S::mul(o, vh[r]), stream_high[r]);
        }
      });
}

// Inverse rows: R rows from low[r] / high[r], unscaled, lifted (reversed, negated), merged into x[r][w] scaled by
// col[r]; pf[2r], pf[2r + 1]: the halves of a row to request along the sweep (or null).
template <class C, int N, bool kSym, int R>
void row_inverse_pipelined(const C* const* low, const C* const* high, i64 w, const C* col, const Steps<C>& p,
                           C* const* x, const char* const* pf) {
  using S = Split512<C>;
  using V = typename S::V;
  constexpr i64 n = Lanes512<C>::kN;
  const i64 ne = (w + 1) / 2, no = w / 2;
  // The row's column scale and the band scales as one factor: the steps are linear, so scaling the samples
  // before them (as the step-per-sweep path does) or the halves after them differs only in rounding.
  V vl[R], vh[R];
  for (int r = 0; r < R; ++r) {
    vl[r] = Lanes512<C>::set1(p.row_low * col[r]);
    vh[r] = Lanes512<C>::set1(p.row_high * col[r]);
  }
  const bool pf_l2 = w * static_cast<i64>(sizeof(C)) > kPrefetchL1RowBytes;
  row_pipeline<C, N, false, kSym, R>(
      p, ne, no,
      [&](int r, i64 c, V& e, V& o, auto edge) PYWLC_DWT2_INLINE_LAMBDA {
        // A line of each half of the row read a few positions from now (see axpby_to).
        if (pf != nullptr) {
          if (pf[2 * r] != nullptr) prefetch_line(pf[2 * r] + c * 64, pf_l2);
          if (pf[2 * r + 1] != nullptr) prefetch_line(pf[2 * r + 1] + c * 64, pf_l2);
        }
        if (decltype(edge)::value) {
          e = S::mul(S::load(low[r] + c * n, clamp_lanes(ne - c * n, n)), vl[r]);
          o = S::mul(S::load(high[r] + c * n, clamp_lanes(no - c * n, n)), vh[r]);
        } else {
          e = S::mul(S::load(low[r] + c * n), vl[r]);
          o = S::mul(S::load(high[r] + c * n), vh[r]);
        }
      },
      [&](int r, i64 i, V e, V o, auto edge) PYWLC_DWT2_INLINE_LAMBDA {
        const i64 at = 2 * n * i;
        C* xr = x[r];
        if (decltype(edge)::value) {
          S::store(xr + at, S::merge_lo(e, o), clamp_lanes(w - at, n), false);
          if (at + n < w) S::store(xr + at + n, S::merge_hi(e, o), clamp_lanes(w - at - n, n), false);
        } else {
          S::store(xr + at, S::merge_lo(e, o), false);
          S::store(xr + at + n, S::merge_hi(e, o), false);
        }
      });
}
#endif

#if PYWLC_DWT2_LEVEL == 3
// Calls f(steps, symmetric) with both as compile-time constants: 2 or 4 steps, and whether every step weighs
// its two neighbours alike (5/3, 9/7: t += a (s0 + s1), one multiply fewer per step).
template <class C, class F>
PYWLC_DWT2_INLINE void dispatch_pipeline(const Steps<C>& p, F f) {
  bool sym = true;
  for (int q = 0; q < p.n; ++q) sym = sym && p.a[q] == p.b[q];
  using Two = std::integral_constant<int, 2>;
  using Four = std::integral_constant<int, 4>;
  if (p.n == 2) {
    if (sym) f(Two(), std::true_type()); else f(Two(), std::false_type());
  } else {
    if (sym) f(Four(), std::true_type()); else f(Four(), std::false_type());
  }
}
#endif

// Analysis of rows x[r][w] (already lifted along columns), one or two at a time: split, the row steps, scale by
// the band scale times the column scale col[r] (which the two-pass kernel applies before gathering the row: the
// steps are linear, so only rounding differs), store low[r] / high[r].  Two rows take their steps in turn, so a step's shifted reads (e[i + 1], o[i - 1]) find
// the previous step's stores of that row committed rather than stalling on store-to-load forwarding.
template <class C, class SL0, class SL1, class SH>
void rows_forward(int n, const C* x0, const C* x1, i64 w, C col0, C col1, const Steps<C>& p, int mode,
                  const Halves<C>* h, SL0* low0, SH* high0, SL1* low1, SH* high1, bool stream,
                  const char* const* pf) {
  const i64 ne = (w + 1) / 2, no = w / 2;
  (void)pf;  // requested along the AVX-512 row sweeps only
#if PYWLC_DWT2_LEVEL == 3
  if constexpr (std::is_same<SL0, C>::value && std::is_same<SL1, C>::value && std::is_same<SH, C>::value &&
                !kInteger<C>) {
    if (row_pipeline_applies(p, mode, w, true)) {
      // The scratch low band streams too (a cached store of a band the size of the output reads each line
      // for ownership first; the 16x3x256^2 forward measured 15-25 % slower that way).
      const bool stream0 = stream && std::is_same<SL0, SH>::value;
      auto rows = [&](auto steps, auto sym) {
        constexpr int kN = decltype(steps)::value;
        constexpr bool kS = decltype(sym)::value;
        const C* xs[2] = {x0, x1};
        const C cols[2] = {col0, col1};
        C* lows[2] = {low0, low1};
        C* highs[2] = {high0, high1};
        const bool streams[2] = {stream0, stream};
        if (n > 1)
          row_forward_pipelined<C, kN, kS, 2>(xs, w, cols, p, lows, highs, streams, pf);
        else
          row_forward_pipelined<C, kN, kS, 1>(xs, w, cols, p, lows, highs, streams, pf);
      };
      dispatch_pipeline(p, rows);
      return;
    }
  }
#endif
  for (int r = 0; r < n; ++r) {
    const C* __restrict__ x = r == 0 ? x0 : x1;
    C* __restrict__ E = h[r].e;
    C* __restrict__ O = h[r].o;
    for (i64 i = 0; i < no; ++i) {  // the column scale is applied with the band scale at the store
      E[i] = x[2 * i];
      O[i] = x[2 * i + 1];
    }
    if (w & 1) E[ne - 1] = x[w - 1];
  }
  for (int q = 0; q < p.n; ++q)
    for (int r = 0; r < n; ++r) row_step(h[r].e, h[r].o, ne, no, p.kind[q], p.a[q], p.b[q], mode, p.zero_tail, true, p.transposed);
  // The scratch low band streams too (see above).
  store_scaled(low0, h[0].e, ne, C(p.row_low * col0), stream && std::is_same<SL0, SH>::value);
  store_scaled(high0, h[0].o, no, C(p.row_high * col0), stream);
  if (n > 1) {
    store_scaled(low1, h[1].e, ne, C(p.row_low * col1), stream);
    store_scaled(high1, h[1].o, no, C(p.row_high * col1), stream);
  }
}

// Synthesis of one or two rows from their halves low[r] / high[r]: unscale by the band scale times the column
// unscale col[r] (which the two-pass kernel applies after gathering the column), the row steps (reversed,
// negated; two rows in turn, as in rows_forward), merge into x[r][w].
template <class C, class SL0, class SL1, class SH>
void rows_inverse(int n, const SL0* low0, const SH* high0, const SL1* low1, const SH* high1, i64 w, C col0, C col1,
                  const Steps<C>& p, int mode, const Halves<C>* h, C* x0, C* x1, const char* const* pf) {
  const i64 ne = (w + 1) / 2, no = w / 2;
#if PYWLC_DWT2_LEVEL == 3
  if constexpr (std::is_same<SL0, C>::value && std::is_same<SL1, C>::value && std::is_same<SH, C>::value &&
                !kInteger<C>) {
    if (row_pipeline_applies(p, mode, w, false)) {
      auto rows = [&](auto steps, auto sym) {
        constexpr int kN = decltype(steps)::value;
        constexpr bool kS = decltype(sym)::value;
        const C* lows[2] = {low0, low1};
        const C* highs[2] = {high0, high1};
        const C cols[2] = {col0, col1};
        C* xs[2] = {x0, x1};
        if (n > 1)
          row_inverse_pipelined<C, kN, kS, 2>(lows, highs, w, cols, p, xs, pf);
        else
          row_inverse_pipelined<C, kN, kS, 1>(lows, highs, w, cols, p, xs, pf);
      };
      dispatch_pipeline(p, rows);
      return;
    }
  }
#endif
  if (pf != nullptr) {  // the step-per-sweep path: the heads of the rows (see prefetch_row_head)
    const i64 bytes[4] = {ne * static_cast<i64>(sizeof(SL0)), no * static_cast<i64>(sizeof(SH)),
                          ne * static_cast<i64>(sizeof(SH)), no * static_cast<i64>(sizeof(SH))};
    for (int q = 0; q < 4; ++q)
      if (pf[q] != nullptr) prefetch_row_head(pf[q], bytes[q]);
  }
  if constexpr (kInteger<C>) {
    load_row(h[0].e, low0, ne);
    load_row(h[0].o, high0, no);
    if (n > 1) {
      load_row(h[1].e, low1, ne);
      load_row(h[1].o, high1, no);
    }
  } else {  // the column scale folded into the band scale, as row_inverse_pipelined() does
    const C l0 = p.row_low * col0, h0 = p.row_high * col0, l1 = p.row_low * col1, h1 = p.row_high * col1;
    for (i64 i = 0; i < ne; ++i) h[0].e[i] = load1(low0, i) * l0;
    for (i64 i = 0; i < no; ++i) h[0].o[i] = load1(high0, i) * h0;
    if (n > 1) {
      for (i64 i = 0; i < ne; ++i) h[1].e[i] = load1(low1, i) * l1;
      for (i64 i = 0; i < no; ++i) h[1].o[i] = load1(high1, i) * h1;
    }
  }
  for (int q = 0; q < p.n; ++q)
    for (int r = 0; r < n; ++r) row_step(h[r].e, h[r].o, ne, no, p.kind[q], p.a[q], p.b[q], mode, p.zero_tail, false, p.transposed);
  for (int r = 0; r < n; ++r) {
    C* __restrict__ x = r == 0 ? x0 : x1;
    const C* __restrict__ E = h[r].e;
    const C* __restrict__ O = h[r].o;
    for (i64 i = 0; i < no; ++i) {
      x[2 * i] = E[i];
      x[2 * i + 1] = O[i];
    }
    if (w & 1) x[w - 1] = E[ne - 1];
  }
}

// ----------------------------------------------------------------------------------------------------
// The column pipeline over a ring of rows

// Ring of `rows` E rows and as many O rows of width w; virtual row v (any integer: periodic strips start
// above row 0) lives in slot v mod rows.
template <class C>
struct Ring {
  C* e;
  C* o;
  i64 w, stride, mask;
  C* e_row(i64 v) const { return e + (v & mask) * stride; }
  C* o_row(i64 v) const { return o + (v & mask) * stride; }
};

// Ring row stride: whole 64-byte lines plus one, so rows of a power-of-two width do not all map to the
// same L1 sets (a 4 KiB stride would leave the 16 ring rows fighting over 8 ways).
template <class C>
inline i64 ring_stride(i64 w) {
  const i64 line = 64 / static_cast<i64>(sizeof(C));
  return (w + line - 1) / line * line + line;
}

// Work memory: E ring, O ring, then the halves of two rows (each padded the same way).
template <class C>
inline Ring<C> make_ring(C* work, i64 w, i64 rows) {
  const i64 st = ring_stride<C>(w);
  return Ring<C>{work, work + rows * st, w, st, rows - 1};
}

template <class C>
inline Halves<C> row_halves(const Ring<C>& r, C* work, i64 wl, int k) {
  C* base = work + 2 * (r.mask + 1) * r.stride + 2 * k * ring_stride<C>(wl);
  return Halves<C>{base, base + ring_stride<C>(wl)};
}

// Step q of the sweep at ring row j (virtual), if that row exists.  Symmetric strips clamp neighbours into
// [0, n); periodic ones read the virtual rows around j, which the loads filled with the wrapped rows.
// With `out`, the step is the row's last (the inverse's final column step, inverse_strip): its result goes to
// out (w samples) -- straight from the arithmetic for float steps, else from the ring row after the step.  With
// `copy` too (float, untransposed predicts only: their first source row is row j, read here for the last time),
// that source row goes to copy in the same loop.
template <class C, class SOut = C>
void column_step(const Ring<C>& r, const Steps<C>& p, int q, i64 j, i64 ks, i64 ne, i64 no, bool periodic,
                 bool forward, SOut* out = nullptr, bool stream = false, SOut* copy = nullptr) {
  const bool predict = p.kind[q] == kPredict;
  const i64 nt = predict ? no : ne, ns = predict ? ne : no;
  if (j < ks || (!periodic && j >= nt)) return;
  if constexpr (!kInteger<C>) {
    if (p.transposed && !periodic && (j < kTransposedEdge || j >= nt - kTransposedEdge)) {
      C* t = predict ? r.o_row(j) : r.e_row(j);
      const C* rows[3] = {nullptr, nullptr, nullptr};  // source rows j - 1, j, j + 1 where they exist
      for (int d = 0; d < 3; ++d)
        if (j - 1 + d >= 0 && j - 1 + d < ns) rows[d] = predict ? r.e_row(j - 1 + d) : r.o_row(j - 1 + d);
      // The row's weights on its three neighbours (one per sample would repeat the same sum across the row).
      C wgt[3];
      for (int d = 0; d < 3; ++d) {
        C unit[3] = {C(0), C(0), C(0)};
        unit[d] = C(1);
        wgt[d] = transposed_boundary(j, p.kind[q], p.a[q], p.b[q], nt, ns, p.zero_tail,
                                     [&unit, j](i64 i) { return unit[i - j + 1]; });
      }
      for (int d = 0; d < 3; ++d) {
        if (rows[d] == nullptr || wgt[d] == C(0)) continue;
        C* __restrict__ tt = t;
        const C* __restrict__ ss = rows[d];
        const C wd = wgt[d];
        for (i64 x = 0; x < r.w; ++x) tt[x] += wd * ss[x];
      }
      if (out != nullptr) store_scaled(out, t, r.w, C(1), stream);
      return;
    }
  }
  const i64 i0 = predict ? j : j - 1;
  // Virtual rows may be negative (periodic); `has` is false only for a zero-tail neighbour past the end.
  i64 n0 = i0, n1 = i0 + 1;
  bool has0 = true, has1 = true;
  if (!periodic) {
    n0 = neighbour(i0, ns, kSymmetric, p.zero_tail);
    n1 = neighbour(i0 + 1, ns, kSymmetric, p.zero_tail);
    has0 = n0 >= 0;
    has1 = n1 >= 0;
  }
  C* t = predict ? r.o_row(j) : r.e_row(j);
  const C* s0 = predict ? r.e_row(has0 ? n0 : 0) : r.o_row(has0 ? n0 : 0);
  const C* s1 = predict ? r.e_row(has1 ? n1 : 0) : r.o_row(has1 ? n1 : 0);
  if constexpr (kInteger<C>) {
    int_step(t, s0, s1, r.w, predict, forward);
    if (out != nullptr) store_scaled(out, t, r.w, C(1), stream);
    if (copy != nullptr) store_scaled(copy, s0, r.w, C(1), stream);
  } else {
    if (out != nullptr)
      axpby_store(out, copy, t, s0, s1, r.w, has0 ? p.a[q] : C(0), has1 ? p.b[q] : C(0), stream);
    else
      axpby(t, s0, s1, r.w, has0 ? p.a[q] : C(0), has1 ? p.b[q] : C(0));
  }
}

#if PYWLC_DWT2_LEVEL == 3
// All column steps of one sweep position in one pass along the row (AVX-512, float / double; a scheme of 2 or
// 4 alternating steps, untransposed).  Step by step (column_step), each step loads three ring rows and stores
// one: 12 loads and 4 stores per vector of a 9/7 position, and at 1024 wide the ring (16 rows of 4 KiB) is
// beyond L1, so most of them go to L2.  Here each vector of columns loads every row the position reads once,
// runs the steps on registers (Kutil 2006's single loop, across the steps of one position) and stores each
// row it changed once: 6 loads and 3 ring stores for the 9/7 inverse.  Only interior positions come here:
// every step's row exists and has both neighbours (column_steps_fusable).  The arithmetic is column_step()'s,
// t + (a s0 + b s1) contracted as GCC does it there (fma(a, s0, b s1)), so results are bitwise those of the
// step-by-step path, which the positions at strip and image edges still take.
//   kForward (the forward's direct opening, forward_strip): the first predict's target O(k) and sources E(k),
//     E(k + 1) come from the input rows in_o / in_e0 / in_e1 (first_steps_direct), every target goes back to
//     the ring (the rows leave the sweep out_lag positions later, through rows_forward).
//   inverse: the last step's target goes to `out` (the output row) and, where `copy` is given, the last
//     predict's first source row -- read there for the last time -- to `copy`, as column_step() does.
template <int N, bool P0, bool kForward>
struct ColumnPlan {
  // Rows are named by their distance d = k - row from the position k, d in [-1, 3], stored at index d + 1.
  int lag[N];
  bool predict[N];
  bool read_e[5], read_o[5];  // rows loaded from the ring
  bool dirty_e[5], dirty_o[5];  // rows stored back to the ring
  constexpr ColumnPlan() : lag(), predict(), read_e(), read_o(), dirty_e(), dirty_o() {
    for (int q = 0; q < N; ++q) {
      predict[q] = (q % 2 == 0) == P0;
      lag[q] = q == 0 ? 0 : lag[q - 1] + ((predict[q] && !predict[q - 1]) ? 1 : 0);
      const int t = lag[q] + 1;  // the target row's index
      if (predict[q]) {  // O(j) += a E(j) + b E(j + 1)
        read_o[t] = read_e[t] = read_e[t - 1] = true;
        if (kForward || q + 1 < N) dirty_o[t] = true;
      } else {  // E(j) += a O(j - 1) + b O(j)
        read_e[t] = read_o[t + 1] = read_o[t] = true;
        if (kForward || q + 1 < N) dirty_e[t] = true;
      }
    }
    if (kForward) read_e[0] = read_e[1] = read_o[1] = false;  // E(k + 1), E(k), O(k): the input rows
  }
};

template <class C, int N, bool P0, bool kForward>
void column_steps_fused(const Ring<C>& r, const Steps<C>& p, i64 k, C* __restrict__ out, C* __restrict__ copy,
                        bool stream, const C* in_e0, const C* in_e1, const C* in_o) {
  using L = Lanes512<C>;
  using S = Split512<C>;
  using V = typename L::V;
  constexpr i64 n = L::kN;
  constexpr ColumnPlan<N, P0, kForward> plan;
  C* e_rows[5];
  C* o_rows[5];
#pragma GCC unroll 5
  for (int d = 0; d < 5; ++d) {
    e_rows[d] = plan.read_e[d] || plan.dirty_e[d] ? r.e_row(k - (d - 1)) : nullptr;
    o_rows[d] = plan.read_o[d] || plan.dirty_o[d] ? r.o_row(k - (d - 1)) : nullptr;
  }
  V va[N], vb[N];
#pragma GCC unroll 4
  for (int q = 0; q < N; ++q) {
    va[q] = L::set1(p.a[q]);
    vb[q] = L::set1(p.b[q]);
  }
  constexpr int last = plan.lag[N - 1] + 1;
  constexpr bool last_predict = plan.predict[N - 1];
  // Streaming stores need whole aligned lines: rows that start off a line are stored the ordinary way.
  const bool stream_out = !kForward && stream && reinterpret_cast<uintptr_t>(out) % 64 == 0;
  const bool stream_copy = !kForward && stream && copy != nullptr && reinterpret_cast<uintptr_t>(copy) % 64 == 0;
  const i64 w = r.w;
  auto body = [&](i64 x, i64 count) PYWLC_DWT2_INLINE_LAMBDA {
    V e[5], o[5];
#pragma GCC unroll 5
    for (int d = 0; d < 5; ++d) {
      if (plan.read_e[d]) e[d] = S::load(e_rows[d] + x, count);
      if (plan.read_o[d]) o[d] = S::load(o_rows[d] + x, count);
    }
    if constexpr (kForward) {
      e[0] = S::load(in_e1 + x, count);
      e[1] = S::load(in_e0 + x, count);
      o[1] = S::load(in_o + x, count);
    }
#pragma GCC unroll 4
    for (int q = 0; q < N; ++q) {
      const int t = plan.lag[q] + 1;
      if (plan.predict[q])
        o[t] = L::step(o[t], e[t], e[t - 1], va[q], vb[q]);
      else
        e[t] = L::step(e[t], o[t + 1], o[t], va[q], vb[q]);
    }
#pragma GCC unroll 5
    for (int d = 0; d < 5; ++d) {
      if (plan.dirty_e[d]) S::store(e_rows[d] + x, e[d], count, false);
      if (plan.dirty_o[d]) S::store(o_rows[d] + x, o[d], count, false);
    }
    if constexpr (!kForward) {
      const V result = last_predict ? o[last] : e[last];
      if (count >= n) {
        S::store(out + x, result, stream_out);
        if (last_predict && copy != nullptr) S::store(copy + x, e[last], stream_copy);
      } else {
        S::store(out + x, result, count, false);
        if (last_predict && copy != nullptr) S::store(copy + x, e[last], count, false);
      }
    }
  };
  i64 x = 0;
  for (; x + n <= w; x += n) body(x, n);
  if (x < w) body(x, w - x);
}

// The forward fuses its column steps for rows up to this many bytes.  Wider rows read from memory (a 1024-wide
// fp32 level 0: three input rows and seven ring rows of 4 KiB per position, beyond L1) measured 7-11 % slower
// fused than step by step (1 thread, paired interleaved runs on the shared 2-core machine), the 256 and
// 512-wide ones 6-15 % faster.  The inverse (two output rows streamed, no input rows in the pass) measured
// faster fused or even at every width.
constexpr i64 kFusedForwardRowBytes = 2048;

// Whether every column step of sweep position k is an interior one (its row exists, within the strip, with both
// neighbours unclamped): the positions column_steps_fused() takes.
template <class C>
inline bool column_steps_fusable(const Steps<C>& p, i64 k, i64 ks, i64 ne, i64 no, bool periodic) {
  for (int q = 0; q < p.n; ++q) {
    const i64 j = k - p.lag[q];
    if (j < ks) return false;
    if (periodic) continue;
    if (p.kind[q] == kPredict ? (j >= no || j + 1 >= ne) : (j < 1 || j >= no)) return false;
  }
  return true;
}

// Whether column_steps_fused() is compiled for this scheme (see row_pipeline_applies).
template <class C>
inline bool column_fusion_applies(const Steps<C>& p) {
  if (!(std::is_same<C, float>::value || std::is_same<C, double>::value) || p.transposed || (p.n != 2 && p.n != 4))
    return false;
  for (int q = 1; q < p.n; ++q)
    if ((p.kind[q] == kPredict) == (p.kind[q - 1] == kPredict)) return false;
  return true;
}

// Calls f(steps, first_predict) with both as compile-time constants (2 or 4 steps).
template <class C, class F>
PYWLC_DWT2_INLINE void dispatch_columns(const Steps<C>& p, F f) {
  using Two = std::integral_constant<int, 2>;
  using Four = std::integral_constant<int, 4>;
  const bool p0 = p.kind[0] == kPredict;
  if (p.n == 2) {
    if (p0) f(Two(), std::true_type()); else f(Two(), std::false_type());
  } else {
    if (p0) f(Four(), std::true_type()); else f(Four(), std::false_type());
  }
}
#endif

inline i64 wrap(i64 v, i64 n) { return ((v % n) + n) % n; }

// The forward's opening predict and update at sweep position k (both lag 0, see forward_strip): the predict
// writes odd row k of the ring from input rows, the update even row k from the input and the ring.
template <class C>
void first_steps_direct(const Ring<C>& r, const Steps<C>& p, const C* in, i64 si, i64 k, i64 ne, i64 no, bool periodic) {
  const i64 w = r.w;
  if (periodic || k < no) {  // o[k] += a * e[k] + b * e[k + 1]
    i64 n0 = k, n1 = k + 1;
    bool has0 = true, has1 = true;
    if (!periodic) {
      n0 = neighbour(k, ne, kSymmetric, p.zero_tail);
      n1 = neighbour(k + 1, ne, kSymmetric, p.zero_tail);
      has0 = n0 >= 0;
      has1 = n1 >= 0;
    }
    const C* e0 = in + 2 * (periodic ? wrap(n0, ne) : (has0 ? n0 : 0)) * si;
    const C* e1 = in + 2 * (periodic ? wrap(n1, ne) : (has1 ? n1 : 0)) * si;
    const C* o = in + (2 * (periodic ? wrap(k, no) : k) + 1) * si;
    if constexpr (kInteger<C>) {
      int_step_to(r.o_row(k), o, e0, e1, w, true);
    } else {
      axpby_to(r.o_row(k), o, e0, e1, w, has0 ? p.a[0] : C(0), has1 ? p.b[0] : C(0));
    }
  }
  if (periodic || k < ne) {  // e[k] += a * o[k - 1] + b * o[k]; o[ks - 1] is the zeroed slot (discarded rows)
    i64 n0 = k - 1, n1 = k;
    bool has0 = true, has1 = true;
    if (!periodic) {
      n0 = neighbour(k - 1, no, kSymmetric, p.zero_tail);
      n1 = neighbour(k, no, kSymmetric, p.zero_tail);
      has0 = n0 >= 0;
      has1 = n1 >= 0;
    }
    const C* e = in + 2 * (periodic ? wrap(k, ne) : k) * si;
    const C* o0 = r.o_row(has0 ? n0 : 0);
    const C* o1 = r.o_row(has1 ? n1 : 0);
    if constexpr (kInteger<C>) {
      int_step_to(r.e_row(k), e, o0, o1, w, false);
    } else {
      axpby_to(r.e_row(k), e, o0, o1, w, has0 ? p.a[1] : C(0), has1 ? p.b[1] : C(0));
    }
  }
}

// Streaming stores are weakly ordered: fence them before the strip's results are read by other threads.
inline void stream_fence() {
#if PYWLC_DWT2_LEVEL > 0
  _mm_sfence();
#endif
}


// Rows a strip re-lifts above its first output row: a garbage row above the strip reaches at most one
// row further per update step, so num_steps rows are always enough (and keep strips independent).
inline i64 strip_start(const Dwt2Strip& s, bool periodic) {
  const i64 ks = s.j0 - s.num_steps;
  return periodic || ks > 0 ? ks : 0;
}

template <class C, class SIn, class SLow, class SHi>
void forward_strip(const Dwt2Strip& s, C* work) {
  const Steps<C> p = make_steps<C>(s);
  const bool periodic = s.mode == kPeriodization;
  const i64 h = s.h, w = s.w, ne = (h + 1) / 2, no = h / 2, wl = (w + 1) / 2;
  const i64 rows = s.ring_rows;
  const Ring<C> r = make_ring(work, w, rows);
  const Halves<C> hv[2] = {row_halves(r, work, wl, 0), row_halves(r, work, wl, 1)};
  const SIn* in = static_cast<const SIn*>(s.samples.ptr);
  SLow* low = static_cast<SLow*>(s.low.ptr);
  SHi* bands = static_cast<SHi*>(s.bands.ptr);
  const i64 si = s.samples.stride, sl = s.low.stride, sb = s.bands.stride;
  const i64 ks = strip_start(s, periodic);
  std::memset(work, 0, sizeof(C) * 2 * rows * r.stride);  // rows above the strip read as 0 (discarded results)
  // Direct: a predict then an update open the scheme (5/3, 9/7, Haar) and the input is in the compute type.
  // The predict then reads even rows straight from the input and writes odd rows into the ring, the update
  // writes even rows into the ring: no row is copied before it is lifted.
  const bool direct =
      std::is_same<SIn, C>::value && !p.transposed && p.n >= 2 && p.kind[0] == kPredict && p.kind[1] == kUpdate;
#if PYWLC_DWT2_LEVEL == 3
  // All column steps of a position in one pass (column_steps_fused), for rows up to kFusedForwardRowBytes.
  const bool fuse_columns = column_fusion_applies(p) && w * static_cast<i64>(sizeof(C)) <= kFusedForwardRowBytes;
#endif
  const i64 kend = s.j1 - 1 + p.out_lag;
  for (i64 k = (direct ? ks : ks - 1); k <= kend; ++k) {
    const i64 f = k + 1 + kPrefetchAhead;
    if (periodic || f < ne) prefetch_row_head(in + 2 * (periodic ? wrap(f, ne) : f) * si, w);
    if (periodic || f < no) prefetch_row_head(in + (2 * (periodic ? wrap(f, no) : f) + 1) * si, w);
    bool fused = false;  // every column step of position k done by column_steps_fused()
    if (direct) {
#if PYWLC_DWT2_LEVEL == 3
      if constexpr (std::is_same<SIn, C>::value && !kInteger<C>) {
        if (fuse_columns && column_steps_fusable(p, k, ks, ne, no, periodic)) {
          const C* const x = reinterpret_cast<const C*>(in);
          const C* const e0 = x + 2 * (periodic ? wrap(k, ne) : k) * si;
          const C* const e1 = x + 2 * (periodic ? wrap(k + 1, ne) : k + 1) * si;
          const C* const o0 = x + (2 * (periodic ? wrap(k, no) : k) + 1) * si;
          dispatch_columns(p, [&](auto steps, auto first_predict) {
            if constexpr (decltype(first_predict)::value)
              column_steps_fused<C, decltype(steps)::value, true, true>(r, p, k, nullptr, nullptr, false, e0, e1, o0);
          });
          fused = true;
        }
      }
#endif
      if (!fused) first_steps_direct(r, p, reinterpret_cast<const C*>(in), si, k, ne, no, periodic);
    } else {
      const i64 v = k + 1;  // the newest row the steps at position k read
      if (periodic || v < ne) load_row(r.e_row(v), in + 2 * (periodic ? wrap(v, ne) : v) * si, w);
      if (periodic || v < no) load_row(r.o_row(v), in + (2 * (periodic ? wrap(v, no) : v) + 1) * si, w);
      if (k < ks) continue;
    }
    for (int q = direct ? 2 : 0; !fused && q < p.n; ++q) column_step(r, p, q, k - p.lag[q], ks, ne, no, periodic, true);
    const i64 j = k - p.out_lag;
    if (j < s.j0 || j >= s.j1) continue;
    // The two input rows position f2 reads first, requested a line at a time along this position's row sweeps
    // (the heads above start the hardware prefetcher; these keep it from stalling at each 4 KiB page).
    const i64 f2 = k + kPrefetchAlongAhead;
    const char* pf[2] = {
        !periodic && 2 * f2 + 1 < h ? reinterpret_cast<const char*>(in + (2 * f2 + 1) * si) : nullptr,
        !periodic && 2 * f2 + 2 < h ? reinterpret_cast<const char*>(in + (2 * f2 + 2) * si) : nullptr};
    rows_forward(periodic || j < no ? 2 : 1, r.e_row(j), r.o_row(j), w, p.col_low, p.col_high, p, s.mode, hv,
                 low + j * sl, bands + j * sb + wl, bands + (ne + j) * sb, bands + (ne + j) * sb + wl, s.stream, pf);
  }
  if (s.stream) stream_fence();
}

template <class C, class SLow, class SHi, class SOut>
void inverse_strip(const Dwt2Strip& s, C* work) {
  const Steps<C> p = make_steps<C>(s);
  const bool periodic = s.mode == kPeriodization;
  const i64 h = s.h, w = s.w, ne = (h + 1) / 2, no = h / 2, wl = (w + 1) / 2;
  const i64 rows = s.ring_rows;
  const Ring<C> r = make_ring(work, w, rows);
  const Halves<C> hv[2] = {row_halves(r, work, wl, 0), row_halves(r, work, wl, 1)};
  const SLow* low = static_cast<const SLow*>(s.low.ptr);
  const SHi* bands = static_cast<const SHi*>(s.bands.ptr);
  SOut* out = static_cast<SOut*>(s.samples.ptr);
  const i64 so = s.samples.stride, sl = s.low.stride, sb = s.bands.stride;
  const i64 ks = strip_start(s, periodic);
  std::memset(work, 0, sizeof(C) * 2 * rows * r.stride);
  // The scratch low bands stream too where the plane is beyond L2 (dwt2_fused_cpu.cpp measures both).
  const bool stream = s.stream && (s.stream_scratch || !s.samples.compute);
  const bool last_predict = p.n > 0 && p.kind[p.n - 1] == kPredict;  // the last step's target: odd rows
  // A final predict (every inverse here) reads even row j last at its own row j: it copies that row out as
  // it goes (column_step's copy) -- except the adjoint's transposed edge rows, which read one row further.
  const bool copy_source = last_predict && !p.transposed;
#if PYWLC_DWT2_LEVEL == 3
  const bool fuse_columns = column_fusion_applies(p);  // interior positions in one pass (column_steps_fused)
#endif
  const i64 kend = s.j1 - 1 + p.out_lag;
  for (i64 k = ks - 1; k <= kend; ++k) {
    const i64 v = k + 1, f = v + kPrefetchAhead;
    // The four half rows position f reads: requested along the pipelined row sweep where it runs (pf), else
    // their heads here.
    const char* pf[4] = {nullptr, nullptr, nullptr, nullptr};
    if (periodic || f < ne) {
      const i64 pe = periodic ? wrap(f, ne) : f, po = ne + (periodic ? wrap(f, no) : f);
      pf[0] = reinterpret_cast<const char*>(low + pe * sl);
      pf[1] = reinterpret_cast<const char*>(bands + pe * sb + wl);
      if (periodic || f < no) {
        pf[2] = reinterpret_cast<const char*>(bands + po * sb);
        pf[3] = reinterpret_cast<const char*>(bands + po * sb + wl);
      }
    }
    if (periodic || v < ne) {  // even row v from the low-band rows, odd row v (if any) from the high-band rows
      const i64 pe = periodic ? wrap(v, ne) : v, po = ne + (periodic ? wrap(v, no) : v);
      rows_inverse(periodic || v < no ? 2 : 1, low + pe * sl, bands + pe * sb + wl, bands + po * sb,
                   bands + po * sb + wl, w, p.col_low, p.col_high, p, s.mode, hv, r.e_row(v), r.o_row(v), pf);
    }
    if (k < ks) continue;
    bool fused = false;  // every column step of position k done by column_steps_fused()
#if PYWLC_DWT2_LEVEL == 3
    if constexpr (std::is_same<SOut, C>::value && !kInteger<C>) {
      const i64 jl = k - (p.n > 0 ? p.lag[p.n - 1] : 0);
      if (fuse_columns && jl >= s.j0 && jl < s.j1 && column_steps_fusable(p, k, ks, ne, no, periodic)) {
        C* const dst = out + (2 * jl + (last_predict ? 1 : 0)) * so;
        C* const copy = copy_source ? out + 2 * jl * so : nullptr;
        dispatch_columns(p, [&](auto steps, auto first_predict) {
          column_steps_fused<C, decltype(steps)::value, decltype(first_predict)::value, false>(
              r, p, k, dst, copy, stream, nullptr, nullptr, nullptr);
        });
        fused = true;
      }
    }
#endif
    for (int q = 0; !fused && q + 1 < p.n; ++q) column_step(r, p, q, k - p.lag[q], ks, ne, no, periodic, false);
    // The last step's target row is final once stepped and read by no later step: the strip's own rows go
    // straight to the output (column_step with out); its source row leaves the sweep out_lag positions on.
    if (!fused && p.n > 0) {
      const i64 jl = k - p.lag[p.n - 1];
      const bool own = jl >= s.j0 && jl < s.j1;
      SOut* dst = own ? out + (2 * jl + (last_predict ? 1 : 0)) * so : nullptr;
      column_step(r, p, p.n - 1, jl, ks, ne, no, periodic, false, dst, stream,
                  own && copy_source ? out + 2 * jl * so : nullptr);
    }
    const i64 j = k - p.out_lag;
    if (j < s.j0 || j >= s.j1) continue;
    const bool copied = copy_source && (periodic || j < no);  // by the last step at row j (column_step)
    if ((p.n == 0 || last_predict) && !copied) store_scaled(out + 2 * j * so, r.e_row(j), w, C(1), stream);
    if ((p.n == 0 || !last_predict) && (periodic || j < no))
      store_scaled(out + (2 * j + 1) * so, r.o_row(j), w, C(1), stream);
  }
  if (s.stream) stream_fence();
}

// Storage type S, compute type C; views marked `compute` hold C (the scratch between levels).
template <class C, class S>
void run_typed(const Dwt2Strip& s) {
  C* work = static_cast<C*>(s.work);
  if (forward_shaped(s.op)) {
    if (s.samples.compute) {
      if (s.low.compute) forward_strip<C, C, C, S>(s, work); else forward_strip<C, C, S, S>(s, work);
    } else {
      if (s.low.compute) forward_strip<C, S, C, S>(s, work); else forward_strip<C, S, S, S>(s, work);
    }
  } else {
    if (s.low.compute) {
      if (s.samples.compute) inverse_strip<C, C, S, C>(s, work); else inverse_strip<C, C, S, S>(s, work);
    } else {
      if (s.samples.compute) inverse_strip<C, S, S, C>(s, work); else inverse_strip<C, S, S, S>(s, work);
    }
  }
}

}  // namespace

void run_strip(const Dwt2Strip& s) {
  switch (s.storage) {
    case kD2Float32:
      return run_typed<float, float>(s);
    case kD2Float64:
      return run_typed<double, double>(s);
    case kD2Int32:
      return run_typed<int32_t, int32_t>(s);
    case kD2Float16:
      return run_typed<float, F16>(s);
    default:
      return run_typed<float, BF16>(s);
  }
}
