// ezbc unit tests: plain checks, no framework.  Exit status = number of failed checks (0: pass).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <vector>

#include "ezbc/hvsbm.h"

namespace {

int g_failed = 0;

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failed;                                                       \
    }                                                                   \
  } while (0)

#define CHECK_THROWS(expr)                         \
  do {                                             \
    bool thrown_ = false;                          \
    try {                                          \
      expr;                                        \
    } catch (const std::invalid_argument&) {       \
      thrown_ = true;                              \
    }                                              \
    CHECK(thrown_ && #expr);                       \
  } while (0)

// Smooth random texture: sum of a few sinusoids plus low-amplitude noise, 8-bit.  Smooth enough that the
// 8-tap interpolation is accurate, textured enough that every block has a unique match.
std::vector<uint8_t> texture(int w, int h, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  double fx[6], fy[6], ph[6];
  for (int k = 0; k < 6; ++k) {
    fx[k] = 0.05 + 0.25 * u(rng);
    fy[k] = 0.05 + 0.25 * u(rng);
    ph[k] = 6.28 * u(rng);
  }
  std::vector<uint8_t> img(static_cast<size_t>(w) * h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      double v = 128;
      for (int k = 0; k < 6; ++k) v += 18 * std::sin(fx[k] * x + fy[k] * y * (k % 2 ? 1 : -1) + ph[k]);
      img[static_cast<size_t>(y) * w + x] = static_cast<uint8_t>(std::lround(std::fmin(255, std::fmax(0, v))));
    }
  return img;
}

ezbc::PlaneView view(const std::vector<uint8_t>& img, int w, int h) {
  return ezbc::PlaneView{img.data(), w, h, w, ezbc::PixelType::U8};
}

// cur(x, y) = ref(x + dx, y + dy), edge-clamped.
std::vector<uint8_t> shifted(const std::vector<uint8_t>& ref, int w, int h, int dx, int dy) {
  std::vector<uint8_t> out(ref.size());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int sx = std::min(std::max(x + dx, 0), w - 1), sy = std::min(std::max(y + dy, 0), h - 1);
      out[static_cast<size_t>(y) * w + x] = ref[static_cast<size_t>(sy) * w + sx];
    }
  return out;
}

void test_exp_golomb_and_median() {
  CHECK(ezbc::signed_exp_golomb_bits(0) == 1);
  CHECK(ezbc::signed_exp_golomb_bits(1) == 3);
  CHECK(ezbc::signed_exp_golomb_bits(-1) == 3);
  CHECK(ezbc::signed_exp_golomb_bits(2) == 5);
  CHECK(ezbc::signed_exp_golomb_bits(-3) == 5);
  CHECK(ezbc::signed_exp_golomb_bits(4) == 7);
  const ezbc::Mv m = ezbc::median3({1, 9}, {5, -2}, {3, 4});
  CHECK(m.x == 3 && m.y == 4);
  CHECK(ezbc::chroma_mv_quarter({5, -5}).x == 3 && ezbc::chroma_mv_quarter({5, -5}).y == -3);
  CHECK(ezbc::chroma_mv_eighth({5, -6}).x == 5);
}

void test_interpolation_integer_phase_and_constant() {
  const int w = 40, h = 30;
  const auto img = texture(w, h, 1);
  const ezbc::QpelPlane q(view(img, w, h), 8, 2);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) CHECK(q.at(0, 0, x, y) == static_cast<float>(img[y * w + x]));
  CHECK(q.at(0, 0, -5, -5) == static_cast<float>(img[0]));  // edge replication
  std::vector<uint8_t> flat(static_cast<size_t>(w) * h, 77);
  const ezbc::QpelPlane f(view(flat, w, h), 8, 1);
  for (int fy = 0; fy < 4; ++fy)
    for (int fx = 0; fx < 4; ++fx) CHECK(std::fabs(f.at(fx, fy, 3, 7) - 77.0f) < 1e-4f);
}

