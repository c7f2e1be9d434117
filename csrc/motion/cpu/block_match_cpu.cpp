// CPU block matching: one block per OpenMP iteration (blocks are independent: no predictor between them).
//
// Same definitions as the CUDA kernel (block_match.h); the CPU only adds two exact shortcuts that cannot change
// the winner: candidates whose vector cost alone exceeds the best cost are skipped, and a SAD stops row by row
// once its cost exceeds the best (a loser's exact value is never needed), plus a pointer fast path for windows
// fully inside the frame.
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "../block_match.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace pywlc {
namespace {

struct RowPlane {  // unclamped reads of the current frame (the block is inside it)
  const uint8_t* p;
  int w;
  int operator()(int y, int x) const { return p[y * w + x]; }
};

// Integer-vector SAD, stopping early once 64 * partial + vec_cost > limit (returns a value above limit then).
int64_t integer_sad(const uint8_t* cur, const uint8_t* ref, int h, int w, int y0, int x0, int bh, int bw, int dy,
                    int dx, int64_t vec_cost, int64_t limit) {
  const bool inside = y0 + dy >= 0 && x0 + dx >= 0 && y0 + dy + bh <= h && x0 + dx + bw <= w;
  int64_t sad = 0;
  for (int y = 0; y < bh; ++y) {
    const uint8_t* c = cur + static_cast<int64_t>(y0 + y) * w + x0;
    int row = 0;
    if (inside) {
      const uint8_t* r = ref + static_cast<int64_t>(y0 + y + dy) * w + x0 + dx;
      for (int x = 0; x < bw; ++x) row += std::abs(static_cast<int>(c[x]) - static_cast<int>(r[x]));
    } else {
      const uint8_t* r = ref + static_cast<int64_t>(bm_clampi(y0 + y + dy, 0, h - 1)) * w;
      for (int x = 0; x < bw; ++x) row += std::abs(static_cast<int>(c[x]) - static_cast<int>(r[bm_clampi(x0 + x + dx, 0, w - 1)]));
    }
    sad += row;
    if (64 * sad + vec_cost > limit) return sad;
  }
  return sad;
}

// qpel_block_sad computed separably: the exact horizontal sums of the (bh + 7) rows the vertical taps need,
// once per candidate, then the vertical filter -- the same integers as qpel_sample (every sum is exact), with
// 16 instead of 64 multiply-adds per pixel when both phases are fractional.
int64_t qpel_block_sad_separable(const uint8_t* cur, const ClampedPlane& ref, int w, int y0, int x0, int bh, int bw,
                                 int mvx, int mvy, std::vector<int>& hbuf) {
  const int iy = mvy >> 2, ix = mvx >> 2, fy = mvy & 3, fx = mvx & 3;
  if (fx == 0 || fy == 0) {
    const RowPlane curp{cur, w};
    return qpel_block_sad(curp, ref, y0, x0, bh, bw, mvx, mvy);
  }
  const int rows = bh + 7;
  hbuf.resize(static_cast<size_t>(rows) * bw);
  int tx[8], ty[8];
  for (int k = 0; k < 8; ++k) {
    tx[k] = hevc_luma_tap(fx, k);
    ty[k] = hevc_luma_tap(fy, k);
  }
  for (int r = 0; r < rows; ++r)
    for (int x = 0; x < bw; ++x) {
      int h = 0;
      for (int k = 0; k < 8; ++k) h += tx[k] * ref(y0 + iy - 3 + r, x0 + x + ix - 3 + k);
      hbuf[static_cast<size_t>(r) * bw + x] = h;
    }
  int64_t sad = 0;
  for (int y = 0; y < bh; ++y)
    for (int x = 0; x < bw; ++x) {
      int s = 0;
      for (int k = 0; k < 8; ++k) s += ty[k] * hbuf[static_cast<size_t>(y + k) * bw + x];
      const int d = cur[static_cast<int64_t>(y0 + y) * w + x0 + x] - bm_clip255((s + 2048) >> 12);
      sad += d < 0 ? -d : d;
    }
  return sad;
}

void match_block(const BlockMatchArgs& a, int64_t n, int64_t by, int64_t bx) {
  const int h = static_cast<int>(a.H), w = static_cast<int>(a.W), b = a.block, r = a.range;
  const uint8_t* cur = a.cur + n * a.H * a.W;
  const uint8_t* ref = a.ref + n * a.H * a.W;
  const int y0 = static_cast<int>(by) * b, x0 = static_cast<int>(bx) * b;
  const int bh = std::min(b, h - y0), bw = std::min(b, w - x0);

  // Integer full search; start from the zero vector's exact cost as the bound.
  const int side = 2 * r + 1;
  int64_t best_sad = integer_sad(cur, ref, h, w, y0, x0, bh, bw, 0, 0, 0, INT64_MAX);
  uint64_t best = bm_key(bm_cost(best_sad, a.lam16, 0, 0), 0, 0, r * side + r);
  for (int dy = -r; dy <= r; ++dy)
    for (int dx = -r; dx <= r; ++dx) {
      const int mvx = 4 * dx, mvy = 4 * dy;
      const int64_t vec_cost = bm_cost(0, a.lam16, mvx, mvy);
      const int64_t limit = static_cast<int64_t>(best >> 31);
      if (vec_cost > limit) continue;
      const int64_t sad = integer_sad(cur, ref, h, w, y0, x0, bh, bw, dy, dx, vec_cost, limit);
      const uint64_t key = bm_key(64 * sad + vec_cost, mvx, mvy, (dy + r) * side + dx + r);
      if (key < best) {
        best = key;
        best_sad = sad;
      }
    }
  const int idx = bm_key_index(best);
  int mvx = 4 * (idx % side - r), mvy = 4 * (idx / side - r);

  // Half- then quarter-pel: the 3x3 neighbourhood (raster index 0..8, centre 4) at +-step quarter pels.
  const ClampedPlane refp{ref, h, w};
  std::vector<int> hbuf;
  for (int step = 2; step >= 1 && step * a.subpel >= 4; --step) {
    uint64_t best_k = bm_key(bm_cost(best_sad, a.lam16, mvx, mvy), mvx, mvy, 4);
    int best_mvx = mvx, best_mvy = mvy;
    for (int k = 0; k < 9; ++k) {
      if (k == 4) continue;
      const int cx = mvx + step * (k % 3 - 1), cy = mvy + step * (k / 3 - 1);
      const int64_t sad = qpel_block_sad_separable(cur, refp, w, y0, x0, bh, bw, cx, cy, hbuf);
      const uint64_t key = bm_key(bm_cost(sad, a.lam16, cx, cy), cx, cy, k);
      if (key < best_k) {
        best_k = key;
        best_mvx = cx;
        best_mvy = cy;
        best_sad = sad;
      }
    }
    mvx = best_mvx;
    mvy = best_mvy;
  }
  const int64_t hb = a.blocks_y(), wb = a.blocks_x();
  a.mvs[((n * 2 + 0) * hb + by) * wb + bx] = mvx;
  a.mvs[((n * 2 + 1) * hb + by) * wb + bx] = mvy;
  a.sad[(n * hb + by) * wb + bx] = static_cast<int32_t>(best_sad);
}

}  // namespace

void block_match_cpu(const BlockMatchArgs& a, int threads) {
  block_match_validate(a);
  if (a.N * a.H * a.W == 0) return;
  const int64_t hb = a.blocks_y(), wb = a.blocks_x(), total = a.N * hb * wb;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads > 0 ? threads : omp_get_max_threads())
#endif
  for (int64_t i = 0; i < total; ++i) match_block(a, i / (hb * wb), (i / wb) % hb, i % wb);
  (void)threads;
}

}  // namespace pywlc
