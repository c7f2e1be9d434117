// CPU geometry of an MCTF level: predict weights and first-come-first-served connectivity in one pass per frame
// (the torch formulation in mctf.py builds a dozen full-size temporaries and a scatter_reduce per reference).
// Frames are independent (OpenMP over K); inside a frame the raster scan order *is* the first-come rule.
#include <cmath>
#include <cstring>
#include <vector>

#include "../mctf.h"

namespace pywlc {
namespace {

// p + floor(v + 1/2) in float32 arithmetic, as torch.floor(field + 0.5) computes it.
inline int64_t target(int64_t p, float v) { return p + static_cast<int64_t>(std::floor(v + 0.5f)); }

}  // namespace

void mctf_geometry_cpu(const MctfGeometryArgs& a) {
  if (a.K < 0 || a.H < 0 || a.W < 0) throw std::invalid_argument("negative size");
  const int64_t hw = a.H * a.W;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) if (a.K > 1 && hw >= (1 << 14))
#endif
  for (int64_t k = 0; k < a.K; ++k) {
    const float* fl = a.field_l + k * 2 * hw;
    const float* fr = a.field_r + k * 2 * hw;
    const uint8_t* ul = a.uses_l + k * hw;
    const uint8_t* ur = a.uses_r + k * hw;
    const bool live = a.cut[k] == 0, has_right = a.has_right[k] != 0;
    float* wl = a.wl + k * hw;
    float* wr = a.wr + k * hw;
    uint8_t* cl = a.conn_l + k * hw;
    uint8_t* cr = a.conn_r + k * hw;
    int64_t* sl = a.src_l + k * hw;
    int64_t* sr = a.src_r + k * hw;
    std::memset(cl, 0, static_cast<size_t>(hw));
    std::memset(cr, 0, static_cast<size_t>(hw));
    std::memset(sl, 0, static_cast<size_t>(hw) * sizeof(int64_t));
    std::memset(sr, 0, static_cast<size_t>(hw) * sizeof(int64_t));
    for (int64_t y = 0; y < a.H; ++y)
      for (int64_t x = 0; x < a.W; ++x) {
        const int64_t p = y * a.W + x;
        const int64_t lx = target(x, fl[p]), ly = target(y, fl[hw + p]);
        const int64_t rx = target(x, fr[p]), ry = target(y, fr[hw + p]);
        const bool in_l = lx >= 0 && lx < a.W && ly >= 0 && ly < a.H;
        const bool in_r = rx >= 0 && rx < a.W && ry >= 0 && ry < a.H;
        const bool use_l = ul[p] != 0, use_r = ur[p] != 0 && has_right;
        const bool el = use_l && in_l, er = use_r && in_r;
        const bool neither = !(el || er);
        // Both targets outside: keep the used references (border-clamped reads), no connection.
        const float pl = (neither ? use_l : el) ? 1.0f : 0.0f;
        const float pr = (neither ? use_r : er) ? 1.0f : 0.0f;
        const float total = pl + pr < 1.0f ? 1.0f : pl + pr;
        const float lv = live ? 1.0f : 0.0f;
        wl[p] = pl / total * lv;
        wr[p] = pr / total * lv;
        // First come, first served: the scan is in raster order, so the first writer wins.
        if (wl[p] > 0 && el) {
          const int64_t t = ly * a.W + lx;
          if (!cl[t]) cl[t] = 1, sl[t] = p;
        }
        if (wr[p] > 0 && er) {
          const int64_t t = ry * a.W + rx;
          if (!cr[t]) cr[t] = 1, sr[t] = p;
        }
      }
  }
}

}  // namespace pywlc
