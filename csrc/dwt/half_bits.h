// float16 / bfloat16 storage for kernels that compute in float32: the bit-level conversions of the fused 2-D
// DWTs, the CPU's (cpu/dwt2_fused_kernel.h) and the GPU's tile kernel (cuda/dwt2_tile_cuda.cu), written once.
// Loads are exact; a store rounds to nearest even once, the rounding of torch's .to(float16 / bfloat16).
//
// Included inside the includer's namespace, after <cstdint>, <cstring> and ../lifting_common.h (PYWLC_HD: host
// and device under nvcc, plain inline elsewhere, the CUDA emulation of tests/cuda_emu included): the CPU kernel
// includes it inside its per-instruction-set anonymous namespace, so these functions get its internal linkage
// (no copy compiled for AVX-512 can be picked by the linker for a narrower instruction set).
#pragma once

struct F16 {  // torch.float16 bits
  uint16_t bits;
};
struct BF16 {  // torch.bfloat16 bits
  uint16_t bits;
};

PYWLC_HD uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
PYWLC_HD float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// IEEE binary16 <-> binary32, round to nearest even, branch-free so loops over a row vectorise
// (F. Giesen, "half_to_float" / "float_to_half_fast3_rtne", public domain).
PYWLC_HD float half_to_float(uint16_t h) {
  const uint32_t shifted_exp = 0x7c00u << 13;
  uint32_t o = (static_cast<uint32_t>(h) & 0x7fffu) << 13;
  const uint32_t exp = shifted_exp & o;
  o += (127u - 15u) << 23;
  if (exp == shifted_exp) o += (128u - 16u) << 23;  // Inf / NaN
  if (exp == 0) o = bits_of(float_of(o + (1u << 23)) - float_of(113u << 23));  // zero / subnormal
  return float_of(o | ((static_cast<uint32_t>(h) & 0x8000u) << 16));
}

PYWLC_HD uint16_t float_to_half(float v) {
  const uint32_t f32_inf = 255u << 23, f16_max = (127u + 16u) << 23;
  const uint32_t denorm_magic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
  uint32_t f = bits_of(v);
  const uint32_t sign = f & 0x80000000u;
  f ^= sign;
  uint32_t o;
  if (f >= f16_max) {
    o = f > f32_inf ? 0x7e00u : 0x7c00u;
  } else if (f < (113u << 23)) {  // subnormal or zero: the float addition rounds to nearest even
    o = bits_of(float_of(f) + float_of(denorm_magic)) - denorm_magic;
  } else {
    const uint32_t mant_odd = (f >> 13) & 1u;
    f += 0xc8000fffu + mant_odd;  // exponent rebias (15 - 127) << 23, plus the rounding bias
    o = f >> 13;
  }
  return static_cast<uint16_t>(o | (sign >> 16));
}

PYWLC_HD float bf16_to_float(uint16_t h) { return float_of(static_cast<uint32_t>(h) << 16); }

// binary32 -> bfloat16, round to nearest even (c10::BFloat16's rule; NaN stays a quiet NaN).
PYWLC_HD uint16_t float_to_bf16(float v) {
  const uint32_t u = bits_of(v);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0u;
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
