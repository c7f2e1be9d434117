// Fused 2-D lifting DWT on the GPU: one launch per level, one block per tile of 32 x 32 output pairs
// (64 x 64 samples) plus a halo of `num_steps` pairs on every side.  The block loads its tile once into
// shared memory, runs both axes' steps there and writes its share of the four bands: a level reads about
// (1 + 2 halo / tile)^2 of its samples and writes each once (9/7: 1.56x + 1x, against >= 2.6x the copy for
// the two-pass kernels of dwt_cuda.cu).  Halo results are wrong (their neighbours were not loaded) and are
// not written; each lifting step spreads that error by one pair, so num_steps pairs of halo suffice.
//
// Boundaries: the tile is loaded from the signal extended whole-sample symmetrically (or periodically), the
// extension that clamping neighbours in the lifting domain (lifting_common.h) is equivalent to: every lifting
// step preserves the symmetry, so a mirrored sample lifts to its mirror's value (bitwise for int 5/3; for
// floats up to the order the compiler contracts a * x + b * y, whose operands are the same).  The inverse
// extends its coefficients through the same map from a sample position to the band coefficient there.
//
// Levels chain through two scratch low bands (stream-ordered allocations), as cpu/dwt2_fused_cpu.cpp does:
// a level's blocks read halos that other blocks of the same level write, so no level works in place.
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "../dwt.h"

