// Fused multi-level 2-D Haar on the GPU: Haar has no taps across 2x2 blocks, so all J <= 6 levels of a
// 64x64 tile depend only on that tile.  One block loads the tile once into shared memory, runs every
// level there and writes each level's subbands straight to their packed positions: the whole
// transform moves each byte once in and once out (the copy floor), with one launch.
//
// Maps and the unpaired-sample factor `u` are those of cpu/haar2_cpu.cpp (see its header comment).
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "../dwt.h"

namespace pywlc {
namespace {

constexpr int kTile = 64;  // multiple of 2^levels for levels <= 6
constexpr int kMaxLevels = 6;
constexpr int kThreads = 256;
constexpr int kPerThread = (kTile / 2) * (kTile / 2) / kThreads;  // 2x2 blocks per thread at level 0

struct TileLevels {
  int64_t H[kMaxLevels + 1], W[kMaxLevels + 1];  // global region size at each level
};

// Extent of a tile starting at `origin` in a length-n axis.
__device__ __forceinline__ int tile_extent(int64_t n, int64_t origin) {
  return static_cast<int>(n - origin < kTile ? n - origin : kTile);
}

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

template <typename T>
__global__ void haar2_analysis_kernel(const T* src, T* dst, int64_t planes, TileLevels g, int levels, T u) {
  __shared__ T buf[kTile][kTile + 1];
  const T half = T(0.5), r2 = T(0.70710678118654752440);
  const int64_t H = g.H[0], W = g.W[0];
  for (int64_t p = blockIdx.z; p < planes; p += gridDim.z) {
    const T* in = src + p * H * W;
    T* out = dst + p * H * W;
    int64_t rl = int64_t(blockIdx.y) * kTile, cl = int64_t(blockIdx.x) * kTile;
    int ht = tile_extent(H, rl), wt = tile_extent(W, cl);
    for (int k = threadIdx.x; k < kTile * kTile; k += blockDim.x) {
      const int i = k / kTile, j = k % kTile;
      if (i < ht && j < wt) buf[i][j] = in[(rl + i) * W + cl + j];
    }
    __syncthreads();
    for (int l = 0; l < levels; ++l) {
      const int64_t hl = g.H[l + 1], wl = g.W[l + 1];
      const int oh = (ht + 1) / 2, ow = (wt + 1) / 2;
      T stash[kPerThread];
      int ns = 0;
      for (int k = threadIdx.x; k < oh * ow; k += blockDim.x) {
        const int i = k / ow, j = k % ow;
        const int64_t gi = rl / 2 + i, gj = cl / 2 + j;
        // Tiles start on even rows/columns at every level, so a sample lacks its partner only at the
        // region's odd last row/column.
        const bool pr = 2 * i + 1 < ht, pc = 2 * j + 1 < wt;
        const T a = buf[2 * i][2 * j];
        T ll;
        if (pr && pc) {
          const T b = buf[2 * i][2 * j + 1], c = buf[2 * i + 1][2 * j], d = buf[2 * i + 1][2 * j + 1];
          ll = half * ((a + b) + (c + d));
          out[gi * W + wl + gj] = half * ((a - b) + (c - d));
          out[(hl + gi) * W + gj] = half * ((a + b) - (c + d));
          out[(hl + gi) * W + wl + gj] = half * ((a - b) - (c - d));
        } else if (pr) {
          const T c = buf[2 * i + 1][2 * j];
          ll = u * r2 * (a + c);
          out[(hl + gi) * W + gj] = u * r2 * (a - c);
        } else if (pc) {
          const T b = buf[2 * i][2 * j + 1];
          ll = u * r2 * (a + b);
          out[gi * W + wl + gj] = u * r2 * (a - b);
        } else {
          ll = u * u * a;
        }
        if (l == levels - 1)
          out[gi * W + gj] = ll;
        else
          stash[ns++] = ll;
      }
      __syncthreads();  // every read of this level's buf is done before its low band overwrites it
      if (l < levels - 1) {
        ns = 0;
        for (int k = threadIdx.x; k < oh * ow; k += blockDim.x) buf[k / ow][k % ow] = stash[ns++];
      }
      __syncthreads();
      ht = oh;
      wt = ow;
      rl /= 2;
      cl /= 2;
    }
  }
}

template <typename T>
__global__ void haar2_synthesis_kernel(const T* src, T* dst, int64_t planes, TileLevels g, int levels, T u) {
  __shared__ T buf[kTile][kTile + 1];
  const T half = T(0.5), r2 = T(0.70710678118654752440);
  const int64_t H = g.H[0], W = g.W[0];
  int ht[kMaxLevels + 1], wt[kMaxLevels + 1];
  ht[0] = tile_extent(H, int64_t(blockIdx.y) * kTile);
  wt[0] = tile_extent(W, int64_t(blockIdx.x) * kTile);
  for (int l = 0; l < levels; ++l) {
    ht[l + 1] = (ht[l] + 1) / 2;
    wt[l + 1] = (wt[l] + 1) / 2;
  }
  for (int64_t p = blockIdx.z; p < planes; p += gridDim.z) {
    const T* in = src + p * H * W;
    T* out = dst + p * H * W;
    {  // coarsest low band of this tile
      const int64_t r = (int64_t(blockIdx.y) * kTile) >> levels, c = (int64_t(blockIdx.x) * kTile) >> levels;
      for (int k = threadIdx.x; k < ht[levels] * wt[levels]; k += blockDim.x) {
        const int i = k / wt[levels], j = k % wt[levels];
        buf[i][j] = in[(r + i) * W + c + j];
      }
    }
    __syncthreads();
    for (int l = levels - 1; l >= 0; --l) {
      const int64_t hl = g.H[l + 1], wl = g.W[l + 1];
      const int64_t rl = (int64_t(blockIdx.y) * kTile) >> l, cl = (int64_t(blockIdx.x) * kTile) >> l;
      const int oh = ht[l + 1], ow = wt[l + 1];
      T stash[4 * kPerThread];
      int ns = 0;
      for (int k = threadIdx.x; k < oh * ow; k += blockDim.x) {
        const int i = k / ow, j = k % ow;
        const int64_t gi = rl / 2 + i, gj = cl / 2 + j;
        const bool pr = 2 * i + 1 < ht[l], pc = 2 * j + 1 < wt[l];
        const T s = buf[i][j];
        T x00, x01 = T(0), x10 = T(0), x11 = T(0);
        if (pr && pc) {
          const T v = in[gi * W + wl + gj], h = in[(hl + gi) * W + gj], d = in[(hl + gi) * W + wl + gj];
          x00 = half * ((s + v) + (h + d));
          x01 = half * ((s - v) + (h - d));
          x10 = half * ((s + v) - (h + d));
          x11 = half * ((s - v) - (h - d));
        } else if (pr) {
          const T h = in[(hl + gi) * W + gj];
          x00 = u * r2 * (s + h);
          x10 = u * r2 * (s - h);
        } else if (pc) {
          const T v = in[gi * W + wl + gj];
          x00 = u * r2 * (s + v);
          x01 = u * r2 * (s - v);
        } else {
          x00 = u * u * s;
        }
        if (l == 0) {
          T* o = out + (rl + 2 * i) * W + cl + 2 * j;
          o[0] = x00;
          if (pc) o[1] = x01;
          if (pr) o[W] = x10;
          if (pr && pc) o[W + 1] = x11;
        } else {
          stash[ns++] = x00;
          stash[ns++] = x01;
          stash[ns++] = x10;
          stash[ns++] = x11;
        }
      }
      __syncthreads();  // all low-band reads done before the level's output overwrites buf
      if (l > 0) {
        ns = 0;
        for (int k = threadIdx.x; k < oh * ow; k += blockDim.x) {
          const int i = k / ow, j = k % ow;
          buf[2 * i][2 * j] = stash[ns];
          if (2 * j + 1 < wt[l]) buf[2 * i][2 * j + 1] = stash[ns + 1];
          if (2 * i + 1 < ht[l]) buf[2 * i + 1][2 * j] = stash[ns + 2];
          if (2 * i + 1 < ht[l] && 2 * j + 1 < wt[l]) buf[2 * i + 1][2 * j + 1] = stash[ns + 3];
          ns += 4;
        }
      }
      __syncthreads();
    }
  }
}

template <typename T>
void run(const DwtArgs& a, cudaStream_t stream) {
  const int64_t planes = a.batch * a.dims[0];
  TileLevels g{};
  g.H[0] = a.dims[1];
  g.W[0] = a.dims[2];
  for (int l = 0; l < a.levels; ++l) {
    g.H[l + 1] = (g.H[l] + 1) / 2;
    g.W[l + 1] = (g.W[l] + 1) / 2;
  }
  const T k = static_cast<T>(a.k_low);
  const T u = (a.op == kForward || a.op == kForwardAdjoint) ? k : T(1) / k;
  const dim3 grid(static_cast<unsigned>((g.W[0] + kTile - 1) / kTile), static_cast<unsigned>((g.H[0] + kTile - 1) / kTile),
                  static_cast<unsigned>(planes < 65535 ? planes : 65535));
  if (g.H[0] > int64_t(kTile) * 65535) throw std::invalid_argument("haar2_cuda: image too tall for one launch");
  const T* src = static_cast<const T*>(a.src);
  T* dst = static_cast<T*>(a.dst);
  if (dwt_is_analysis(a.op))
    haar2_analysis_kernel<T><<<grid, kThreads, 0, stream>>>(src, dst, planes, g, a.levels, u);
  else
    haar2_synthesis_kernel<T><<<grid, kThreads, 0, stream>>>(src, dst, planes, g, a.levels, u);
  check(cudaGetLastError(), "haar2 kernel launch");
}

}  // namespace

bool haar2_cuda_applicable(const DwtArgs& a) { return haar2_applicable(a) && a.levels <= kMaxLevels; }

void haar2_cuda(const DwtArgs& args, void* stream) {
  dwt_plan(args);  // same validation as the lifting path
  if (args.batch * args.dims[0] * args.dims[1] * args.dims[2] == 0) return;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  if (args.dtype == kFloat32)
    run<float>(args, st);
  else
    run<double>(args, st);
}

}  // namespace pywlc
