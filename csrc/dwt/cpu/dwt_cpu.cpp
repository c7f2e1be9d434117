// CPU lifting DWT: OpenMP over groups of V lines; each group is gathered into E/O buffers laid out
// [row][line] so every lifting step is one contiguous, vectorisable loop (see lifting_common.h).
#include <algorithm>
#include <type_traits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "../dwt.h"

namespace pywlc {
namespace {

// Lines per group when lines sit side by side in memory (transform along a strided axis): 64 floats
// read per row keep the column walk streaming; measured best of 16/32/64/128 on 1024^2 images.
constexpr int64_t kGroup = 64;

// Row l of the group (E or O row, by layout) that sample l of a line belongs to.
template <typename T>
inline T* group_row(T* E, T* O, int64_t l, int64_t ne, int64_t V, bool interleaved) {
  if (interleaved) return ((l & 1) ? O : E) + (l >> 1) * V;
  return l < ne ? E + l * V : O + (l - ne) * V;
}

// Where a pass reads from: the output (in place), the input, or -- the first pass of a synthesis level
// -- the reconstructed low-pass corner from the output and the level's high bands from the input, which
// saves copying the input to the output before synthesis.
constexpr int64_t kParallelMinSamples = 1 << 15;

enum class Source { kDst, kSrc, kMixed };

// Copy samples [l0, l1) of lines [v0, v1) of a group between memory and its E/O buffers.  The loop nest
// walks memory contiguously: lines outer when the transform axis is the contiguous one (sa < sj),
// samples outer otherwise; E and O parts are separate loops so the inner loops have no branches.
template <typename T, bool kToBuffer>
void move_group(std::conditional_t<kToBuffer, const T*, T*> mem, int64_t base0, int64_t sj, int64_t v0, int64_t v1,
                int64_t V, int64_t n, int64_t l0, int64_t l1, int64_t sa, bool interleaved, T* __restrict__ E,
                T* __restrict__ O) {
  const int64_t ne = (n + 1) / 2;
  if (sa < sj) {
    for (int64_t v = v0; v < v1; ++v) {
      auto line = mem + base0 + v * sj;
      if (interleaved) {  // always the whole line
        for (int64_t i = 0; i < ne; ++i) {
          if constexpr (kToBuffer) E[i * V + v] = line[2 * i * sa]; else line[2 * i * sa] = E[i * V + v];
        }
        for (int64_t i = 0; i < n / 2; ++i) {
          if constexpr (kToBuffer) O[i * V + v] = line[(2 * i + 1) * sa]; else line[(2 * i + 1) * sa] = O[i * V + v];
        }
      } else {
        for (int64_t l = l0; l < std::min(l1, ne); ++l) {
          if constexpr (kToBuffer) E[l * V + v] = line[l * sa]; else line[l * sa] = E[l * V + v];
        }
        for (int64_t l = std::max(l0, ne); l < l1; ++l) {
          if constexpr (kToBuffer) O[(l - ne) * V + v] = line[l * sa]; else line[l * sa] = O[(l - ne) * V + v];
        }
      }
    }
    return;
  }
  for (int64_t l = l0; l < l1; ++l) {
    T* row = group_row(E, O, l, ne, V, interleaved);
    auto m = mem + base0 + l * sa;
    for (int64_t v = v0; v < v1; ++v) {
      if constexpr (kToBuffer) row[v] = m[v * sj]; else m[v * sj] = row[v];
    }
  }
}

// All lifting steps and the scaling of a forward or inverse op in one sweep over the group's rows,
// for groups of V > 1 lines (the strided-axis passes, whose buffers live in L2: one sweep instead of
// one per step).  At sweep position k, step s works on row k - lag[s]: a predict that follows an
// update lags it by one row (it needs e[j + 1] updated), an update that follows a predict does not
// (it needs o[j - 1], o[j]), and the scaling trails the last step by two rows, after every read of the
// rows it scales.  Within a position the steps run in order, so each reads its inputs before a later
// step overwrites them.  Symmetric extension only: its clamped neighbours are never ahead of the
// unclamped ones, whereas periodic wrap-around would read rows the sweep has already passed.
template <typename T>
void lift_group_pipelined(T* E, T* O, int64_t ne, int64_t no, int64_t V, const LiftScheme<T>& s, bool inverse) {
  int kind[kMaxLiftSteps], lag[kMaxLiftSteps];
  T ca[kMaxLiftSteps], cb[kMaxLiftSteps];
  const int S = s.num_steps;
  for (int q = 0; q < S; ++q) {
    const int src = inverse ? S - 1 - q : q;
    kind[q] = s.kind[src];
    ca[q] = inverse ? -s.a[src] : s.a[src];
    cb[q] = inverse ? -s.b[src] : s.b[src];
    lag[q] = q == 0 ? 0 : lag[q - 1] + ((kind[q] == kPredict && kind[q - 1] == kUpdate) ? 1 : 0);
  }
  const T kl = inverse ? T(1) / s.k_low : s.k_low, kh = inverse ? T(1) / s.k_high : s.k_high;
  const int scale_lag = inverse ? -1 : lag[S - 1] + 2;  // the inverse unscales before its first step
  if (inverse) {
    for (int64_t k = 0; k < ne * V; ++k) E[k] *= kl;
    for (int64_t k = 0; k < no * V; ++k) O[k] *= kh;
  }
  const int64_t last = std::max(ne, no) + std::max(lag[S - 1], scale_lag);
  for (int64_t k = 0; k <= last; ++k) {
    for (int q = 0; q < S; ++q) {
      const int64_t j = k - lag[q];
      const bool predict = kind[q] == kPredict;
      const int64_t nt = predict ? no : ne, ns = predict ? ne : no;
      if (j < 0 || j >= nt) continue;
      T* __restrict__ t = (predict ? O : E) + j * V;
      const T* src = predict ? E : O;
      const int64_t j0 = lift_neighbour(predict ? j : j - 1, ns, kSymmetric, s.zero_tail);
      const int64_t j1 = lift_neighbour(predict ? j + 1 : j, ns, kSymmetric, s.zero_tail);
      const T a = j0 >= 0 ? ca[q] : T(0), b = j1 >= 0 ? cb[q] : T(0);
      const T* __restrict__ s0 = src + (j0 >= 0 ? j0 : 0) * V;
      const T* __restrict__ s1 = src + (j1 >= 0 ? j1 : 0) * V;
      for (int64_t v = 0; v < V; ++v) t[v] += a * s0[v] + b * s1[v];
    }
    const int64_t j = k - scale_lag;
    if (!inverse && j >= 0) {
      if (j < ne)
        for (int64_t v = 0; v < V; ++v) E[j * V + v] *= kl;
      if (j < no)
        for (int64_t v = 0; v < V; ++v) O[j * V + v] *= kh;
    }
  }
}

template <typename T>
void run_pass(const DwtArgs& a, const DwtPass& p, const LiftScheme<T>& s, const T* src, T* dst, Source from) {
  const LineGeometry g = line_geometry(a, p);
  // Along the contiguous axis one line is already a contiguous vector: no transposition into groups.
  const int64_t group = g.sa < g.sj ? 1 : kGroup;
  const int64_t jgroups = (g.nj + group - 1) / group;
  const int64_t ngroups = g.nb * g.ni * jgroups;
  const int64_t ne = (g.n + 1) / 2, no = g.n / 2;
  const bool in_interleaved = dwt_gathers_interleaved(a.op);
  // Low-pass extent of the other two axes (kMixed): lines inside it find samples [0, ne) in dst.
  const int64_t low_i = p.low[g.axis_i], low_j = p.low[g.axis_j];
  // Small passes run on the calling thread: waking the team costs more than the work.
  const bool parallel = ngroups > 1 && g.nb * g.ni * g.nj * g.n >= kParallelMinSamples;
#pragma omp parallel if (parallel)
  {
    std::vector<T> buf(static_cast<size_t>(g.n * group));
#pragma omp for schedule(static)
    for (int64_t q = 0; q < ngroups; ++q) {
      const int64_t jg = q % jgroups, bi = q / jgroups;
      const int64_t i = bi % g.ni, b = bi / g.ni;
      const int64_t j0 = jg * group;
      const int64_t V = std::min(group, g.nj - j0);
      const int64_t base0 = b * g.sb + i * g.si + j0 * g.sj;
      T* E = buf.data();
      T* O = E + ne * V;
      if (from == Source::kMixed) {
        // Lines [0, vin) of the group have their low half in dst, the rest of everything is in src.
        const int64_t vin = i < low_i ? std::clamp<int64_t>(low_j - j0, 0, V) : 0;
        move_group<T, true>(src, base0, g.sj, 0, vin, V, g.n, ne, g.n, g.sa, in_interleaved, E, O);
        move_group<T, true>(dst, base0, g.sj, 0, vin, V, g.n, 0, ne, g.sa, in_interleaved, E, O);
        move_group<T, true>(src, base0, g.sj, vin, V, V, g.n, 0, g.n, g.sa, in_interleaved, E, O);
      } else {
        move_group<T, true>(from == Source::kSrc ? src : dst, base0, g.sj, 0, V, V, g.n, 0, g.n, g.sa,
                            in_interleaved, E, O);
      }
      if constexpr (std::is_same<T, int32_t>::value) {
        lift_group_int(E, O, ne, no, V, s, a.mode, a.op, 0, 1, NoSync{});
      } else if (V > 1 && a.mode == kSymmetric && (a.op == kForward || a.op == kInverse)) {
        lift_group_pipelined(E, O, ne, no, V, s, a.op == kInverse);
      } else {
        lift_group(E, O, ne, no, V, s, a.mode, a.op, 0, 1, NoSync{});
      }
      move_group<T, false>(dst, base0, g.sj, 0, V, V, g.n, 0, g.n, g.sa, !in_interleaved, E, O);
    }
  }
}

template <typename T>
void run(const DwtArgs& a) {
  const std::vector<DwtPass> plan = dwt_plan(a);
  const LiftScheme<T> s = make_scheme<T>(a);
  const T* src = static_cast<const T*>(a.src);
  T* dst = static_cast<T*>(a.dst);
  if (a.batch * a.dims[0] * a.dims[1] * a.dims[2] == 0) return;
  for (size_t k = 0; k < plan.size(); ++k) {
    Source from = Source::kDst;
    if (src != dst && plan[k].first_of_level)
      from = (k == 0) ? Source::kSrc : (dwt_is_analysis(a.op) ? Source::kDst : Source::kMixed);
    run_pass<T>(a, plan[k], s, src, dst, from);
  }
}

}  // namespace

void dwt_cpu(const DwtArgs& args) {
  if (haar2_applicable(args)) return haar2_cpu(args);
  if (dwt2_fused_applicable(args)) return dwt2_fused_cpu(args);
  switch (args.dtype) {
    case kFloat32:
      run<float>(args);
      break;
    case kFloat64:
      run<double>(args);
      break;
    case kInt32:
      run<int32_t>(args);
      break;
    default:
      throw std::invalid_argument(
          "dtype must be float32, float64 or int32 (float16 / bfloat16 only for the 2-D forward and inverse)");
  }
}

}  // namespace pywlc
