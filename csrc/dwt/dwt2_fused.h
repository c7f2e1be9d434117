// Fused 2-D lifting DWT on the CPU: one pass over memory per level, both axes done while a few rows are in
// cache (line-based lifting: Chrysafis & Ortega 2000, "Line-based, reduced memory, wavelet image compression";
// the vertical steps run as one pipelined sweep, Kutil 2006, "A single-loop approach to SIMD parallelization
// of 2-D wavelet lifting").
//
// A level of one plane is cut into strips of output rows; a strip re-lifts a halo of `num_steps` rows above
// it (the only rows its first steps read wrongly), so strips are independent work items for threads and the
// result does not depend on how many there are.  The per-row kernels are compiled once per instruction set
// (cpu/dwt2_fused_{baseline,avx2,avx512}.cpp) and chosen at run time (cpu/dwt2_fused_cpu.cpp).
#pragma once

#include <cstdint>

namespace pywlc {

// Element types of the fused kernel: the DWT's dtypes plus the half types it reads and writes directly
// (computed in float32: one rounding at the end).  Codes match DwtDtype (csrc/abi.h).
enum Dwt2Type : int { kD2Float32 = 0, kD2Float64 = 1, kD2Int32 = 2, kD2Float16 = 3, kD2BFloat16 = 4 };

// A 2-D view: row r, column c at ptr[r * stride + c]; `compute` says it holds the compute type (the
// float32/float64/int32 scratch between levels) rather than the tensor's storage type.
struct Dwt2View {
  void* ptr;
  int64_t stride;
  bool compute;
};

// One strip of one level of one plane.
//  forward: `samples` (h x w, read) -> low band `low` (ceil(h/2) x ceil(w/2), written) and the other three
//           bands into `bands` at their packed positions (written);
//  inverse: `low` and `bands` (read) -> `samples` (written).
struct Dwt2Strip {
  int op;        // kForward or kInverse
  int mode;      // DwtMode
  int storage;   // Dwt2Type of the tensor
  int64_t h, w;  // region of this level
  int64_t j0, j1;  // output row pairs [j0, j1): rows 2j, 2j+1 of the samples, row j of each band
  Dwt2View samples, low, bands;
  // Lifting scheme (lifting_common.h conventions), in double; the kernel converts to its compute type.
  int num_steps;
  int kind[8];
  double a[8], b[8];
  double k_low, k_high;
  bool zero_tail, integer;
  int ring_rows;  // dwt2_fused_ring_rows(kind, num_steps)
  bool stream;    // write the tensor's rows and the scratch low bands with non-temporal stores (big tensors)
  bool stream_scratch;  // the inverse's scratch low bands too (planes beyond L2)
  void* work;  // dwt2_fused_work_bytes(w, ...) bytes, 64-byte aligned, private to the calling thread
};

// Ring rows the column pipeline keeps: a power of two above the longest lag of the scheme's steps.
int dwt2_fused_ring_rows(const int* kind, int num_steps);
// Bytes of per-thread work memory a strip of width w needs (the ring, and two rows split in halves).
int64_t dwt2_fused_work_bytes(int64_t w, int ring_rows, int storage);

using Dwt2StripFn = void (*)(const Dwt2Strip&);

// Rows [i0, i1) of one level of the fused 2-D Haar (cpu/haar2_cpu.cpp, cpu/haar2_rows.h) of an h x w region:
//  analysis:  `in` (stride si) -> low band `low` (stride sl), the other bands into `bands` (stride sb) at
//             their packed positions;
//  synthesis: `low` and `in` (the bands, stride si) -> `out` (stride so).
// `u` scales unpaired samples (odd sizes), in the compute type's value.
struct Haar2Rows {
  bool analysis, float64;
  const void* in;
  int64_t si;
  void* low;  // written (analysis) or read (synthesis)
  int64_t sl;
  void* bands;
  int64_t sb;
  void* out;
  int64_t so;
  int64_t h, w, i0, i1;
  double u;
  bool stream;  // write the tensor's rows with non-temporal stores where whole aligned vectors allow
};

using Haar2RowsFn = void (*)(const Haar2Rows&);
// The Haar row function of the instruction set dwt2_fused_isa() names.
Haar2RowsFn dwt2_haar_rows_fn();

namespace dwt2_baseline {
void run_strip(const Dwt2Strip& s);
void haar2_rows(const Haar2Rows& j);
}
#if defined(__x86_64__) || defined(_M_X64)
#define PYWLC_DWT2_X86 1
namespace dwt2_avx2 {
void run_strip(const Dwt2Strip& s);
void haar2_rows(const Haar2Rows& j);
}
namespace dwt2_avx512 {
void run_strip(const Dwt2Strip& s);
void haar2_rows(const Haar2Rows& j);
}
#endif

}  // namespace pywlc
