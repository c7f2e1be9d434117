// HVSBM motion estimation (spec shared/specs/hvsbm_mctf.md, "HVSBM"; Choi & Woods 1999; Chen & Woods 2004).
//
// Per 64x64 root block, a quadtree down to the smallest block size is decided bottom-up: every node is first
// estimated as a leaf (best mode and vectors), then its four children recursively; the split is kept when
// lambda (split flag) + sum(children J) <= J(leaf) + lambda (its own split flag), i.e. sum(children) <= parent.
// Cost J = SAD + lambda * R, R = exp-Golomb bits of (v - median predictor) per vector + the mode's VLC bits.
//
// Determinism for any thread count: the MV predictor of a block reads the final vectors of its left, top and
// top-right neighbours.  Root blocks are processed in wavefront order (HEVC-style WPP): a thread owns a whole row
// of root blocks and starts root block (i, j) only after row j-1 has finished root block i+1.  All neighbours a
// block can reference (left, top-left, top, top-right) then lie in root blocks that are complete, or in the
// current root block (processed sequentially in Z-order); root blocks that are not complete are never read.  So
// every block sees the same neighbour state whatever the number of threads or their timing.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "ezbc/hvsbm.h"

namespace ezbc {

namespace {

constexpr int kRoot = 64;  // root block size (spec: quadtree from 64x64)
constexpr int kUnit = 4;   // smallest block size, granularity of the neighbour state
constexpr double kInf = std::numeric_limits<double>::infinity();

int floor_div4(int v) { return v >= 0 ? v / 4 : -((3 - v) / 4); }
int round_div4(int v) { return floor_div4(v + 2); }

// Mode VLC (a complete prefix code).  Bidirectional pairs: Left 00, Right 01, Bi 10, Parallel 110, MergeUp 1110,
// MergeLeft 1111.  Single reference: Left 0, MergeUp 10, MergeLeft 11.
int mode_bits(BlockMode m, bool has_right) {
  if (!has_right) return m == BlockMode::Left ? 1 : 2;
  switch (m) {
    case BlockMode::Left:
    case BlockMode::Right:
    case BlockMode::Bi:
      return 2;
    case BlockMode::Parallel:
      return 3;
    default:
      return 4;
  }
}

struct Box {
  int x0, y0, x1, y1;  // clipped to the frame
};

// Motion state of a 4x4 unit (for predictors and MERGE).
struct Unit {
  uint8_t decided = 0, use_left = 0, use_right = 0;
  Mv left, right;
};

struct Choice {
  BlockMode mode = BlockMode::Left;
  bool use_left = true, use_right = false;
  Mv left, right;
  double cost = kInf;
};

class Estimator {
 public:
  Estimator(const std::vector<float>& cur, int w, int h, const QpelPlane& refl, const QpelPlane* refr,
            const HvsbmParams& p)
      : cur_(cur.data()), w_(w), h_(h), refl_(refl), refr_(refr), p_(p), lam_(p.lambda) {
    const int r = p.search_range * p.temporal_distance;
    rx_ = std::min(r, w);  // range capped by the frame size (spec "Integer search")
    ry_ = std::min(r, h);
    min_size_ = kRoot >> (p.levels - 1);
    uw_ = (w + kUnit - 1) / kUnit;
    uh_ = (h + kUnit - 1) / kUnit;
    units_.assign(static_cast<size_t>(uw_) * uh_, Unit{});
  }

  // Codes one root block; appends its leaves.  Returns its total J (with split flags).
  double root(int ci, int cj, std::vector<Block>& out) { return code(ci * kRoot, cj * kRoot, kRoot, out); }

 private:
  // ------------------------------------------------------------------------------------------------------------
  // Matching costs

