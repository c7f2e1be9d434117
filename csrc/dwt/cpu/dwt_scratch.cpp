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

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "../dwt.h"

namespace pywlc {
namespace {

constexpr size_t kMaxKeptBytes = size_t(128) << 20;
constexpr size_t kAlign = 64;
// Blocks of at least a huge page are aligned to one and asked for transparent huge pages (madvise): the fused
// kernel's ring rows and low bands live here, and on 4 KiB pages their physical placement -- which decides the
// L2 sets they share -- changed from block to block (the same call measured up to 30 % apart with two
// blocks).  On 2 MiB pages the rows' padded stride spreads them over the sets the same way every time:
// 1 thread, 1x3x1024^2 and 16x3x256^2 fp32, caches cold, medians over 8 processes: 0-8 % faster.
constexpr size_t kHugePage = size_t(2) << 20;

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
  if (bytes >= kHugePage) {
    bytes = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    ptr_ = std::aligned_alloc(kHugePage, bytes);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (ptr_ != nullptr) madvise(ptr_, bytes, MADV_HUGEPAGE);
#endif
  } else {
    ptr_ = std::aligned_alloc(kAlign, bytes);
  }
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