void test_integer_translation() {
  const int w = 160, h = 128;
  const auto ref = texture(w, h, 2);
  const auto cur = shifted(ref, w, h, 3, -2);
  ezbc::HvsbmParams p;
  p.search_range = 8;
  const auto r = ezbc::hvsbm(view(cur, w, h), view(ref, w, h), nullptr, p);
  int wrong = 0;
  for (int y = 8; y < h - 8; ++y)
    for (int x = 8; x < w - 8; ++x) {
      const size_t i = static_cast<size_t>(y) * w + x;
      if (r.field_left[i] != 3.0f || r.field_left[w * h + i] != -2.0f) ++wrong;
    }
  CHECK(wrong == 0);
  CHECK(!r.scene_cut);
  // A pure translation connects the whole interior of the reference.
  int unconnected = 0;
  for (int y = 8; y < h - 8; ++y)
    for (int x = 8; x < w - 8; ++x) unconnected += !r.connected_left[static_cast<size_t>(y) * w + x];
  CHECK(unconnected == 0);
}

void test_threads_deterministic_bidirectional() {
  const int w = 200, h = 136;  // not multiples of 64: partial root blocks
  const auto a = texture(w, h, 3), b = texture(w, h, 4), c = texture(w, h, 5);
  ezbc::HvsbmParams p;
  p.search_range = 6;
  p.threads = 1;
  const auto ref = ezbc::hvsbm(view(b, w, h), view(a, w, h), nullptr, p);
  const auto pa = view(a, w, h), pc = view(c, w, h);
  const auto r1 = ezbc::hvsbm(view(b, w, h), pa, &pc, p);
  for (int t : {2, 3, 5}) {
    p.threads = t;
    const auto r2 = ezbc::hvsbm(view(b, w, h), pa, &pc, p);
    CHECK(r1.blocks.size() == r2.blocks.size());
    bool same = r1.cost == r2.cost && r1.field_left == r2.field_left && r1.field_right == r2.field_right;
    for (size_t k = 0; same && k < r1.blocks.size(); ++k)
      same = r1.blocks[k].left == r2.blocks[k].left && r1.blocks[k].right == r2.blocks[k].right &&
             r1.blocks[k].mode == r2.blocks[k].mode && r1.blocks[k].size == r2.blocks[k].size;
    CHECK(same);
  }
  CHECK(ref.blocks.size() > 0);
}

void test_connectivity_first_come() {
  // Two pixels mapping to the same target: only the first (raster order) connects it.
  const int w = 4, h = 1;
  std::vector<float> field = {1, 0, 0, 0, 0, 0, 0, 0};  // pixel 0 -> 1, pixel 1 -> 1
  std::vector<uint8_t> uses = {1, 1, 0, 1};
  std::vector<uint8_t> conn(4), first(4);
  ezbc::connectivity(field.data(), uses.data(), w, h, conn.data(), first.data());
  CHECK(conn[0] == 0 && conn[1] == 1 && conn[2] == 0 && conn[3] == 1);
  CHECK(first[0] == 1 && first[1] == 0 && first[3] == 1);
}

void test_validation() {
  std::vector<uint8_t> a(64, 0), b(48, 0);
  ezbc::HvsbmParams p;
  CHECK_THROWS(ezbc::hvsbm(view(a, 8, 8), view(b, 8, 6), nullptr, p));
  p.subpel = 3;
  CHECK_THROWS(ezbc::hvsbm(view(a, 8, 8), view(a, 8, 8), nullptr, p));
  p.subpel = 4;
  p.levels = 6;
  CHECK_THROWS(ezbc::hvsbm(view(a, 8, 8), view(a, 8, 8), nullptr, p));
  p.levels = 5;
  std::vector<float> nan(64, 0.0f);
  nan[5] = std::nanf("");
  const ezbc::PlaneView fv{nan.data(), 8, 8, 8, ezbc::PixelType::F32};
  CHECK_THROWS(ezbc::hvsbm(fv, view(a, 8, 8), nullptr, p));
}

}  // namespace

int main() {
  test_exp_golomb_and_median();
  test_interpolation_integer_phase_and_constant();
  test_integer_translation();
  test_threads_deterministic_bidirectional();
  test_connectivity_first_come();
  test_validation();
  if (g_failed) std::fprintf(stderr, "%d check(s) failed\n", g_failed);
  else std::printf("all ezbc tests passed\n");
  return g_failed == 0 ? 0 : 1;
}
