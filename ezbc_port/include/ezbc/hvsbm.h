// HVSBM: hierarchical variable-size block matching, the motion estimator of MC-EZBC.
//
// Clean-room port from the behaviour in shared/specs/hvsbm_mctf.md and the papers:
//   Choi & Woods, "Motion-compensated 3-D subband coding of video", IEEE TIP 8(2), 1999 (HVSBM, quadtree);
//   Hsiang & Woods, EZBC (ISCAS 2000) and the invertible 3-D MC filter bank (SPIC 2001) (connectivity);
//   Chen & Woods, "Bidirectional MC-EZBC with lifting implementation", IEEE TCSVT 14(10), 2004 (modes,
//   PARALLEL / MERGE, iterative bidirectional refinement, scene-change test).
//
// Conventions
// - A vector v = (x, y) is in quarter-pel units.  Pixel (px, py) of the current frame is predicted from the
//   reference at (px + x/4, py + y/4): cur(p) ~ ref(p + v/4).  The left reference is the previous frame of the
//   pair, the right reference the next one.
// - Planes are single-channel ("grey"), 8-bit or float, with a row stride in elements.
// - Results are bitwise identical for every thread count (wavefront order over 64x64 root blocks, see hvsbm.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ezbc {

enum class PixelType : int { U8 = 0, F32 = 1 };

// A read-only grey plane: `stride` is in elements (not bytes), >= width.
struct PlaneView {
  const void* data = nullptr;
  int width = 0;
  int height = 0;
  std::ptrdiff_t stride = 0;
  PixelType type = PixelType::U8;
};

struct Mv {
  int x = 0;  // quarter-pel
  int y = 0;  // quarter-pel
  bool operator==(const Mv& o) const { return x == o.x && y == o.y; }
  bool operator!=(const Mv& o) const { return !(*this == o); }
};

// Block modes (Chen & Woods 2004, sec. III).  MERGE_* inherit the whole motion state (directions and vectors) of
// the unit above / to the left and cost only their mode bits.
enum class BlockMode : int { Left = 0, Right = 1, Bi = 2, Parallel = 3, MergeUp = 4, MergeLeft = 5 };

// One quadtree leaf.  x, y, size are the nominal square (it may extend past the frame's right/bottom border).
struct Block {
  int x = 0, y = 0, size = 0;
  BlockMode mode = BlockMode::Left;
  bool use_left = true;   // prediction uses the left reference (Left, Bi, Parallel, or a merged one)
  bool use_right = false;  // prediction uses the right reference
  Mv left, right;          // zero where unused
  double cost = 0.0;       // J = SAD + lambda * (mv bits + mode bits) of this leaf (split flags not included)
  double sad = 0.0;        // the motion-compensated SAD alone
};

struct HvsbmParams {
  double lambda = 24.0;         // Lagrange multiplier, per temporal level (spec default 24)
  int levels = 5;               // quadtree depths: root 64x64, smallest block 64 >> (levels - 1); 1..5
  int subpel = 4;               // 1 integer, 2 half-pel, 4 quarter-pel refinement
  int search_range = 16;        // base integer search range in pixels (>= 0)
  int temporal_distance = 1;    // range = search_range * temporal_distance, capped by the frame size
  int threads = 0;              // 0: std::thread::hardware_concurrency()
  int bi_iterations = 2;        // iterative bidirectional refinement passes (Chen & Woods 2004)
  double scene_cut_factor = 0.85;  // intra cost = factor * frame SATD
  bool enable_merge = true;
  bool enable_parallel = true;
};