  float sad_single(const QpelPlane& ref, Mv v, const Box& b, float bound) const {
    const int ix = floor_div4(v.x), iy = floor_div4(v.y);
    const int fx = v.x & 3, fy = v.y & 3;
    const int pad = ref.pad();
    float s = 0.0f;
    if (b.x0 + ix >= -pad && b.x1 - 1 + ix < w_ + pad && b.y0 + iy >= -pad && b.y1 - 1 + iy < h_ + pad) {
      const float* base = ref.phase(fx, fy);
      for (int y = b.y0; y < b.y1; ++y) {
        const float* c = cur_ + static_cast<std::ptrdiff_t>(y) * w_;
        const float* r = base + static_cast<std::ptrdiff_t>(y + iy) * ref.stride() + ix;
        float row = 0.0f;
        for (int x = b.x0; x < b.x1; ++x) row += std::fabs(c[x] - r[x]);
        s += row;
        if (s > bound) return s;  // cannot beat the best candidate any more
      }
      return s;
    }
    for (int y = b.y0; y < b.y1; ++y) {
      const float* c = cur_ + static_cast<std::ptrdiff_t>(y) * w_;
      for (int x = b.x0; x < b.x1; ++x) s += std::fabs(c[x] - ref.at(fx, fy, x + ix, y + iy));
      if (s > bound) return s;
    }
    return s;
  }

  // Bidirectional prediction: the average of the two motion-compensated references (Chen & Woods 2004).
  float sad_bi(Mv vl, Mv vr, const Box& b, float bound) const {
    const QpelPlane& rr = *refr_;
    const int lx = floor_div4(vl.x), ly = floor_div4(vl.y), rx = floor_div4(vr.x), ry = floor_div4(vr.y);
    const int lfx = vl.x & 3, lfy = vl.y & 3, rfx = vr.x & 3, rfy = vr.y & 3;
    const int pad = refl_.pad();
    auto inside = [&](int ix, int iy) {
      return b.x0 + ix >= -pad && b.x1 - 1 + ix < w_ + pad && b.y0 + iy >= -pad && b.y1 - 1 + iy < h_ + pad;
    };
    float s = 0.0f;
    if (inside(lx, ly) && inside(rx, ry)) {
      const float* bl = refl_.phase(lfx, lfy);
      const float* br = rr.phase(rfx, rfy);
      for (int y = b.y0; y < b.y1; ++y) {
        const float* c = cur_ + static_cast<std::ptrdiff_t>(y) * w_;
        const float* a = bl + static_cast<std::ptrdiff_t>(y + ly) * refl_.stride() + lx;
        const float* d = br + static_cast<std::ptrdiff_t>(y + ry) * rr.stride() + rx;
        float row = 0.0f;
        for (int x = b.x0; x < b.x1; ++x) row += std::fabs(c[x] - 0.5f * (a[x] + d[x]));
        s += row;
        if (s > bound) return s;
      }
      return s;
    }
    for (int y = b.y0; y < b.y1; ++y) {
      const float* c = cur_ + static_cast<std::ptrdiff_t>(y) * w_;
      for (int x = b.x0; x < b.x1; ++x)
        s += std::fabs(c[x] - 0.5f * (refl_.at(lfx, lfy, x + lx, y + ly) + rr.at(rfx, rfy, x + rx, y + ry)));
      if (s > bound) return s;
    }
    return s;
  }

  float sad_motion(bool ul, bool ur, Mv vl, Mv vr, const Box& b, float bound) const {
    if (ul && ur) return sad_bi(vl, vr, b, bound);
    return ul ? sad_single(refl_, vl, b, bound) : sad_single(*refr_, vr, b, bound);
  }

  double rate(Mv v, Mv pred) const {
    return lam_ * (signed_exp_golomb_bits(v.x - pred.x) + signed_exp_golomb_bits(v.y - pred.y));
  }

  // ------------------------------------------------------------------------------------------------------------
  // Searches.  `sad(v, bound)` is the matching cost of vector v; J(v) = sad + lambda * bits(v - pred).  Ties keep
  // the earlier candidate, so the visiting order below is part of the result.

