// CUDA block matching: one thread block per image block.
//
// The block's pixels and its (b + 2R)^2 reference window (edge-replicated) are staged in shared memory; each
// thread full-searches a strided subset of the (2R + 1)^2 integer vectors, keeping the min uint64 key of
// block_match.h, then a warp-shuffle + shared-memory min picks the winner (keys are unique, so the order of the
// reduction cannot matter).  Sub-pel refinement: the 8 neighbours of each stage are spread over the warps, each
// warp summing one candidate's SAD over the block's pixels (reads through the clamped global plane: 9 x b^2
// samples, negligible next to the integer search).  Results equal block_match_cpu bit for bit by construction.
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "../block_match.h"

namespace pywlc {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxShared = 96 * 1024;  // opt-in dynamic shared memory (sm_80+ allow >= 163 KB)

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

struct SharedPlane {  // the staged window: (y, x) in frame coordinates, inside [oy, oy + side)
  const uint8_t* p;
  int oy, ox, stride;
  __device__ int operator()(int y, int x) const { return p[(y - oy) * stride + (x - ox)]; }
};

struct BlockPixels {
  const uint8_t* p;
  int y0, x0, stride;
  __device__ int operator()(int y, int x) const { return p[(y - y0) * stride + (x - x0)]; }
};

__device__ uint64_t warp_min(uint64_t v) {
  for (int o = 16; o > 0; o >>= 1) {
    const uint64_t other = __shfl_down_sync(0xffffffffu, v, o);
    v = other < v ? other : v;
  }
  return v;
}

__device__ int warp_sum(int v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}

__global__ void block_match_kernel(BlockMatchArgs a) {
  extern __shared__ uint8_t smem[];
  __shared__ uint64_t warp_best[kWarps];
  __shared__ int cand_sad[9];
  const int h = static_cast<int>(a.H), w = static_cast<int>(a.W), b = a.block, r = a.range;
  const int64_t n = blockIdx.z;
  const int by = blockIdx.y, bx = blockIdx.x;
  const int y0 = by * b, x0 = bx * b;
  const int bh = min(b, h - y0), bw = min(b, w - x0);
  const uint8_t* cur = a.cur + n * a.H * a.W;
  const uint8_t* ref = a.ref + n * a.H * a.W;
  const int win = b + 2 * r;
  uint8_t* cur_s = smem;               // b * b
  uint8_t* win_s = smem + b * b;       // win * win
  for (int i = threadIdx.x; i < bh * bw; i += kThreads) {
    const int y = i / bw, x = i % bw;
    cur_s[y * b + x] = cur[(y0 + y) * w + x0 + x];
  }
  for (int i = threadIdx.x; i < win * win; i += kThreads) {
    const int y = i / win, x = i % win;
    win_s[i] = ref[bm_clampi(y0 - r + y, 0, h - 1) * w + bm_clampi(x0 - r + x, 0, w - 1)];
  }
  __syncthreads();

  // Integer full search.
  const int side = 2 * r + 1;
  uint64_t best = ~0ull;
  for (int c = threadIdx.x; c < side * side; c += kThreads) {
    const int dy = c / side - r, dx = c % side - r;
    int sad = 0;
    for (int y = 0; y < bh; ++y) {
      const uint8_t* cr = cur_s + y * b;
      const uint8_t* rr = win_s + (y + r + dy) * win + r + dx;
      for (int x = 0; x < bw; ++x) sad += abs(static_cast<int>(cr[x]) - static_cast<int>(rr[x]));
    }
    const uint64_t key = bm_key(bm_cost(sad, a.lam16, 4 * dx, 4 * dy), 4 * dx, 4 * dy, c);
    best = key < best ? key : best;
  }
  best = warp_min(best);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) warp_best[warp] = best;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int i = 1; i < kWarps; ++i) best = warp_best[i] < best ? warp_best[i] : best;
    warp_best[0] = best;
  }
  __syncthreads();
  best = warp_best[0];
  const int idx = bm_key_index(best);
  int mvx = 4 * (idx % side - r), mvy = 4 * (idx / side - r);
  // The winner's SAD: its cost field minus the vector term, / 64 (exact).
  int best_sad = static_cast<int>(((best >> 31) - static_cast<uint64_t>(bm_cost(0, a.lam16, mvx, mvy))) / 64);

  const ClampedPlane refp{ref, h, w};
  const BlockPixels curp{cur_s, y0, x0, b};
  for (int step = 2; step >= 1 && step * a.subpel >= 4; --step) {
    for (int k = warp; k < 9; k += kWarps) {
      if (k == 4) continue;
      const int cx = mvx + step * (k % 3 - 1), cy = mvy + step * (k / 3 - 1);
      const int iy = cy >> 2, ix = cx >> 2, fy = cy & 3, fx = cx & 3;
      int sad = 0;
      for (int i = lane; i < bh * bw; i += 32) {
        const int y = y0 + i / bw, x = x0 + i % bw;
        sad += abs(curp(y, x) - qpel_sample(refp, y + iy, x + ix, fy, fx));
      }
      sad = warp_sum(sad);
      if (lane == 0) cand_sad[k] = sad;
    }
    __syncthreads();
    // Every thread evaluates the 9 keys identically (uniform control flow, no broadcast needed).
    uint64_t best_k = bm_key(bm_cost(best_sad, a.lam16, mvx, mvy), mvx, mvy, 4);
    int nx = mvx, ny = mvy, ns = best_sad;
    for (int k = 0; k < 9; ++k) {
      if (k == 4) continue;
      const int cx = mvx + step * (k % 3 - 1), cy = mvy + step * (k / 3 - 1);
      const uint64_t key = bm_key(bm_cost(cand_sad[k], a.lam16, cx, cy), cx, cy, k);
      if (key < best_k) {
        best_k = key;
        nx = cx;
        ny = cy;
        ns = cand_sad[k];
      }
    }
    mvx = nx;
    mvy = ny;
    best_sad = ns;
    __syncthreads();  // cand_sad is rewritten by the next stage
  }
  if (threadIdx.x == 0) {
    const int64_t hb = gridDim.y, wb = gridDim.x;
    a.mvs[((n * 2 + 0) * hb + by) * wb + bx] = mvx;
    a.mvs[((n * 2 + 1) * hb + by) * wb + bx] = mvy;
    a.sad[(n * hb + by) * wb + bx] = best_sad;
  }
}

