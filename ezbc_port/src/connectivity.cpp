// Connectivity masks (spec "Connectivity"; Hsiang & Woods, SPIC 2001; Choi & Woods 1999, sec. III): which
// reference pixels receive an update in MCTF.  Each current pixel maps through its vector, rounded to an integer
// position; the first mapping (raster order) to reach a reference pixel connects it, later ones are "multiple
// connected" and do not, pixels reached by no vector stay unconnected.  Raster order makes the result deterministic.
#include <cmath>

#include "ezbc/hvsbm.h"

namespace ezbc {

void connectivity(const float* field, const uint8_t* uses, int width, int height, uint8_t* connected,
                  uint8_t* first) {
  const size_t n = static_cast<size_t>(width) * height;
  for (size_t i = 0; i < n; ++i) connected[i] = first[i] = 0;
  const float* fx = field;
  const float* fy = field + n;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const size_t i = static_cast<size_t>(y) * width + x;
      if (!uses[i]) continue;
      // Round half up: floor(d + 1/2); d is a quarter-pel multiple, so this is exact in float.
      const int tx = x + static_cast<int>(std::floor(fx[i] + 0.5f));
      const int ty = y + static_cast<int>(std::floor(fy[i] + 0.5f));
      if (tx < 0 || ty < 0 || tx >= width || ty >= height) continue;
      const size_t t = static_cast<size_t>(ty) * width + tx;
      if (connected[t]) continue;
      connected[t] = 1;
      first[i] = 1;
    }
}

}  // namespace ezbc
