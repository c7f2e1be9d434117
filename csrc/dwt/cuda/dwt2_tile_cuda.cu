// Fused 2-D lifting DWT on the GPU: one launch per level, one block per tile of 32 x 32 output pairs
// (64 x 64 samples) plus a halo of `num_steps` pairs on every side.  The block loads its tile once into
// shared memory, runs both axes' steps there and writes its share of the four bands: a level reads about
// (1 + 2 halo / tile)^2 of its samples and writes each once (9/7: 1.56x + 1x, against >= 2.6x the copy for
// the two-pass kernels of dwt_cuda.cu).  Halo results are wrong (their neighbours were not loaded) and are
// not written; each lifting step spreads that error by one pair, so num_steps pairs of halo suffice.
//
// All four maps of lifting_common.h's lift_group, the op a parameter: the forward and the inverse's adjoint
// read samples and write bands (levels fine to coarse, columns then rows), the inverse and the forward's
// adjoint the reverse; the adjoints run the transposed steps (AxisOps).
//
// Boundaries: the tile is loaded from the signal extended whole-sample symmetrically (or periodically), the
// extension that clamping neighbours in the lifting domain (lifting_common.h) is equivalent to: every lifting
// step whose two weights are equal preserves the symmetry, so a mirrored sample lifts to its mirror's value
// (bitwise for int 5/3; for floats up to the order the compiler contracts a * x + b * y, whose operands are the
// same).  The inverse extends its coefficients through the same map from a sample position to the band
// coefficient there.  Periodic steps, transposed or not, are circulant: the periodic tile is exact for all four
// maps.  A transposed step at a symmetric boundary is not the transposed step applied to a mirrored signal (the
// clamp folds a weight back onto the edge sample: e[m-1] += a o[m-2] + 2a o[m-1] at an even end of a 5/3), nor
// are steps with a zero tail or unequal weights (Haar); those compute every sample inside the signal from the
// boundary rule itself in global coordinates (exact_increment) and never read the tile outside the signal.
//
// Levels chain through two scratch low bands (stream-ordered allocations), as cpu/dwt2_fused_cpu.cpp does:
// a level's blocks read halos that other blocks of the same level write, so no level works in place.
//
// float16 / bfloat16 tensors are read and written in their own type (../half_bits.h) and computed in float32,
// as the CPU kernel does: the tile and the scratch low bands hold float32, loads convert exactly, and a value is
// rounded to nearest even once, when it is stored in the tensor.  The float32 arithmetic is the float32
// instance's own (the same tile functions), so a half result is the float32 result of the same input rounded.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "../dwt.h"

