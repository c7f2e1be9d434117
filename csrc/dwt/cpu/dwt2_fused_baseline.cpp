// The fused 2-D DWT's row kernels (dwt2_fused_kernel.h) compiled for the instruction-set baseline of the build (SSE2 on x86-64): runs everywhere.
// The target pragma comes after every include: library code stays at the baseline, only the kernels widen.
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../lifting_common.h"  // kPredict, kUpdate; DwtMode, DwtOp (abi.h)
#include "../dwt2_fused.h"

namespace pywlc {
namespace dwt2_baseline {
#include "dwt2_fused_kernel.h"
}  // namespace dwt2_baseline
}  // namespace pywlc