struct HvsbmResult {
  int width = 0, height = 0;
  bool has_right = false;
  std::vector<Block> blocks;  // quadtree leaves in coding order (root blocks raster, Z-order inside)
  // Dense fields, planar [2][H][W]: channel 0 horizontal, channel 1 vertical displacement in pixels; zero where
  // the pixel does not use that direction.
  std::vector<float> field_left, field_right;
  std::vector<uint8_t> uses_left, uses_right;  // [H][W] per-pixel direction flags
  // Connectivity (spec "Connectivity"): connected_* is on the reference frame's grid, first_* on the current
  // frame's grid (the pixel whose mapping connected its target first, in raster order).
  std::vector<uint8_t> connected_left, connected_right, first_left, first_right;
  double cost = 0.0;        // total J of the chosen quadtree (with split flags)
  double sad = 0.0;         // total motion-compensated SAD of the leaves (no side information)
  double intra_cost = 0.0;  // scene_cut_factor * SATD(current frame), DC excluded
  double inter_cost = 0.0;  // SATD of the motion-compensated residual, DC included
  bool scene_cut = false;   // inter_cost > intra_cost: no motion model predicts better than intra coding
};

// Validates (throws std::invalid_argument) and runs HVSBM of `cur` against `left` and optionally `right`
// (nullptr: single reference, left only).  All planes must have the same size.
HvsbmResult hvsbm(const PlaneView& cur, const PlaneView& left, const PlaneView* right, const HvsbmParams& params);

// Throws std::invalid_argument when a plane or a parameter is unusable.
void validate(const PlaneView& cur, const PlaneView& left, const PlaneView* right, const HvsbmParams& params);

// Chroma 4:2:0: the chroma vector is the luma vector halved (spec "Chroma").  A luma quarter-pel vector halved is
// exact in eighth-pel chroma units, so the returned vector is in 1/8 chroma pel (same integers, finer unit).
inline Mv chroma_mv_eighth(const Mv& luma_qpel) { return luma_qpel; }
// The chroma vector rounded to quarter chroma pel (round half away from zero), for quarter-pel chroma filters.
Mv chroma_mv_quarter(const Mv& luma_qpel);

// Exp-Golomb code length (bits) of a signed integer (0 -> 1, +-1 -> 3, +-2 -> 3, +-3 -> 5 ...).
int signed_exp_golomb_bits(int v);

// Component-wise median of three vectors (the MV predictor of Choi & Woods 1999 / H.264 style).
Mv median3(const Mv& a, const Mv& b, const Mv& c);

// Sum over 8x8 blocks of the orthonormal Hadamard transform's absolute coefficients; the DC is left out unless
// `with_dc` (an intra coder predicts a block's mean; a residual's mean is error).
double frame_satd(const float* plane, int width, int height, bool with_dc = false);

// Connectivity of one direction (spec "Connectivity").  For each pixel p (raster order) with uses[p] != 0, the
// target is p + round(v/4) (round half up); the first pixel to reach an in-frame target marks it connected.
// field: planar [2][H][W] in pixels (quarter-pel multiples).  Outputs: connected [H][W] on the reference grid,
// first [H][W] on the current grid.
void connectivity(const float* field, const uint8_t* uses, int width, int height, uint8_t* connected,
                  uint8_t* first);

// Quarter-pel interpolated reference (HEVC 8-tap luma filter, see interp.cpp), edge-replicated with `pad` pixels.
class QpelPlane {
 public:
  QpelPlane() = default;
  QpelPlane(const PlaneView& src, int pad, int threads);
  int width() const { return width_; }
  int height() const { return height_; }
  int pad() const { return pad_; }
  std::ptrdiff_t stride() const { return stride_; }
  // Sample at integer pixel (x, y) of phase (fx, fy) in quarter pels: ref(x + fx/4, y + fy/4).  Coordinates
  // outside the padded area are clamped (equal to clamping to the frame edge, as the padding replicates it).
  const float* phase(int fx, int fy) const { return planes_[fy * 4 + fx].data() + origin_; }
  float at(int fx, int fy, int x, int y) const;

 private:
  int width_ = 0, height_ = 0, pad_ = 0;
  std::ptrdiff_t stride_ = 0, origin_ = 0;
  std::vector<float> planes_[16];
};

// Copies a plane to a packed float32 buffer.
std::vector<float> to_float(const PlaneView& p);

}  // namespace ezbc