  template <typename Sad>
  struct Tracker {
    const Estimator& e;
    Sad sad;
    Mv pred;
    Mv best;
    double best_j = kInf;
    double best_sad = kInf;
    // Returns the rate term of v (the early-termination test needs it).
    double eval(Mv v) {
      const double r = e.rate(v, pred);
      if (r >= best_j) return r;  // the rate alone already loses: skip the SAD
      const double bound = best_j - r;
      const double s = sad(v, static_cast<float>(std::min(bound, 3.0e38)));
      if (s + r < best_j) {
        best_j = s + r;
        best_sad = s;
        best = v;
      }
      return r;
    }
  };

  template <typename Sad>
  Tracker<Sad> make_tracker(Sad sad, Mv pred) const {
    return Tracker<Sad>{*this, sad, pred, Mv{}, kInf, kInf};
  }

  bool in_window(int ix, int iy) const { return std::abs(ix) <= rx_ && std::abs(iy) <= ry_; }

  // Integer spiral search around the predicted vector (spec "Integer search"), rings at Chebyshev distance r,
  // stopping after a ring where no candidate's rate term alone is below the best J (no later, farther candidate
  // can win since the rate grows with the distance to the predictor).  The zero vector is tried first.
  template <typename T>
  void spiral(T& t, int cx, int cy, int max_ring) const {
    if (in_window(0, 0)) t.eval(Mv{0, 0});
    cx = std::clamp(cx, -rx_, rx_);
    cy = std::clamp(cy, -ry_, ry_);
    if (cx != 0 || cy != 0) t.eval(Mv{4 * cx, 4 * cy});
    for (int r = 1; r <= max_ring; ++r) {
      if (cx - r < -rx_ && cx + r > rx_ && cy - r < -ry_ && cy + r > ry_) break;  // ring entirely outside
      double ring_min = kInf;
      auto visit = [&](int dx, int dy) {
        const int ix = cx + dx, iy = cy + dy;
        if (!in_window(ix, iy)) return;
        ring_min = std::min(ring_min, t.eval(Mv{4 * ix, 4 * iy}));
      };
      for (int dx = -r; dx <= r; ++dx) visit(dx, -r);         // top edge, left to right
      for (int dy = -r + 1; dy <= r; ++dy) visit(r, dy);      // right edge, downwards
      for (int dx = r - 1; dx >= -r; --dx) visit(dx, r);      // bottom edge, right to left
      for (int dy = r - 1; dy >= -r + 1; --dy) visit(-r, dy);  // left edge, upwards
      if (ring_min >= t.best_j) break;
    }
  }

  // Local refinement around the current best: the 8 neighbours at `step` quarter pels, centred on the best vector
  // found so far (half-pel step 2, then quarter-pel step 1).
  template <typename T>
  void refine8(T& t, int step) const {
    const Mv c = t.best;
    static constexpr int kD[8][2] = {{-1, -1}, {0, -1}, {1, -1}, {-1, 0}, {1, 0}, {-1, 1}, {0, 1}, {1, 1}};
    for (const auto& d : kD) t.eval(Mv{c.x + d[0] * step, c.y + d[1] * step});
  }

  template <typename T>
  void subpel(T& t) const {
    if (p_.subpel >= 2) refine8(t, 2);
    if (p_.subpel >= 4) refine8(t, 1);
  }

  // Full single-reference estimation: integer spiral + sub-pixel refinement.
  std::pair<Mv, double> search_single(const QpelPlane& ref, Mv pred, const Box& b) const {
    auto t = make_tracker([&](Mv v, float bound) { return sad_single(ref, v, b, bound); }, pred);
    spiral(t, round_div4(pred.x), round_div4(pred.y), std::max(rx_, ry_) * 2);
    subpel(t);
    return {t.best, t.best_j};
  }

  // ------------------------------------------------------------------------------------------------------------
  // Neighbour state and predictors

  const Unit* unit_at(int px, int py) const {
    if (px < 0 || py < 0 || px >= w_ || py >= h_) return nullptr;
    const Unit& u = units_[static_cast<size_t>(py / kUnit) * uw_ + px / kUnit];
    return u.decided ? &u : nullptr;
  }