// Dynamic shared memory of one thread block: the block's pixels and the reference window (pywlc/motion mirrors
// this to reject oversized searches with a Python error).
int64_t shared_bytes(int block, int range) {
  const int64_t win = block + 2 * static_cast<int64_t>(range);
  return static_cast<int64_t>(block) * block + win * win;
}

}  // namespace

void block_match_cuda(const BlockMatchArgs& a, void* stream) {
  block_match_validate(a);
  if (a.N * a.H * a.W == 0) return;
  const int64_t shared = shared_bytes(a.block, a.range);
  if (shared > kMaxShared)
    throw std::invalid_argument("block_match on CUDA: block + 2 * search_range too large for shared memory (" +
                                std::to_string(shared) + " > " + std::to_string(kMaxShared) + " bytes)");
  const int64_t hb = a.blocks_y(), wb = a.blocks_x();
  if (hb > 65535 || a.N > 65535 || wb > 2147483647LL) throw std::invalid_argument("block_match: grid too large");
  if (shared > 48 * 1024)
    check(cudaFuncSetAttribute(block_match_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(shared)),
          "cudaFuncSetAttribute");
  const dim3 grid(static_cast<unsigned>(wb), static_cast<unsigned>(hb), static_cast<unsigned>(a.N));
  block_match_kernel<<<grid, kThreads, static_cast<size_t>(shared), static_cast<cudaStream_t>(stream)>>>(a);
  check(cudaGetLastError(), "block_match_kernel launch");
}

}  // namespace pywlc
