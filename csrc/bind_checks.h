// Argument checks shared by the csrc/*/bind_*.cpp files: the second line of defence behind the Python
// validation (issue 10).  The bindings receive raw pointers, sizes and strides; these checks refuse what no
// consistent tensor can have -- negative sizes, element counts whose byte size overflows, null or misaligned
// pointers, frame strides that overlap -- and, for host memory, index and vector values that the kernels
// would turn into addresses.  They throw std::invalid_argument, which pybind11 maps to ValueError, and run
// while the GIL is held.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>

namespace pywlc {

// Product of sizes, each >= 0; throws if the tensor's byte size (elem_size bytes per element) exceeds 2^62.
inline int64_t checked_numel(std::initializer_list<int64_t> sizes, int64_t elem_size, const char* what) {
  constexpr int64_t kMaxBytes = int64_t(1) << 62;
  int64_t n = 1;
  for (int64_t s : sizes) {
    if (s < 0) throw std::invalid_argument(std::string(what) + ": negative size " + std::to_string(s));
    if (s != 0 && n > kMaxBytes / elem_size / s)
      throw std::invalid_argument(std::string(what) + ": size overflows (more than 2^62 bytes)");
    n *= s;
  }
  return n;
}

// A pointer the kernel dereferences when numel > 0: not null, aligned for its element type.
inline void check_ptr(uintptr_t p, int64_t numel, std::size_t align, const char* what) {
  if (numel == 0) return;
  if (p == 0) throw std::invalid_argument(std::string(what) + ": null pointer for a non-empty tensor");
  if (p % align != 0)
    throw std::invalid_argument(std::string(what) + ": pointer not aligned to " + std::to_string(align) + " bytes");
}

// Frames addressed as ptr + f * stride (f < frames) of frame_numel contiguous elements each: the stride must
// keep them apart (overlapping or negative strides would alias or walk backwards out of the buffer).
inline void check_frame_stride(int64_t frames, int64_t stride, int64_t frame_numel, const char* what) {
  if (frames > 1 && stride < frame_numel)
    throw std::invalid_argument(std::string(what) + ": frame stride " + std::to_string(stride) + " < frame size " +
                                std::to_string(frame_numel));
}

// Host indices the kernel reads through: every value in [0, hi).
inline void check_host_indices(const int64_t* idx, int64_t n, int64_t hi, const char* what) {
  for (int64_t i = 0; i < n; ++i)
    if (idx[i] < 0 || idx[i] >= hi)
      throw std::invalid_argument(std::string(what) + ": index " + std::to_string(idx[i]) + " outside [0, " +
                                  std::to_string(hi) + ")");
}

// Host motion vectors the kernel rounds to integer offsets: finite and within +-limit pixels.
inline void check_host_vectors(const float* v, int64_t n, float limit, const char* what) {
  for (int64_t i = 0; i < n; ++i)
    if (!(std::fabs(v[i]) <= limit))  // NaN fails too
      throw std::invalid_argument(std::string(what) + ": vector component not finite or beyond +-" +
                                  std::to_string(static_cast<int64_t>(limit)) + " pixels");
}

}  // namespace pywlc
