// The integer codes the Python layer passes to the kernels, declared once for every family (host and device).
//
// pywlc._C exports them as `_C.abi()` ({"dwt_dtype": {"float32": 0, ...}, ...}); tests/test_abi.py checks that
// the Python constants (pywlc/ops/dwt.py, wavelets.py, warp.py, pywlc/mctf/_fused.py) equal them.  Values are
// part of the binding ABI: append, never renumber.
#pragma once

namespace pywlc {

// DWT (csrc/dwt): element type, boundary mode, and the four linear maps a lifting DWT needs: analysis A,
// synthesis A^-1, and their adjoints (the backward passes of A and A^-1).
// float16 / bfloat16: read and written as such by the fused 2-D CPU kernel (computed in float32).
enum DwtDtype : int { kFloat32 = 0, kFloat64 = 1, kInt32 = 2, kFloat16 = 3, kBFloat16 = 4 };
enum DwtMode : int { kSymmetric = 0, kPeriodization = 1 };
enum DwtOp : int { kForward = 0, kInverse = 1, kForwardAdjoint = 2, kInverseAdjoint = 3 };

// Warping (csrc/warp; the MCTF kernels sample with the same interpolations).
enum WarpInterp : int { kWarpBilinear = 0, kWarpBicubic = 1, kWarpHevc8 = 2 };
enum WarpPadding : int { kWarpBorder = 0, kWarpZeros = 1 };
enum WarpDtype : int { kWarpFloat32 = 0, kWarpFloat64 = 1 };

// MCTF fused lifting steps (csrc/mctf).
enum MctfDtype : int { kMctfFloat32 = 0, kMctfFloat64 = 1, kMctfInt32 = 2 };

// One row of the exported table: (enum, name, code).
struct AbiCode {
  const char* group;
  const char* name;
  int code;
};

inline constexpr AbiCode kAbiCodes[] = {
    {"dwt_dtype", "float32", kFloat32},
    {"dwt_dtype", "float64", kFloat64},
    {"dwt_dtype", "int32", kInt32},
    {"dwt_dtype", "float16", kFloat16},
    {"dwt_dtype", "bfloat16", kBFloat16},
    {"dwt_mode", "symmetric", kSymmetric},
    {"dwt_mode", "periodization", kPeriodization},
    {"dwt_op", "forward", kForward},
    {"dwt_op", "inverse", kInverse},
    {"dwt_op", "forward_adjoint", kForwardAdjoint},
    {"dwt_op", "inverse_adjoint", kInverseAdjoint},
    {"warp_interp", "bilinear", kWarpBilinear},
    {"warp_interp", "bicubic", kWarpBicubic},
    {"warp_interp", "hevc8", kWarpHevc8},
    {"warp_padding", "border", kWarpBorder},
    {"warp_padding", "zeros", kWarpZeros},
    {"warp_dtype", "float32", kWarpFloat32},
    {"warp_dtype", "float64", kWarpFloat64},
    {"mctf_dtype", "float32", kMctfFloat32},
    {"mctf_dtype", "float64", kMctfFloat64},
    {"mctf_dtype", "int32", kMctfInt32},
};

}  // namespace pywlc
