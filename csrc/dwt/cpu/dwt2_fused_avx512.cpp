// The fused 2-D DWT's row kernels (dwt2_fused_kernel.h, haar2_rows.h) compiled for AVX-512 F/BW/DQ/VL with 512-bit vectors (x86-64-v4), chosen at run time where the CPU has them.
// The target pragma comes after every include: library code stays at the baseline, only the kernels widen.
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>  // streaming stores (dwt2_fused_kernel.h, store_scaled)
#endif

#include "../lifting_common.h"  // kPredict, kUpdate; DwtMode, DwtOp (abi.h)
#include "../dwt2_fused.h"

#if defined(PYWLC_DWT2_X86) && (defined(__GNUC__) || defined(__clang__))
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,prefer-vector-width=512")
#endif

#define PYWLC_DWT2_LEVEL 3

namespace pywlc {
namespace dwt2_avx512 {
#include "dwt2_fused_kernel.h"
#include "haar2_rows.h"
}  // namespace dwt2_avx512
}  // namespace pywlc

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
