// Frame SATD for the scene-change test (spec "Scene change": intra cost ~ 0.85 x frame SATD; Chen & Woods 2004).
// 8x8 Walsh-Hadamard transform, orthonormal scaling (1/8), so that a block's SATD is on the same scale as a SAD of
// its residual; the DC coefficient is left out because an intra coder predicts the block mean.  Partial blocks at
// the right/bottom border are extended by edge replication.
#include <algorithm>
#include <cmath>

#include "ezbc/hvsbm.h"

namespace ezbc {

namespace {

void fwht8(float* v, int step) {
  for (int len = 1; len < 8; len <<= 1)
    for (int i = 0; i < 8; i += len << 1)
      for (int j = i; j < i + len; ++j) {
        const float a = v[j * step], b = v[(j + len) * step];
        v[j * step] = a + b;
        v[(j + len) * step] = a - b;
      }
}

}  // namespace

double frame_satd(const float* plane, int width, int height, bool with_dc) {
  double total = 0.0;
  for (int by = 0; by < height; by += 8)
    for (int bx = 0; bx < width; bx += 8) {
      float b[64];
      for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 8; ++x)
          b[y * 8 + x] = plane[static_cast<size_t>(std::min(by + y, height - 1)) * width + std::min(bx + x, width - 1)];
      for (int y = 0; y < 8; ++y) fwht8(b + y * 8, 1);
      for (int x = 0; x < 8; ++x) fwht8(b + x, 8);
      double s = 0.0;
      for (int k = with_dc ? 0 : 1; k < 64; ++k) s += std::fabs(b[k]);
      // Only the in-frame share of a border block counts.
      const double area = static_cast<double>(std::min(8, width - bx) * std::min(8, height - by)) / 64.0;
      total += s / 8.0 * area;
    }
  return total;
}

}  // namespace ezbc