namespace pywlc {
namespace {

constexpr int kThreads = 256;
constexpr size_t kSmemLimit = 48 * 1024;  // no opt-in: tiles are sized to fit

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

// Plane p, row r, column c at ptr[p * plane + r * row + c].
template <typename T>
struct View {
  T* ptr;
  int64_t plane, row;
};

template <typename T>
struct TileArgs {
  int op, mode;
  int64_t h, w;  // region of this level
  int pairs;     // output pairs per tile side
  LiftScheme<T> s;
  View<const T> samples_in, low_in, bands_in;  // forward reads samples_in; inverse low_in and bands_in
  View<T> samples_out, low_out, bands_out;     // forward writes low_out and bands_out; inverse samples_out
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

// One lifting step (or its inverse) along one axis of the tile: pair rows j of every column (axis 0) or pair
// columns of every row (axis 1).  Pairs whose neighbour lies outside the tile are skipped (halo).
template <typename T>
__device__ void tile_step(T* tile, int ld, int R, int axis, int kind, T a, T b, int sign, bool integer) {
  const int P = R / 2;
  for (int k = threadIdx.x; k < P * R; k += blockDim.x) {
    const int j = axis == 0 ? k / R : k % P, c = axis == 0 ? k % R : k / P;
    const bool predict = kind == kPredict;
    if (predict ? j >= P - 1 : j < 1) continue;
    const int t = predict ? 2 * j + 1 : 2 * j, s0 = t - 1, s1 = t + 1;
    T* pt = axis == 0 ? &tile[t * ld + c] : &tile[c * ld + t];
    const T x0 = axis == 0 ? tile[s0 * ld + c] : tile[c * ld + s0];
    const T x1 = axis == 0 ? tile[s1 * ld + c] : tile[c * ld + s1];
    if constexpr (std::is_same<T, int32_t>::value) {
      const int64_t d = int53_delta(kind, x0, x1);
      *pt = wrap_add(*pt, sign > 0 ? d : -d);
    } else {
      *pt += a * x0 + b * x1;
    }
    (void)integer;
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

// The steps of one axis: forward in order then scale; inverse unscale then reversed with opposite signs.
template <typename T>
__device__ void tile_axis(T* tile, int ld, int R, int axis, const LiftScheme<T>& s, bool forward) {
  const bool integer = std::is_same<T, int32_t>::value;
  if (forward) {
    for (int q = 0; q < s.num_steps; ++q) tile_step(tile, ld, R, axis, s.kind[q], s.a[q], s.b[q], +1, integer);
    if (!integer) tile_scale(tile, ld, R, axis, s.k_low, s.k_high);
  } else {
    if (!integer) tile_scale(tile, ld, R, axis, T(1) / s.k_low, T(1) / s.k_high);
    for (int q = s.num_steps - 1; q >= 0; --q)
      tile_step(tile, ld, R, axis, s.kind[q], -s.a[q], -s.b[q], -1, integer);
  }
}

template <typename T>
__global__ void dwt2_tile_kernel(TileArgs<T> g, int64_t planes) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* tile = reinterpret_cast<T*>(smem_raw);
  const int H = g.s.num_steps, TP = g.pairs, P = TP + 2 * H, R = 2 * P, ld = R + 1;
  const bool periodic = g.mode == kPeriodization, forward = g.op == kForward;
  const int64_t h = g.h, w = g.w, hl = (h + 1) / 2, wl = (w + 1) / 2;
  const int64_t t0y = 2 * (int64_t(blockIdx.y) * TP - H), t0x = 2 * (int64_t(blockIdx.x) * TP - H);
  for (int64_t p = blockIdx.z; p < planes; p += gridDim.z) {
    for (int k = threadIdx.x; k < R * R; k += blockDim.x) {
      const int r = k / R, c = k % R;
      const int64_t y = extend(t0y + r, h, periodic), x = extend(t0x + c, w, periodic);
      T v;
      if (forward) {
        v = g.samples_in.ptr[p * g.samples_in.plane + y * g.samples_in.row + x];
      } else if (!(y & 1) && !(x & 1)) {  // sample position -> the band coefficient standing for it
        v = g.low_in.ptr[p * g.low_in.plane + (y / 2) * g.low_in.row + x / 2];
      } else {
        const int64_t by = (y & 1) ? hl + y / 2 : y / 2, bx = (x & 1) ? wl + x / 2 : x / 2;
        v = g.bands_in.ptr[p * g.bands_in.plane + by * g.bands_in.row + bx];
      }
      tile[r * ld + c] = v;
    }
    __syncthreads();
    // The two-pass kernels' order: analysis columns then rows, synthesis rows then columns.
    tile_axis(tile, ld, R, forward ? 0 : 1, g.s, forward);
    tile_axis(tile, ld, R, forward ? 1 : 0, g.s, forward);
    const int64_t y0 = t0y + 2 * H, x0 = t0x + 2 * H;  // the tile's own samples
    for (int k = threadIdx.x; k < 4 * TP * TP; k += blockDim.x) {
      const int r = 2 * H + k / (2 * TP), c = 2 * H + k % (2 * TP);
      const int64_t y = y0 + (r - 2 * H), x = x0 + (c - 2 * H);
      if (y >= h || x >= w) continue;
      const T v = tile[r * ld + c];
      if (!forward) {
        g.samples_out.ptr[p * g.samples_out.plane + y * g.samples_out.row + x] = v;
      } else if (!(y & 1) && !(x & 1)) {
        g.low_out.ptr[p * g.low_out.plane + (y / 2) * g.low_out.row + x / 2] = v;
      } else {
        const int64_t by = (y & 1) ? hl + y / 2 : y / 2, bx = (x & 1) ? wl + x / 2 : x / 2;
        g.bands_out.ptr[p * g.bands_out.plane + by * g.bands_out.row + bx] = v;
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

template <typename T>
void run(const DwtArgs& a, cudaStream_t stream) {
  dwt_plan(a);
  const int64_t planes = a.batch * a.dims[0], H = a.dims[1], W = a.dims[2];
  if (planes * H * W == 0) return;
  const LiftScheme<T> s = make_scheme<T>(a);
  const bool analysis = a.op == kForward;
  const int TP = tile_pairs<T>(s.num_steps);
  const int R = 2 * (TP + 2 * s.num_steps);
  const size_t smem = static_cast<size_t>(R) * (R + 1) * sizeof(T);
  // Scratch low bands: level l's in scratch[l & 1] (every level but the coarsest), row stride ceil(W/2).
  const int64_t sw = (W + 1) / 2, sp[2] = {((H + 1) / 2) * sw, ((H + 3) / 4) * sw};
  const size_t scratch_bytes = a.levels > 1 ? static_cast<size_t>(planes * (sp[0] + sp[1])) * sizeof(T) : 0;
  void* scratch = nullptr;
  if (scratch_bytes) check(cudaMallocAsync(&scratch, scratch_bytes, stream), "cudaMallocAsync");
  T* sbuf[2] = {static_cast<T*>(scratch), static_cast<T*>(scratch) + planes * sp[0]};
  const T* src = static_cast<const T*>(a.src);
  T* dst = static_cast<T*>(a.dst);
  const View<const T> src_view{src, H * W, W};
  const View<T> dst_view{dst, H * W, W};
  auto scratch_view = [&](int l) { return View<T>{sbuf[l & 1], sp[l & 1], sw}; };
  auto as_const = [](View<T> v) { return View<const T>{v.ptr, v.plane, v.row}; };
  int64_t hs[32], ws[32];
  for (int l = 0; l < a.levels; ++l) {
    hs[l] = l == 0 ? H : (hs[l - 1] + 1) / 2;
    ws[l] = l == 0 ? W : (ws[l - 1] + 1) / 2;
  }
  cudaError_t err = cudaSuccess;
  for (int step = 0; step < a.levels && err == cudaSuccess; ++step) {
    const int l = analysis ? step : a.levels - 1 - step;
    TileArgs<T> g{};
    g.op = a.op;
    g.mode = a.mode;
    g.h = hs[l];
    g.w = ws[l];
    g.pairs = TP;
    g.s = s;
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
    dwt2_tile_kernel<T><<<grid, kThreads, smem, stream>>>(g, planes);
    err = cudaGetLastError();
  }
  if (scratch) check(cudaFreeAsync(scratch, stream), "cudaFreeAsync");
  check(err, "dwt2_tile_kernel launch");
}

}  // namespace

bool dwt2_tile_cuda_applicable(const DwtArgs& a) {
  return a.ndim == 2 && (a.op == kForward || a.op == kInverse) && a.src != a.dst && a.levels > 0 &&
         a.levels <= 32 && !a.zero_tail && (a.dtype == kFloat32 || a.dtype == kFloat64 || a.dtype == kInt32);
}

void dwt2_tile_cuda(const DwtArgs& args, void* stream) {
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  switch (args.dtype) {
    case kFloat32:
      return run<float>(args, st);
    case kFloat64:
      return run<double>(args, st);
    default:
      return run<int32_t>(args, st);
  }
}

}  // namespace pywlc