  // Median of the left (A), top (B) and top-right (C, or top-left D when C is not available yet) neighbours'
  // vectors of one direction (Choi & Woods 1999; H.264-style availability).  A neighbour not using the direction
  // counts as unavailable; unavailable ones are zero vectors, and a single available one is used as is.
  Mv predictor(int x, int y, int s, bool right_dir) const {
    const Unit* a = unit_at(x - 1, y);
    const Unit* b = unit_at(x, y - 1);
    const Unit* c = unit_at(x + s, y - 1);
    if (!c) c = unit_at(x - 1, y - 1);
    const Unit* n[3] = {a, b, c};
    Mv v[3];
    int avail = 0, last = 0;
    for (int k = 0; k < 3; ++k) {
      if (n[k] && (right_dir ? n[k]->use_right : n[k]->use_left)) {
        v[k] = right_dir ? n[k]->right : n[k]->left;
        ++avail;
        last = k;
      }
    }
    if (avail == 1) return v[last];
    return median3(v[0], v[1], v[2]);
  }

  void write_units(const Box& b, const Choice& c) {
    for (int uy = b.y0 / kUnit; uy < (b.y1 + kUnit - 1) / kUnit; ++uy)
      for (int ux = b.x0 / kUnit; ux < (b.x1 + kUnit - 1) / kUnit; ++ux) {
        Unit& u = units_[static_cast<size_t>(uy) * uw_ + ux];
        u.decided = 1;
        u.use_left = c.use_left;
        u.use_right = c.use_right;
        u.left = c.left;
        u.right = c.right;
      }
  }

  // ------------------------------------------------------------------------------------------------------------
  // Mode decision for one block (Chen & Woods 2004)

  Choice evaluate(int x, int y, int s, const Box& b) const {
    const bool two = refr_ != nullptr;
    const Mv pl = predictor(x, y, s, false);
    Choice best;
    auto consider = [&](BlockMode m, bool ul, bool ur, Mv vl, Mv vr, double j) {
      j += lam_ * mode_bits(m, two);
      if (j < best.cost) best = Choice{m, ul, ur, ul ? vl : Mv{}, ur ? vr : Mv{}, j};
    };
    const auto [vl, jl] = search_single(refl_, pl, b);
    consider(BlockMode::Left, true, false, vl, Mv{}, jl);
    if (two) {
      const Mv pr = predictor(x, y, s, true);
      const auto [vr, jr] = search_single(*refr_, pr, b);
      consider(BlockMode::Right, false, true, Mv{}, vr, jr);
      // Iterative bidirectional refinement: re-estimate the left vector with the right one fixed (cost of the
      // averaged prediction), then the right with the left fixed; `bi_iterations` passes.  Each re-estimation is a
      // local search (integer rings up to 2 pixels, then sub-pel) around the current vector.
      Mv bl = vl, br = vr;
      double jb = sad_bi(bl, br, b, 3.0e38f) + rate(bl, pl) + rate(br, pr);
      for (int it = 0; it < p_.bi_iterations; ++it) {
        {
          auto t = make_tracker([&](Mv v, float bound) { return sad_bi(v, br, b, bound); }, pl);
          t.eval(bl);
          local(t, bl);
          bl = t.best;
        }
        {
          auto t = make_tracker([&](Mv v, float bound) { return sad_bi(bl, v, b, bound); }, pr);
          t.eval(br);
          local(t, br);
          br = t.best;
        }
        jb = sad_bi(bl, br, b, 3.0e38f) + rate(bl, pl) + rate(br, pr);
      }
      consider(BlockMode::Bi, true, true, bl, br, jb);
      if (p_.enable_parallel) {
        // PARALLEL: right = -left, one vector coded (against the left predictor).
        auto t = make_tracker([&](Mv v, float bound) { return sad_bi(v, Mv{-v.x, -v.y}, b, bound); }, pl);
        for (Mv c : {vl, Mv{-vr.x, -vr.y}, bl, Mv{-br.x, -br.y}}) t.eval(c);
        refine8(t, 4);
        subpel(t);
        consider(BlockMode::Parallel, true, true, t.best, Mv{-t.best.x, -t.best.y}, t.best_j);
      }
    }
    if (p_.enable_merge) {
      // MERGE: inherit the whole motion state of the unit above or to the left; only the mode is coded.
      const Unit* up = unit_at(x, y - 1);
      const Unit* lf = unit_at(x - 1, y);
      if (up) consider(BlockMode::MergeUp, up->use_left, up->use_right, up->left, up->right,
                       sad_motion(up->use_left, up->use_right, up->left, up->right, b, 3.0e38f));
      if (lf) consider(BlockMode::MergeLeft, lf->use_left, lf->use_right, lf->left, lf->right,
                       sad_motion(lf->use_left, lf->use_right, lf->left, lf->right, b, 3.0e38f));
    }
    return best;
  }

