// The fused 2-D DWT's row kernels (dwt2_fused_kernel.h, haar2_rows.h) compiled for the instruction-set baseline of the build (SSE2 on x86-64): runs everywhere.
// The target pragma comes after every include: library code stays at the baseline, only the kernels widen.
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>  // streaming stores (dwt2_fused_kernel.h, store_scaled)
#endif

#include "../lifting_common.h"  // kPredict, kUpdate; DwtMode, DwtOp (abi.h)
#include "../dwt2_fused.h"

#if defined(__x86_64__) || defined(_M_X64)
#define PYWLC_DWT2_LEVEL 1  // SSE2 is part of x86-64
#else
#define PYWLC_DWT2_LEVEL 0
#endif

namespace pywlc {
namespace dwt2_baseline {
#include "dwt2_fused_kernel.h"
#include "haar2_rows.h"
}  // namespace dwt2_baseline
}  // namespace pywlc
