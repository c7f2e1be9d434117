// Fixed-grid block matching (integer full search + half/quarter-pel refinement), CPU and CUDA.
//
// The CUDA kernel seeds/replaces the CPU HVSBM search on the GPU (issue: "same results as the CPU search for
// the same block size and range"), so everything a result depends on is integer arithmetic defined once here
// and shared by both backends (host/device functions):
//   - samples are uint8, out-of-frame positions replicate the edge (clamped coordinates);
//   - sub-pel samples use the HEVC luma 8-tap filter (H.265 Table 8-11, pywlc::hevc_luma_tap) in integers:
//     one axis: clip((sum + 32) >> 6), both axes: horizontal sums kept exact, then clip((sum + 2048) >> 12);
//   - cost = 64 * SAD + lam16 * (|mvx| + |mvy|) with the vector in quarter-pel and lam16 = round(16 * lam),
//     i.e. SAD + lam * L1 length in pixels, scaled to an integer;
//   - ties: lower cost, then shorter L1 vector, then earlier candidate (raster order of the search window, or
//     of the 3x3 refinement neighbourhood), packed into one uint64 key so a min-reduction in any order (threads,
//     OpenMP, warps) picks the same winner.
// Search: integer vectors (dx, dy) in [-R, R]^2; then, for subpel >= 2, the 3x3 neighbourhood at +-2 quarter
// pels (half-pel) around the best, and for subpel == 4 at +-1 (quarter-pel) around that.
#pragma once

#include <cstdint>
#include <stdexcept>

#include "../warp/warp_common.h"  // PYWLC_HD, hevc_luma_tap

namespace pywlc {

struct BlockMatchArgs {
  int64_t N, H, W;            // frames
  const uint8_t* cur;         // Tensor[N, H, W] contiguous
  const uint8_t* ref;         // Tensor[N, H, W] contiguous
  int block;                  // block edge (border blocks are partial)
  int range;                  // integer search range R
  int subpel;                 // 1, 2 or 4
  int64_t lam16;              // round(16 * lam) >= 0
  int32_t* mvs;               // Tensor[N, 2, Hb, Wb] contiguous, quarter-pel (x, y)
  int32_t* sad;               // Tensor[N, Hb, Wb] contiguous, SAD at the chosen vector
  int64_t blocks_y() const { return (H + block - 1) / block; }
  int64_t blocks_x() const { return (W + block - 1) / block; }
};

constexpr int kBlockMatchMaxRange = 256;
constexpr int64_t kBlockMatchMaxLam16 = 1 << 16;

inline void block_match_validate(const BlockMatchArgs& a) {
  if (a.N < 0 || a.H < 0 || a.W < 0) throw std::invalid_argument("negative size");
  if (a.block < 1 || a.block > 128) throw std::invalid_argument("block must be in 1..128");
  if (a.range < 0 || a.range > kBlockMatchMaxRange) throw std::invalid_argument("search range must be in 0..256");
  if (a.subpel != 1 && a.subpel != 2 && a.subpel != 4) throw std::invalid_argument("subpel must be 1, 2 or 4");
  if (a.lam16 < 0 || a.lam16 > kBlockMatchMaxLam16) throw std::invalid_argument("lam must be in [0, 4096]");
  if (a.N * a.H * a.W > 0 && (a.cur == nullptr || a.ref == nullptr || a.mvs == nullptr || a.sad == nullptr))
    throw std::invalid_argument("null pointer");
}

PYWLC_HD int bm_clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }
PYWLC_HD int bm_clip255(int v) { return v < 0 ? 0 : (v > 255 ? 255 : v); }

// Edge-replicated reads of one uint8 plane.
struct ClampedPlane {
  const uint8_t* p;
  int h, w;
  PYWLC_HD int operator()(int y, int x) const { return p[bm_clampi(y, 0, h - 1) * w + bm_clampi(x, 0, w - 1)]; }
};

// The reference at integer position (y, x) plus fractional offsets (fy, fx) in quarter pels (0..3).
template <typename Plane>
PYWLC_HD int qpel_sample(const Plane& g, int y, int x, int fy, int fx) {
  if (fx == 0 && fy == 0) return g(y, x);
  if (fy == 0) {
    int s = 0;
    for (int k = 0; k < 8; ++k) s += hevc_luma_tap(fx, k) * g(y, x - 3 + k);
    return bm_clip255((s + 32) >> 6);
  }
  if (fx == 0) {
    int s = 0;
    for (int k = 0; k < 8; ++k) s += hevc_luma_tap(fy, k) * g(y - 3 + k, x);
    return bm_clip255((s + 32) >> 6);
  }
  int s = 0;  // |s| <= 112 * 112 * 255 < 2^22: exact in int32
  for (int r = 0; r < 8; ++r) {
    int h = 0;
    for (int k = 0; k < 8; ++k) h += hevc_luma_tap(fx, k) * g(y - 3 + r, x - 3 + k);
    s += hevc_luma_tap(fy, r) * h;
  }
  return bm_clip255((s + 2048) >> 12);
}

// SAD of the block at (y0, x0) of size bh x bw against the reference displaced by (mvx, mvy) quarter pels.
template <typename Cur, typename Plane>
PYWLC_HD int qpel_block_sad(const Cur& cur, const Plane& ref, int y0, int x0, int bh, int bw, int mvx, int mvy) {
  const int iy = mvy >> 2, ix = mvx >> 2, fy = mvy & 3, fx = mvx & 3;  // floor division (arithmetic shift)
  int sad = 0;
  for (int y = 0; y < bh; ++y)
    for (int x = 0; x < bw; ++x) {
      const int d = cur(y0 + y, x0 + x) - qpel_sample(ref, y0 + y + iy, x0 + x + ix, fy, fx);
      sad += d < 0 ? -d : d;
    }
  return sad;
}

PYWLC_HD int64_t bm_cost(int64_t sad, int64_t lam16, int mvx, int mvy) {
  return 64 * sad + lam16 * ((mvx < 0 ? -mvx : mvx) + (mvy < 0 ? -mvy : mvy));
}

// (cost, L1 length, candidate index) -> one orderable key.  With the validated limits cost < 2^29
// (64 * 128^2 * 255 + 2^16 * 2056), L1 < 2^12, index < (2 * 256 + 1)^2 < 2^19: 60 bits in all.
PYWLC_HD uint64_t bm_key(int64_t cost, int mvx, int mvy, int index) {
  const uint64_t l1 = static_cast<uint64_t>((mvx < 0 ? -mvx : mvx) + (mvy < 0 ? -mvy : mvy));
  return (static_cast<uint64_t>(cost) << 31) | (l1 << 19) | static_cast<uint64_t>(index);
}

PYWLC_HD int bm_key_index(uint64_t key) { return static_cast<int>(key & ((1u << 19) - 1)); }

void block_match_cpu(const BlockMatchArgs& a, int threads);
#ifdef PYWLC_WITH_CUDA
void block_match_cuda(const BlockMatchArgs& a, void* stream);
#endif

}  // namespace pywlc
