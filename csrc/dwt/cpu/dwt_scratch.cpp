// Scratch memory of the CPU DWT kernels, kept between calls (see dwt.h, ScratchLease).
//
// A multi-level transform needs the low band of every level but the last in scratch (a quarter of the tensor
// for the first level).  Freshly allocated blocks of that size come from mmap, and the kernel faults them in
// page by page on every call: at 1x3x2160x3840 fp32 that is ~9,000 page faults (~20 ms, a fifth of the
// transform) for memory it used a moment ago.  So one block is kept for the next call, like the scratchpad
// of oneDNN or PyTorch's CUDA caching allocator, up to kMaxKeptBytes.
#include <cstdlib>
#include <mutex>
#include <new>

#include "../dwt.h"

namespace pywlc {
namespace {

constexpr size_t kMaxKeptBytes = size_t(128) << 20;
constexpr size_t kAlign = 64;

std::mutex g_mutex;
void* g_block = nullptr;  // the kept block (none while a call holds it)
size_t g_size = 0;

}  // namespace

ScratchLease::ScratchLease(size_t bytes) {
  bytes = (bytes + kAlign - 1) / kAlign * kAlign;
  if (bytes == 0) return;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (g_block != nullptr && g_size >= bytes) {
      ptr_ = g_block;
      size_ = g_size;
      g_block = nullptr;
      g_size = 0;
      return;
    }
  }
  ptr_ = std::aligned_alloc(kAlign, bytes);
  if (ptr_ == nullptr) throw std::bad_alloc();
  size_ = bytes;
}

ScratchLease::~ScratchLease() {
  if (ptr_ == nullptr) return;
  if (size_ <= kMaxKeptBytes) {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (g_size < size_) {  // keep the larger block: it serves every call the smaller one would
      std::swap(ptr_, g_block);
      std::swap(size_, g_size);
    }
  }
  std::free(ptr_);
}

}  // namespace pywlc
