// Quarter-pel reference interpolation.
//
// Filter: the HEVC (H.265) 8-tap luma interpolation filter, applied separably (horizontal, then vertical) in
// float without intermediate rounding or clipping.  The spec allows "a separable 8-tap FIR (e.g. the HEVC luma
// filter) or bilinear"; the 8-tap filter keeps the sub-pixel SAD surface close to the true shift, which matters
// for the quarter-pel end-point error.  Taps at offsets -3..+4 around the integer sample, sum 64:
//   1/4: [-1, 4, -10, 58, 17, -5, 1, 0]   1/2: [-1, 4, -11, 40, 40, -11, 4, -1]   3/4: mirror of 1/4.
// Borders: edge replication (the reference is extended by repeating its outermost samples), so vectors may point
// outside the frame.
#include <algorithm>
#include <stdexcept>
#include <thread>

#include "ezbc/hvsbm.h"

namespace ezbc {

namespace {

constexpr float kTaps[4][8] = {
    {0, 0, 0, 64, 0, 0, 0, 0},
    {-1, 4, -10, 58, 17, -5, 1, 0},
    {-1, 4, -11, 40, 40, -11, 4, -1},
    {0, 1, -5, 17, 58, -10, 4, -1},
};

template <typename T>
void copy_rows(const PlaneView& p, std::vector<float>& out) {
  const T* s = static_cast<const T*>(p.data);
  for (int y = 0; y < p.height; ++y)
    for (int x = 0; x < p.width; ++x) out[static_cast<size_t>(y) * p.width + x] = static_cast<float>(s[y * p.stride + x]);
}

}  // namespace

std::vector<float> to_float(const PlaneView& p) {
  std::vector<float> out(static_cast<size_t>(p.width) * p.height);
  if (p.type == PixelType::U8)
    copy_rows<uint8_t>(p, out);
  else
    copy_rows<float>(p, out);
  return out;
}

QpelPlane::QpelPlane(const PlaneView& src, int pad, int threads) : width_(src.width), height_(src.height), pad_(pad) {
  if (src.width <= 0 || src.height <= 0) throw std::invalid_argument("QpelPlane: empty plane");
  const std::vector<float> img = to_float(src);
  const int wp = width_ + 2 * pad, hp = height_ + 2 * pad;
  stride_ = wp;
  origin_ = static_cast<std::ptrdiff_t>(pad) * wp + pad;
  // Horizontal pass: 4 phases over the padded area; source columns and rows clamped (edge replication).
  std::vector<float> hor[4];
  for (auto& h : hor) h.assign(static_cast<size_t>(wp) * hp, 0.0f);
  auto clampi = [](int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); };
  auto horizontal = [&](int y0, int y1) {
    for (int yy = y0; yy < y1; ++yy) {
      const float* row = img.data() + static_cast<size_t>(clampi(yy - pad, 0, height_ - 1)) * width_;
      for (int xx = 0; xx < wp; ++xx) {
        const int x = xx - pad;
        float s[8];
        for (int k = 0; k < 8; ++k) s[k] = row[clampi(x - 3 + k, 0, width_ - 1)];
        for (int f = 0; f < 4; ++f) {
          float acc = 0.0f;
          for (int k = 0; k < 8; ++k) acc += kTaps[f][k] * s[k];
          hor[f][static_cast<size_t>(yy) * wp + xx] = acc * (1.0f / 64.0f);
        }
      }
    }
  };
  // Vertical pass: rows of the horizontally filtered planes, clamped inside the padded area (rows beyond it are
  // copies of the edge row, so clamping there equals clamping in the frame).
  for (auto& p : planes_) p.assign(static_cast<size_t>(wp) * hp, 0.0f);
  auto vertical = [&](int y0, int y1) {
    for (int yy = y0; yy < y1; ++yy) {
      const float* rows[8];
      for (int fx = 0; fx < 4; ++fx) {
        for (int k = 0; k < 8; ++k) rows[k] = hor[fx].data() + static_cast<size_t>(clampi(yy - 3 + k, 0, hp - 1)) * wp;
        for (int fy = 0; fy < 4; ++fy) {
          float* out = planes_[fy * 4 + fx].data() + static_cast<size_t>(yy) * wp;
          const float* t = kTaps[fy];
          for (int xx = 0; xx < wp; ++xx) {
            float acc = 0.0f;
            for (int k = 0; k < 8; ++k) acc += t[k] * rows[k][xx];
            out[xx] = acc * (1.0f / 64.0f);
          }
        }
      }
    }
  };
  // Row bands per thread: each output sample is computed by one thread from the same inputs, so the planes do not
  // depend on the thread count.
  auto run = [&](auto&& fn) {
    const int n = std::max(1, std::min(threads, hp / 16));
    if (n == 1) {
      fn(0, hp);
      return;
    }
    std::vector<std::thread> pool;
    for (int t = 0; t < n; ++t) pool.emplace_back([&, t] { fn(hp * t / n, hp * (t + 1) / n); });
    for (auto& th : pool) th.join();
  };
  run(horizontal);
  run(vertical);
}

float QpelPlane::at(int fx, int fy, int x, int y) const {
  x = std::clamp(x, -pad_, width_ + pad_ - 1);
  y = std::clamp(y, -pad_, height_ + pad_ - 1);
  return phase(fx, fy)[static_cast<std::ptrdiff_t>(y) * stride_ + x];
}

}  // namespace ezbc