  template <typename T>
  void local(T& t, Mv centre) const {
    for (int r = 1; r <= 2; ++r)
      for (int dy = -r; dy <= r; ++dy)
        for (int dx = -r; dx <= r; ++dx)
          if (std::max(std::abs(dx), std::abs(dy)) == r) t.eval(Mv{centre.x + 4 * dx, centre.y + 4 * dy});
    subpel(t);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Quadtree (bottom-up decision, spec "HVSBM")

  double code(int x, int y, int s, std::vector<Block>& out) {
    if (x >= w_ || y >= h_) return 0.0;
    const Box b{x, y, std::min(x + s, w_), std::min(y + s, h_)};
    const Choice leaf = evaluate(x, y, s, b);
    const bool can_split = s > min_size_;
    const double j_leaf = leaf.cost + (can_split ? lam_ : 0.0);
    auto emit = [&] {
      write_units(b, leaf);
      const double sad = sad_motion(leaf.use_left, leaf.use_right, leaf.left, leaf.right, b, 3.0e38f);
      out.push_back(
          Block{x, y, s, leaf.mode, leaf.use_left, leaf.use_right, leaf.left, leaf.right, leaf.cost, sad});
      return j_leaf;
    };
    if (!can_split) return emit();
    const size_t mark = out.size();
    const int h = s / 2;
    double j_split = lam_;
    const int cx[4] = {x, x + h, x, x + h}, cy[4] = {y, y, y + h, y + h};
    for (int k = 0; k < 4 && j_split <= j_leaf; ++k) j_split += code(cx[k], cy[k], h, out);
    if (j_split <= j_leaf) return j_split;
    out.resize(mark);
    return emit();
  }

  const float* cur_;
  int w_, h_;
  const QpelPlane& refl_;
  const QpelPlane* refr_;
  const HvsbmParams& p_;
  double lam_;
  int rx_ = 0, ry_ = 0, min_size_ = kUnit, uw_ = 0, uh_ = 0;
  std::vector<Unit> units_;
};

void check_plane(const PlaneView& p, const char* name) {
  const std::string n(name);
  if (p.data == nullptr) throw std::invalid_argument(n + ": null data");
  if (p.width <= 0 || p.height <= 0)
    throw std::invalid_argument(n + ": empty plane " + std::to_string(p.width) + "x" + std::to_string(p.height));
  if (p.stride < p.width) throw std::invalid_argument(n + ": stride smaller than width");
  if (p.type != PixelType::U8 && p.type != PixelType::F32) throw std::invalid_argument(n + ": unknown pixel type");
  if (p.type == PixelType::F32) {
    const float* d = static_cast<const float*>(p.data);
    for (int y = 0; y < p.height; ++y)
      for (int x = 0; x < p.width; ++x)
        if (!std::isfinite(d[y * p.stride + x])) throw std::invalid_argument(n + ": non-finite value");
  }
}

void fill_field(const std::vector<Block>& blocks, int w, int h, bool right, std::vector<float>& field,
                std::vector<uint8_t>& uses) {
  const size_t n = static_cast<size_t>(w) * h;
  field.assign(2 * n, 0.0f);
  uses.assign(n, 0);
  for (const Block& b : blocks) {
    const bool u = right ? b.use_right : b.use_left;
    if (!u) continue;
    const Mv v = right ? b.right : b.left;
    for (int y = b.y; y < std::min(b.y + b.size, h); ++y)
      for (int x = b.x; x < std::min(b.x + b.size, w); ++x) {
        const size_t i = static_cast<size_t>(y) * w + x;
        field[i] = static_cast<float>(v.x) * 0.25f;
        field[n + i] = static_cast<float>(v.y) * 0.25f;
        uses[i] = 1;
      }
  }
}

// The motion-compensated prediction residual cur - pred over the frame (bidirectional leaves average their two
// predictions, as sad_bi does), for the scene-change test.
std::vector<float> residual(const std::vector<float>& cur, const QpelPlane& refl, const QpelPlane* refr,
                            const std::vector<Block>& blocks, int w, int h) {
  std::vector<float> out(cur);
  auto sample = [](const QpelPlane& r, Mv v, int x, int y) {
    return r.at(v.x & 3, v.y & 3, x + floor_div4(v.x), y + floor_div4(v.y));
  };
  for (const Block& b : blocks)
    for (int y = b.y; y < std::min(b.y + b.size, h); ++y)
      for (int x = b.x; x < std::min(b.x + b.size, w); ++x) {
        float pred;
        if (b.use_left && b.use_right && refr)
          pred = 0.5f * (sample(refl, b.left, x, y) + sample(*refr, b.right, x, y));
        else if (b.use_right && refr)
          pred = sample(*refr, b.right, x, y);
        else
          pred = sample(refl, b.left, x, y);
        out[static_cast<size_t>(y) * w + x] -= pred;
      }
  return out;
}

}  // namespace

int signed_exp_golomb_bits(int v) {
  // Signed mapping 0, 1, -1, 2, -2 ... -> 0, 1, 2, 3, 4 ...; ue(k) has 2*floor(log2(k+1)) + 1 bits.
  const unsigned k = v > 0 ? 2u * static_cast<unsigned>(v) - 1u : 2u * static_cast<unsigned>(-static_cast<long long>(v));
  unsigned m = k + 1, lg = 0;
  while (m >>= 1) ++lg;
  return static_cast<int>(2 * lg + 1);
}

Mv median3(const Mv& a, const Mv& b, const Mv& c) {
  auto med = [](int p, int q, int r) { return std::max(std::min(p, q), std::min(std::max(p, q), r)); };
  return Mv{med(a.x, b.x, c.x), med(a.y, b.y, c.y)};
}

Mv chroma_mv_quarter(const Mv& luma_qpel) {
  auto half = [](int v) { return v >= 0 ? (v + 1) / 2 : -((-v + 1) / 2); };
  return Mv{half(luma_qpel.x), half(luma_qpel.y)};
}

void validate(const PlaneView& cur, const PlaneView& left, const PlaneView* right, const HvsbmParams& p) {
  check_plane(cur, "cur");
  check_plane(left, "ref_left");
  if (right) check_plane(*right, "ref_right");
  for (const PlaneView* r : {&left, right})
    if (r && (r->width != cur.width || r->height != cur.height))
      throw std::invalid_argument("reference size " + std::to_string(r->width) + "x" + std::to_string(r->height) +
                                  " differs from cur " + std::to_string(cur.width) + "x" + std::to_string(cur.height));
  if (!std::isfinite(p.lambda) || p.lambda < 0) throw std::invalid_argument("lam must be finite and >= 0");
  if (p.levels < 1 || p.levels > 5) throw std::invalid_argument("levels must be in 1..5 (64x64 down to 4x4)");
  if (p.subpel != 1 && p.subpel != 2 && p.subpel != 4) throw std::invalid_argument("subpel must be 1, 2 or 4");
  if (p.search_range < 0 || p.search_range > 4096) throw std::invalid_argument("search_range must be in 0..4096");
  if (p.temporal_distance < 1 || p.temporal_distance > 64)
    throw std::invalid_argument("temporal_distance must be in 1..64");
  if (p.threads < 0) throw std::invalid_argument("threads must be >= 0");
  if (p.bi_iterations < 0 || p.bi_iterations > 16) throw std::invalid_argument("bi_iterations must be in 0..16");
  if (!std::isfinite(p.scene_cut_factor) || p.scene_cut_factor < 0)
    throw std::invalid_argument("scene_cut_factor must be finite and >= 0");
}

HvsbmResult hvsbm(const PlaneView& cur, const PlaneView& left, const PlaneView* right, const HvsbmParams& params) {
  validate(cur, left, right, params);
  const int w = cur.width, h = cur.height;
  int threads = params.threads;
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  const std::vector<float> c = to_float(cur);
  // Padding: a root block plus 16 pixels of vector stays on the fast (unclamped) path.
  const int pad = kRoot + 16;
  const QpelPlane refl(left, pad, threads);
  QpelPlane refr_storage;
  if (right) refr_storage = QpelPlane(*right, pad, threads);
  const QpelPlane* refr = right ? &refr_storage : nullptr;

  Estimator est(c, w, h, refl, refr, params);
  const int cols = (w + kRoot - 1) / kRoot, rows = (h + kRoot - 1) / kRoot;
  std::vector<std::vector<Block>> per_root(static_cast<size_t>(cols) * rows);
  std::vector<double> root_cost(per_root.size(), 0.0);

  // Wavefront: row j may code root block i once row j-1 has completed min(i + 2, cols) root blocks.
  std::vector<int> done(rows, 0);
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<int> next_row{0};
  auto worker = [&] {
    for (int j = next_row++; j < rows; j = next_row++) {
      for (int i = 0; i < cols; ++i) {
        if (j > 0) {
          std::unique_lock<std::mutex> lock(mu);
          cv.wait(lock, [&] { return done[j - 1] >= std::min(i + 2, cols); });
        }
        const size_t k = static_cast<size_t>(j) * cols + i;
        root_cost[k] = est.root(i, j, per_root[k]);
        {
          std::lock_guard<std::mutex> lock(mu);
          done[j] = i + 1;
        }
        cv.notify_all();
      }
    }
  };
  const int n = std::max(1, std::min(threads, rows));
  if (n == 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < n; ++t) pool.emplace_back(worker);
    for (auto& th : pool) th.join();
  }