namespace pywlc {
namespace {

#include "../half_bits.h"  // F16, BF16: the storage types computed in float32

constexpr int kThreads = 256;
constexpr size_t kSmemLimit = 48 * 1024;  // no opt-in: tiles are sized to fit

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

// Plane p, row r, column c at element p * plane + r * row + c of ptr, an array of the tensor's storage type S
// or, where `compute`, of the compute type T (the scratch low bands between levels).  P: const void* or void*.
template <typename P>
struct View {
  P ptr;
  int64_t plane, row;
  bool compute;
};

__host__ __device__ __forceinline__ float to_compute(F16 v) { return half_to_float(v.bits); }
__host__ __device__ __forceinline__ float to_compute(BF16 v) { return bf16_to_float(v.bits); }
__host__ __device__ __forceinline__ void store_rounded(F16* p, float v) { p->bits = float_to_half(v); }
__host__ __device__ __forceinline__ void store_rounded(BF16* p, float v) { p->bits = float_to_bf16(v); }

template <typename T, typename S>
__device__ __forceinline__ T load(const View<const void*>& v, int64_t i) {
  if constexpr (std::is_same<S, T>::value) {
    return static_cast<const T*>(v.ptr)[i];
  } else {
    return v.compute ? static_cast<const T*>(v.ptr)[i] : to_compute(static_cast<const S*>(v.ptr)[i]);
  }
}

template <typename T, typename S>
__device__ __forceinline__ void store(const View<void*>& v, int64_t i, T x) {
  if constexpr (std::is_same<S, T>::value) {
    static_cast<T*>(v.ptr)[i] = x;
  } else if (v.compute) {
    static_cast<T*>(v.ptr)[i] = x;
  } else {
    store_rounded(static_cast<S*>(v.ptr) + i, x);
  }
}

// The steps one axis runs, in execution order, and its scaling (lift_group):
//   forward          steps as given, then scale by (k_low, k_high);
//   inverse          scale by (1/k_low, 1/k_high), then the steps reversed with negated weights;
//   forward adjoint  (scale . steps . split)^T: scale by (k_low, k_high), then the transposed steps reversed;
//   inverse adjoint  (merge . steps^-1 . unscale)^T: the transposed negated steps in order, then 1/k.
// The transpose of o[i] += a e[i] + b e[i+1] scatters into e[i] and e[i+1], i.e. e[j] += b o[j-1] + a o[j]: a
// step of the other kind with a and b swapped (away from a symmetric boundary, see exact_increment).
template <typename T>
struct AxisOps {
  int n;  // = num_steps: also the halo in pairs
  int kind[kMaxLiftSteps];
  T a[kMaxLiftSteps], b[kMaxLiftSteps];
  int sign;          // int 5/3: +1 adds the T.800 eq. F-5 / F-6 increment (forward), -1 subtracts it (inverse)
  T low, high;       // scale of even / odd samples (not applied to integers)
  bool scale_first;  // the inverse-shaped maps scale on entry, the forward-shaped ones on exit
  bool transposed;   // the adjoints
  bool exact_edges;  // symmetric boundary from the rule itself (exact_increment), not from the extended load
  bool zero_tail;    // a missing neighbour contributes 0 (Haar), else it is clamped
};

template <typename T>
struct TileArgs {
  bool reads_samples;  // forward-shaped (dwt_is_analysis): samples in, bands out
  int mode;
  int64_t h, w;  // region of this level
  int pairs;     // output pairs per tile side
  AxisOps<T> ops;
  View<const void*> samples_in, low_in, bands_in;  // forward-shaped maps read samples_in, the others low_in, bands_in
  View<void*> samples_out, low_out, bands_out;  // forward-shaped maps write low_out, bands_out, the others samples_out
};

// Where the tile lies along one axis: tile index t holds global sample t0 + t of the n samples of the axis.
struct AxisSpan {
  int64_t t0, n;
};

// Position t of a length-n axis after whole-sample symmetric (or periodic) extension; parity is preserved.
__host__ __device__ __forceinline__ int64_t extend(int64_t t, int64_t n, bool periodic) {
  if (periodic) {
    t %= n;
    return t < 0 ? t + n : t;
  }
  const int64_t p = 2 * (n - 1);
  t %= p;
  if (t < 0) t += p;
  return t < n ? t : p - t;
}

// Increment of the sample at tile index t by one step (target t, sources t -+ 1 in the tile) under the
// symmetric boundary rule, evaluated in global coordinates; false when t is outside the signal (its value is
// never read by a sample inside it) or needs a sample outside the tile (t is then in the halo: discarded).
// In the step's own indexing the target is j of nt, its sources i of ns, read at offsets e = off, off + 1
// (predict: o[j] += a e[j] + b e[j+1]; update: e[j] += a o[j-1] + b o[j]).
//   Untransposed: lift_neighbour, i.e. i clamped into [0, ns), or 0 past the ends with a zero tail.
//   Transposed: the original step added c * x[clamp(i + d)] to its target i; its transpose adds c * x'[i] to
//   every j = clamp(i + d).  Unclamped that is j = i + d, the flipped step's term x'[j + e] (e = -d), present
//   only where i = j + e lies inside [0, ns).  The clamp adds the targets it folds: i + d = -1 lands on j = 0
//   (i = e - 1) and i + d = nt on j = nt - 1 (i = nt + e).  |d| <= 1 and |ns - nt| <= 1 keep i + d within
//   [-1, nt], so those two are all; a zero tail folds nothing.  Every read is within a pair of j, inside the
//   signal, and holds that sample's exact value by induction over the steps (the halo argument above holds:
//   a skipped target is one pair from the tile's edge), so the result is exact, not an approximation.
template <typename T, typename At>
__device__ bool exact_increment(int t, int R, bool predict, T a, T b, bool transposed, bool zero_tail, AxisSpan sp,
                                At at, T& inc) {
  const int64_t g = sp.t0 + t;
  if (g < 0 || g >= sp.n) return false;
  const int64_t nt = predict ? sp.n / 2 : (sp.n + 1) / 2, ns = sp.n - nt, j = g >> 1;
  const int off = predict ? 0 : -1, parity = predict ? 0 : 1;  // source i is global sample 2i + parity
  bool inside = true;
  auto x = [&](int64_t i) -> T {
    if (i < 0 || i >= ns) return T(0);
    const int64_t u = 2 * i + parity - sp.t0;
    if (u < 0 || u >= R) {
      inside = false;
      return T(0);
    }
    return at(static_cast<int>(u));
  };
  T sum = T(0);
  for (int d = 0; d < 2; ++d) {
    const int64_t i = j + off + d;
    T v;
    if (!transposed) {
      v = zero_tail ? x(i) : x(i < 0 ? 0 : (i >= ns ? ns - 1 : i));
    } else {
      v = x(i);
      if (!zero_tail && j == 0) v += x(off + d - 1);
      if (!zero_tail && j == nt - 1) v += x(nt + off + d);
    }
    sum += (d == 0 ? a : b) * v;
  }
  inc = sum;
  return inside;
}

// One lifting step along one axis of the tile: pair rows j of every column (axis 0) or pair columns of every
// row (axis 1).  With the extended load, pairs whose neighbour lies outside the tile are skipped (halo).
// kExact (= AxisOps::exact_edges) is a template parameter so that the maps that do not need exact_increment do
// not pay its registers: 40 per thread without it, 68 (float) / 78 (double) with it (sm_90, ptxas -v).
template <typename T, bool kExact>
__device__ void tile_step(T* tile, int ld, int R, int axis, int kind, T a, T b, int sign, const AxisOps<T>& o,
                          AxisSpan sp) {
  const int P = R / 2;
  const bool predict = kind == kPredict;
  for (int k = threadIdx.x; k < P * R; k += blockDim.x) {
    const int j = axis == 0 ? k / R : k % P, c = axis == 0 ? k % R : k / P;
    const int t = predict ? 2 * j + 1 : 2 * j;
    T* pt = axis == 0 ? &tile[t * ld + c] : &tile[c * ld + t];
    if constexpr (kExact && !std::is_same<T, int32_t>::value) {
      auto at = [&](int u) { return axis == 0 ? tile[u * ld + c] : tile[c * ld + u]; };
      T inc;
      if (exact_increment(t, R, predict, a, b, o.transposed, o.zero_tail, sp, at, inc)) *pt += inc;
      continue;
    }
    if (predict ? j >= P - 1 : j < 1) continue;
    const T x0 = axis == 0 ? tile[(t - 1) * ld + c] : tile[c * ld + t - 1];
    const T x1 = axis == 0 ? tile[(t + 1) * ld + c] : tile[c * ld + t + 1];
    if constexpr (std::is_same<T, int32_t>::value) {
      const int64_t d = int53_delta(kind, x0, x1);
      *pt = wrap_add(*pt, sign > 0 ? d : -d);
    } else {
      *pt += a * x0 + b * x1;
    }
  }
  __syncthreads();
}

template <typename T>
__device__ void tile_scale(T* tile, int ld, int R, int axis, T kl, T kh) {
  for (int k = threadIdx.x; k < R * R; k += blockDim.x) {
    const int r = k / R, c = k % R;
    tile[r * ld + c] *= ((axis == 0 ? r : c) & 1) ? kh : kl;
  }
  __syncthreads();
}

// The steps and scaling of one axis (AxisOps); integers are not scaled.
template <typename T, bool kExact>
__device__ void tile_axis(T* tile, int ld, int R, int axis, const AxisOps<T>& o, AxisSpan sp) {
  constexpr bool scaled = !std::is_same<T, int32_t>::value;
  if (scaled && o.scale_first) tile_scale(tile, ld, R, axis, o.low, o.high);
  for (int q = 0; q < o.n; ++q) tile_step<T, kExact>(tile, ld, R, axis, o.kind[q], o.a[q], o.b[q], o.sign, o, sp);
  if (scaled && !o.scale_first) tile_scale(tile, ld, R, axis, o.low, o.high);
}

// T: the compute type (that of the tile), S: the tensor's storage type (T, or F16 / BF16 with T = float).
template <typename T, typename S, bool kExact>
__global__ void dwt2_tile_kernel(TileArgs<T> g, int64_t planes) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* tile = reinterpret_cast<T*>(smem_raw);
  const int H = g.ops.n, TP = g.pairs, P = TP + 2 * H, R = 2 * P, ld = R + 1;
  const bool periodic = g.mode == kPeriodization, reads_samples = g.reads_samples;
  const int64_t h = g.h, w = g.w, hl = (h + 1) / 2, wl = (w + 1) / 2;
  const int64_t t0y = 2 * (int64_t(blockIdx.y) * TP - H), t0x = 2 * (int64_t(blockIdx.x) * TP - H);
  for (int64_t p = blockIdx.z; p < planes; p += gridDim.z) {
    for (int k = threadIdx.x; k < R * R; k += blockDim.x) {
      const int r = k / R, c = k % R;
      const int64_t y = extend(t0y + r, h, periodic), x = extend(t0x + c, w, periodic);
      T v;
      if (reads_samples) {
        v = load<T, S>(g.samples_in, p * g.samples_in.plane + y * g.samples_in.row + x);
      } else if (!(y & 1) && !(x & 1)) {  // sample position -> the band coefficient standing for it
        v = load<T, S>(g.low_in, p * g.low_in.plane + (y / 2) * g.low_in.row + x / 2);
      } else {
        const int64_t by = (y & 1) ? hl + y / 2 : y / 2, bx = (x & 1) ? wl + x / 2 : x / 2;
        v = load<T, S>(g.bands_in, p * g.bands_in.plane + by * g.bands_in.row + bx);
      }
      tile[r * ld + c] = v;
    }
    __syncthreads();
    // The two-pass kernels' order: forward-shaped maps columns then rows, the others rows then columns.
    const AxisSpan sy{t0y, h}, sx{t0x, w};
    const int first = reads_samples ? 0 : 1;
    tile_axis<T, kExact>(tile, ld, R, first, g.ops, reads_samples ? sy : sx);
    tile_axis<T, kExact>(tile, ld, R, 1 - first, g.ops, reads_samples ? sx : sy);
    const int64_t y0 = t0y + 2 * H, x0 = t0x + 2 * H;  // the tile's own samples
    for (int k = threadIdx.x; k < 4 * TP * TP; k += blockDim.x) {
      const int r = 2 * H + k / (2 * TP), c = 2 * H + k % (2 * TP);
      const int64_t y = y0 + (r - 2 * H), x = x0 + (c - 2 * H);
      if (y >= h || x >= w) continue;
      const T v = tile[r * ld + c];
      if (!reads_samples) {
        store<T, S>(g.samples_out, p * g.samples_out.plane + y * g.samples_out.row + x, v);
      } else if (!(y & 1) && !(x & 1)) {
        store<T, S>(g.low_out, p * g.low_out.plane + (y / 2) * g.low_out.row + x / 2, v);
      } else {
        const int64_t by = (y & 1) ? hl + y / 2 : y / 2, bx = (x & 1) ? wl + x / 2 : x / 2;
        store<T, S>(g.bands_out, p * g.bands_out.plane + by * g.bands_out.row + bx, v);
      }
    }
    __syncthreads();  // the next plane reuses the tile
  }
}

// Output pairs per tile side: 32 where the tile and its halo fit 48 KiB, else smaller.
template <typename T>
int tile_pairs(int halo) {
  for (int tp : {32, 24, 16, 8}) {
    const int R = 2 * (tp + 2 * halo);
    if (static_cast<size_t>(R) * (R + 1) * sizeof(T) <= kSmemLimit) return tp;
  }
  throw std::invalid_argument("dwt2_tile_cuda: the scheme's halo does not fit shared memory");
}

// Every step weighs its two neighbours alike: the symmetric extension is then preserved by each step.
bool equal_weights(const DwtArgs& a) {
  for (size_t q = 0; q + 2 < a.steps.size(); q += 3)
    if (a.steps[q + 1] != a.steps[q + 2]) return false;
  return true;
}

template <typename T>
AxisOps<T> axis_ops(const DwtArgs& a) {
  const LiftScheme<T> s = make_scheme<T>(a);
  const bool undo = a.op == kInverse || a.op == kInverseAdjoint;  // negated steps, reciprocal scales
  AxisOps<T> o{};
  o.n = s.num_steps;
  o.scale_first = !dwt_is_analysis(a.op);  // also: the steps run last to first
  o.transposed = a.op == kForwardAdjoint || a.op == kInverseAdjoint;
  o.zero_tail = s.zero_tail;
  o.exact_edges = a.mode == kSymmetric && (o.transposed || s.zero_tail || !equal_weights(a));
  o.sign = undo ? -1 : 1;
  o.low = undo ? T(1) / s.k_low : s.k_low;
  o.high = undo ? T(1) / s.k_high : s.k_high;
  for (int q = 0; q < o.n; ++q) {
    const int src = o.scale_first ? o.n - 1 - q : q;
    const T wa = undo ? -s.a[src] : s.a[src], wb = undo ? -s.b[src] : s.b[src];
    const bool flip = o.transposed;
    o.kind[q] = flip ? (s.kind[src] == kPredict ? kUpdate : kPredict) : s.kind[src];
    o.a[q] = flip ? wb : wa;
    o.b[q] = flip ? wa : wb;
  }
  return o;
}

template <typename T, typename S>
void run(const DwtArgs& a, cudaStream_t stream) {
  dwt_plan(a);
  const int64_t planes = a.batch * a.dims[0], H = a.dims[1], W = a.dims[2];
  if (planes * H * W == 0) return;
  const AxisOps<T> ops = axis_ops<T>(a);
  const bool analysis = dwt_is_analysis(a.op);
  const int TP = tile_pairs<T>(ops.n);
  const int R = 2 * (TP + 2 * ops.n);
  const size_t smem = static_cast<size_t>(R) * (R + 1) * sizeof(T);
  // Scratch low bands: level l's in scratch[l & 1] (every level but the coarsest), row stride ceil(W/2).
  const int64_t sw = (W + 1) / 2, sp[2] = {((H + 1) / 2) * sw, ((H + 3) / 4) * sw};
  const size_t scratch_bytes = a.levels > 1 ? static_cast<size_t>(planes * (sp[0] + sp[1])) * sizeof(T) : 0;
  void* scratch = nullptr;
  if (scratch_bytes) check(cudaMallocAsync(&scratch, scratch_bytes, stream), "cudaMallocAsync");
  T* sbuf[2] = {static_cast<T*>(scratch), static_cast<T*>(scratch) + planes * sp[0]};
  const View<const void*> src_view{a.src, H * W, W, false};
  const View<void*> dst_view{a.dst, H * W, W, false};
  auto scratch_view = [&](int l) { return View<void*>{sbuf[l & 1], sp[l & 1], sw, true}; };
  auto as_const = [](View<void*> v) { return View<const void*>{v.ptr, v.plane, v.row, v.compute}; };
  int64_t hs[32], ws[32];
  for (int l = 0; l < a.levels; ++l) {
    hs[l] = l == 0 ? H : (hs[l - 1] + 1) / 2;
    ws[l] = l == 0 ? W : (ws[l - 1] + 1) / 2;
  }
  cudaError_t err = cudaSuccess;
  for (int step = 0; step < a.levels && err == cudaSuccess; ++step) {
    const int l = analysis ? step : a.levels - 1 - step;
    TileArgs<T> g{};
    g.reads_samples = analysis;
    g.mode = a.mode;
    g.h = hs[l];
    g.w = ws[l];
    g.pairs = TP;
    g.ops = ops;
    if (analysis) {
      g.samples_in = l == 0 ? src_view : as_const(scratch_view(l - 1));
      g.low_out = l == a.levels - 1 ? dst_view : scratch_view(l);
      g.bands_out = dst_view;
    } else {
      g.low_in = l == a.levels - 1 ? src_view : as_const(scratch_view(l));
      g.bands_in = src_view;
      g.samples_out = l == 0 ? dst_view : scratch_view(l - 1);
    }
    const int64_t tiles_y = ((g.h + 1) / 2 + TP - 1) / TP, tiles_x = ((g.w + 1) / 2 + TP - 1) / TP;
    if (tiles_y > 65535 || tiles_x > 0x7fffffffLL) throw std::invalid_argument("dwt2_tile_cuda: image too large");
    const dim3 grid(static_cast<unsigned>(tiles_x), static_cast<unsigned>(tiles_y),
                    static_cast<unsigned>(std::min<int64_t>(planes, 65535)));
    if constexpr (std::is_same<T, int32_t>::value) {  // integer steps are never exact_edges (axis_ops)
      dwt2_tile_kernel<T, S, false><<<grid, kThreads, smem, stream>>>(g, planes);
    } else if (ops.exact_edges) {
      dwt2_tile_kernel<T, S, true><<<grid, kThreads, smem, stream>>>(g, planes);
    } else {
      dwt2_tile_kernel<T, S, false><<<grid, kThreads, smem, stream>>>(g, planes);
    }
    err = cudaGetLastError();
  }
  if (scratch) check(cudaFreeAsync(scratch, stream), "cudaFreeAsync");
  check(err, "dwt2_tile_kernel launch");
}

}  // namespace

