// CUDA lifting DWT: one block per group of V lines; the group's E/O rows live in shared memory and
// every lifting step of the pass runs there (lifting_common.h), so each pass reads and writes global
// memory exactly once.  No atomics: results are deterministic and equal the CPU kernel's math.
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "../dwt.h"

namespace pywlc {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxGroup = 32;
constexpr size_t kDefaultSmem = 48 * 1024;

struct BlockSync {
  __host__ __device__ void operator()() const {
#ifdef __CUDA_ARCH__
    __syncthreads();
#endif
  }
};

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

template <typename T>
__global__ void dwt_pass_kernel(const T* src, T* dst, LineGeometry g, LiftScheme<T> s, int mode,
                                int op, int64_t V, int64_t jgroups, bool line_fastest) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* E = reinterpret_cast<T*>(smem_raw);
  const int64_t q = blockIdx.x;
  const int64_t jg = q % jgroups, bi = q / jgroups;
  const int64_t i = bi % g.ni, b = bi / g.ni;
  const int64_t j0 = jg * V;
  const int64_t Vq = min(V, g.nj - j0);
  const int64_t n = g.n, ne = (n + 1) / 2, no = n / 2;
  T* O = E + ne * Vq;
  const int64_t base0 = b * g.sb + i * g.si + j0 * g.sj;
  const bool in_interleaved = dwt_gathers_interleaved(op);
  // Walk (l, v) with whichever index is contiguous in global memory fastest, for coalescing.
  for (int64_t k = threadIdx.x; k < n * Vq; k += blockDim.x) {
    const int64_t l = line_fastest ? k % n : k / Vq;
    const int64_t v = line_fastest ? k / n : k % Vq;
    const T val = src[base0 + v * g.sj + l * g.sa];
    if (in_interleaved)
      ((l & 1) ? O : E)[(l >> 1) * Vq + v] = val;
    else
      (l < ne ? E[l * Vq + v] : O[(l - ne) * Vq + v]) = val;
  }
  __syncthreads();
  if constexpr (std::is_same<T, int32_t>::value)
    lift_group_int(E, O, ne, no, Vq, s, mode, op, threadIdx.x, blockDim.x, BlockSync{});
  else
    lift_group(E, O, ne, no, Vq, s, mode, op, threadIdx.x, blockDim.x, BlockSync{});
  for (int64_t k = threadIdx.x; k < n * Vq; k += blockDim.x) {
    const int64_t l = line_fastest ? k % n : k / Vq;
    const int64_t v = line_fastest ? k / n : k % Vq;
    T val;
    if (in_interleaved)  // write packed
      val = l < ne ? E[l * Vq + v] : O[(l - ne) * Vq + v];
    else  // write interleaved
      val = ((l & 1) ? O : E)[(l >> 1) * Vq + v];
    dst[base0 + v * g.sj + l * g.sa] = val;
  }
}

template <typename T>
void run_pass(const DwtArgs& a, const DwtPass& p, const LiftScheme<T>& s, const T* src, T* dst,
              cudaStream_t stream, size_t smem_optin) {
  const LineGeometry g = line_geometry(a, p);
  const size_t line_bytes = static_cast<size_t>(g.n) * sizeof(T);
  if (line_bytes > smem_optin)
    throw std::invalid_argument("dwt_cuda: a line of " + std::to_string(g.n) + " samples exceeds shared memory");
  // Fill the default 48 KiB with lines when they are short; a long line gets the opt-in size.
  int64_t V = std::max<int64_t>(1, static_cast<int64_t>(kDefaultSmem / line_bytes));
  V = std::min<int64_t>({V, kMaxGroup, g.nj});
  const size_t smem = line_bytes * static_cast<size_t>(V);
  if (smem > kDefaultSmem)
    check(cudaFuncSetAttribute(dwt_pass_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(smem)),
          "cudaFuncSetAttribute");
  const int64_t jgroups = (g.nj + V - 1) / V;
  const int64_t blocks = g.nb * g.ni * jgroups;
  if (blocks == 0) return;
  if (blocks > 0x7fffffffLL) throw std::invalid_argument("dwt_cuda: tensor too large for one launch");
  dwt_pass_kernel<T><<<static_cast<unsigned>(blocks), kThreads, smem, stream>>>(
      src, dst, g, s, a.mode, a.op, V, jgroups, g.sa < g.sj);
  check(cudaGetLastError(), "dwt_pass_kernel launch");
}

template <typename T>
void run(const DwtArgs& a, cudaStream_t stream) {
  const std::vector<DwtPass> plan = dwt_plan(a);
  const LiftScheme<T> s = make_scheme<T>(a);
  const int64_t total = a.batch * a.dims[0] * a.dims[1] * a.dims[2];
  if (total == 0) return;
  int dev = 0, optin = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), "cudaDeviceGetAttribute");
  const T* src = static_cast<const T*>(a.src);
  T* dst = static_cast<T*>(a.dst);
  bool first_reads_src = dwt_is_analysis(a.op) && !plan.empty();
  if (!first_reads_src && src != dst)
    check(cudaMemcpyAsync(dst, src, static_cast<size_t>(total) * sizeof(T), cudaMemcpyDeviceToDevice, stream),
          "cudaMemcpyAsync");
  for (const DwtPass& p : plan) {
    run_pass<T>(a, p, s, first_reads_src ? src : dst, dst, stream, static_cast<size_t>(optin));
    first_reads_src = false;
  }
}

}  // namespace

void dwt_cuda(const DwtArgs& args, void* stream) {
  if (haar2_cuda_applicable(args)) return haar2_cuda(args, stream);
  if (dwt2_tile_cuda_applicable(args)) return dwt2_tile_cuda(args, stream);
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  switch (args.dtype) {
    case kFloat32:
      run<float>(args, st);
      break;
    case kFloat64:
      run<double>(args, st);
      break;
    case kInt32:
      run<int32_t>(args, st);
      break;
    default:  // float16 / bfloat16: the tile kernel alone reads them (dwt2_tile_cuda_applicable)
      throw std::invalid_argument(
          "dwt_cuda: float16 / bfloat16 run only on the 2-D tile kernel (ndim 2, out of place, 1 to 32 levels); "
          "convert to float32 for other calls");
  }
}

}  // namespace pywlc