  HvsbmResult res;
  res.width = w;
  res.height = h;
  res.has_right = right != nullptr;
  for (size_t k = 0; k < per_root.size(); ++k) {
    res.blocks.insert(res.blocks.end(), per_root[k].begin(), per_root[k].end());
    res.cost += root_cost[k];  // fixed summation order: deterministic
  }
  for (const Block& blk : res.blocks) res.sad += blk.sad;
  fill_field(res.blocks, w, h, false, res.field_left, res.uses_left);
  const size_t npx = static_cast<size_t>(w) * h;
  res.connected_left.resize(npx);
  res.first_left.resize(npx);
  connectivity(res.field_left.data(), res.uses_left.data(), w, h, res.connected_left.data(), res.first_left.data());
  if (right) {
    fill_field(res.blocks, w, h, true, res.field_right, res.uses_right);
    res.connected_right.resize(npx);
    res.first_right.resize(npx);
    connectivity(res.field_right.data(), res.uses_right.data(), w, h, res.connected_right.data(),
                 res.first_right.data());
  }
  // Scene change (spec; Chen & Woods 2004): no motion model (left, right, bidirectional: the mode decision keeps
  // the cheapest) beats intra coding, estimated as scene_cut_factor x SATD of the current frame.  The motion side
  // is measured like the intra side, as the SATD of its prediction residual (DC included): a SAD against a SATD
  // is biased towards "cut", because a motion residual is spatially correlated and its transform compacts it
  // (cube, level 2, last frame with a left reference only: SAD 546k vs intra 462k, residual SATD 265k).  The
  // side information is not counted: with it, a flat frame (intra cost 0) would be a "scene cut" against a
  // perfect prediction of itself.
  res.intra_cost = params.scene_cut_factor * frame_satd(c.data(), w, h);
  const std::vector<float> resid = residual(c, refl, refr, res.blocks, w, h);
  res.inter_cost = frame_satd(resid.data(), w, h, true);
  res.scene_cut = res.inter_cost > res.intra_cost;
  return res;
}

}  // namespace ezbc