// Every op and boundary rule (the integer transform has no adjoint: dwt_plan refuses it), the zero tail
// included (only Haar has one, and haar2_cuda takes 2-D Haar up to its 6 levels: deeper ones come here).
// float16 / bfloat16 of every scheme, computed in float32; the only CUDA kernel that takes them (dwt_cuda
// refuses them elsewhere): pywlc/ops/dwt.py's _reads_half sends them here for 2-D lifting schemes other than
// Haar, whose half results follow the float32 all-levels Haar kernel (a float32 copy, as on the CPU).
bool dwt2_tile_cuda_applicable(const DwtArgs& a) {
  return a.ndim == 2 && a.src != a.dst && a.levels > 0 && a.levels <= 32 &&
         (a.dtype == kFloat32 || a.dtype == kFloat64 || a.dtype == kInt32 || a.dtype == kFloat16 ||
          a.dtype == kBFloat16);
}

void dwt2_tile_cuda(const DwtArgs& args, void* stream) {
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  switch (args.dtype) {
    case kFloat32:
      return run<float, float>(args, st);
    case kFloat64:
      return run<double, double>(args, st);
    case kFloat16:
      return run<float, F16>(args, st);
    case kBFloat16:
      return run<float, BF16>(args, st);
    default:
      return run<int32_t, int32_t>(args, st);
  }
}

}  // namespace pywlc
