// A CPU emulation of the small part of the CUDA runtime and device language pywlc's kernels use, so that the
// .cu files can be compiled as C++ and run on a machine without a GPU (tests/test_cuda_emulated.py).
//
// Model: a launch runs its blocks one after another; the blockDim threads of a block are fibers (ucontext) on the
// calling thread (started with makecontext, switched with _setjmp/_longjmp, which skip swapcontext's
// signal-mask system call), scheduled round-robin, so __syncthreads() is a real barrier (a fiber yields until every live
// fiber of the block has arrived), warp shuffles exchange through a per-warp slot array between two warp
// barriers, `__shared__` variables are function statics (one block at a time, so "per block"), and dynamic
// shared memory is one buffer per launch, filled with 0xCD garbage before every block (reads of unwritten
// shared memory then show up as wrong results).  A thread that returns early leaves the barriers (as an exited
// CUDA thread does).  Global memory is host memory; streams are ignored (everything is synchronous).
//
// This checks the kernels' indexing, synchronisation structure, shared-memory sizing and arithmetic against the
// CPU kernels; it does not model timing, memory coalescing, or the GPU's float contraction (FMA) choices.
#pragma once

#define __CUDA_ARCH__ 900  // the kernels' device-side branches are the ones that run here

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <csetjmp>
#include <ucontext.h>
#include <vector>

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

enum cudaError_t : int { cudaSuccess = 0, cudaErrorInvalidConfiguration = 9, cudaErrorLaunchFailure = 4 };
enum cudaMemcpyKind : int { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
enum cudaFuncAttribute : int { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaDeviceAttr : int { cudaDevAttrMaxSharedMemoryPerBlockOptin = 97, cudaDevAttrMaxSharedMemoryPerBlock = 8 };
struct CUstream_st;
using cudaStream_t = CUstream_st*;

namespace pywlc_emu {

constexpr size_t kSharedOptin = 227 * 1024;  // H100's opt-in limit per block
constexpr size_t kFiberStack = 256 * 1024;

struct State {
  std::string error;  // first failure of the current launch
  cudaError_t last = cudaSuccess;
  std::vector<unsigned char> dynamic_smem;
};

inline State& state() {
  static State s;
  return s;
}

inline void fail(const std::string& what) {
  if (state().error.empty()) state().error = what;
}

// Arrival counting of one barrier among `alive` participants; the last arrival opens the next generation.
struct Barrier {
  int alive = 0;
  int arrived = 0;
  uint64_t generation = 0;
};

struct Warp {
  Barrier bar;
  uint64_t slot[32] = {};
};

struct Fiber {
  ucontext_t uc;
  jmp_buf jb;
  bool started = false;
  char* stack = nullptr;
  dim3 tid;
  unsigned lane = 0;
  Warp* warp = nullptr;
  bool done = false;
};

struct Block {
  ucontext_t scheduler;
  jmp_buf scheduler_jb;
  Barrier bar;
  dim3 bid, bdim, gdim;
  std::vector<Fiber> fibers;
  std::vector<Warp> warps;
  const std::function<void()>* body = nullptr;
  Fiber* current = nullptr;
};

// Fiber stacks, allocated once and never initialised (untouched pages cost nothing), reused by every launch.
inline char* fiber_stack(unsigned t) {
  static std::vector<std::unique_ptr<char[]>> pool;
  while (pool.size() <= t) pool.emplace_back(new char[kFiberStack]);
  return pool[t].get();
}

inline Block*& block_ptr() {
  static Block* b = nullptr;
  return b;
}

inline void yield() {
  Block& b = *block_ptr();
  if (!_setjmp(b.current->jb)) _longjmp(b.scheduler_jb, 1);
}

inline void barrier_wait(Barrier& bar) {
  const uint64_t gen = bar.generation;
  if (++bar.arrived == bar.alive) {
    bar.arrived = 0;
    ++bar.generation;
    return;
  }
  while (bar.generation == gen) yield();
}

inline void barrier_leave(Barrier& bar) {  // a thread exits: it no longer takes part
  --bar.alive;
  if (bar.arrived > 0 && bar.arrived == bar.alive) {
    bar.arrived = 0;
    ++bar.generation;
  }
}

inline void fiber_entry() {
  Block& b = *block_ptr();
  Fiber& f = *b.current;
  try {
    (*b.body)();
  } catch (const std::exception& e) {
    fail(std::string("exception in a kernel thread: ") + e.what());
  }
  barrier_leave(f.warp->bar);
  barrier_leave(b.bar);
  f.done = true;
  _longjmp(b.scheduler_jb, 2);  // never return: uc_link's saved scheduler context would be stale
}

template <typename T>
T* dynamic_smem() {
  return reinterpret_cast<T*>(state().dynamic_smem.data());
}

inline dim3 to_dim3(dim3 d) { return d; }

// Runs `body` as grid x block threads (see the header comment).
inline void launch(dim3 grid, dim3 block, size_t smem, const std::function<void()>& body) {
  const unsigned nthreads = block.x * block.y * block.z;
  if (nthreads == 0 || nthreads > 1024 || block.z > 64 || grid.y > 65535 || grid.z > 65535 || grid.x == 0 ||
      grid.y == 0 || grid.z == 0 || smem > kSharedOptin) {
    state().last = cudaErrorInvalidConfiguration;
    return;
  }
  state().error.clear();
  state().dynamic_smem.assign(smem + 16, 0xCD);
  Block b;
  b.body = &body;
  b.bdim = block;
  b.gdim = grid;
  b.fibers.resize(nthreads);
  b.warps.resize((nthreads + 31) / 32);
  for (unsigned t = 0; t < nthreads; ++t) b.fibers[t].stack = fiber_stack(t);
  Block* outer = block_ptr();
  block_ptr() = &b;
  for (unsigned bz = 0; bz < grid.z && state().error.empty(); ++bz)
    for (unsigned by = 0; by < grid.y && state().error.empty(); ++by)
      for (unsigned bx = 0; bx < grid.x && state().error.empty(); ++bx) {
        std::fill(state().dynamic_smem.begin(), state().dynamic_smem.end(), 0xCD);
        b.bid = dim3(bx, by, bz);
        b.bar = Barrier{static_cast<int>(nthreads), 0, 0};
        for (unsigned w = 0; w < b.warps.size(); ++w)
          b.warps[w].bar = Barrier{static_cast<int>(std::min(32u, nthreads - 32 * w)), 0, 0};
        for (unsigned t = 0; t < nthreads; ++t) {
          Fiber& f = b.fibers[t];
          f.tid = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
          f.lane = t % 32;
          f.warp = &b.warps[t / 32];
          f.done = false;
          f.started = false;
          getcontext(&f.uc);
          f.uc.uc_stack.ss_sp = f.stack;
          f.uc.uc_stack.ss_size = kFiberStack;
          f.uc.uc_link = &b.scheduler;
          makecontext(&f.uc, fiber_entry, 0);
        }
        for (unsigned live = nthreads; live > 0;) {
          live = 0;
          for (auto& f : b.fibers) {
            if (f.done) continue;
            b.current = &f;
            if (!_setjmp(b.scheduler_jb)) {
              if (f.started) _longjmp(f.jb, 1);
              f.started = true;
              swapcontext(&b.scheduler, &f.uc);
            }
            live += f.done ? 0 : 1;
          }
        }
      }
  block_ptr() = outer;
  if (!state().error.empty()) {
    const std::string e = state().error;
    state().error.clear();
    throw std::runtime_error("emulated CUDA launch: " + e);
  }
}

}  // namespace pywlc_emu

#define threadIdx (pywlc_emu::block_ptr()->current->tid)
#define blockIdx (pywlc_emu::block_ptr()->bid)
#define blockDim (pywlc_emu::block_ptr()->bdim)
#define gridDim (pywlc_emu::block_ptr()->gdim)
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __align__(n) alignas(n)

inline void __syncthreads() { pywlc_emu::barrier_wait(pywlc_emu::block_ptr()->bar); }

template <typename T>
T __shfl_down_sync(unsigned /*mask*/, T v, unsigned delta) {
  static_assert(sizeof(T) <= 8, "shuffle of a type wider than 64 bits");
  auto& f = *pywlc_emu::block_ptr()->current;
  auto& w = *f.warp;
  const unsigned lane = f.lane;
  std::memcpy(&w.slot[lane], &v, sizeof(T));
  pywlc_emu::barrier_wait(w.bar);
  T out = v;  // lanes whose source is past the warp keep their value, as on the GPU
  if (lane + delta < 32) std::memcpy(&out, &w.slot[lane + delta], sizeof(T));
  pywlc_emu::barrier_wait(w.bar);
  return out;
}

template <typename T>
T atomicAdd(T* address, T val) {  // fibers never preempt each other: a plain read-modify-write is atomic
  const T old = *address;
  *address = old + val;
  return old;
}

inline long long __double2ll_rn(double x) { return std::llrint(x); }

template <typename T>
inline T min(T a, T b) {
  return b < a ? b : a;
}
template <typename T>
inline T max(T a, T b) {
  return a < b ? b : a;
}

inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument (emulated)";
    default:
      return "launch failure (emulated)";
  }
}

inline cudaError_t cudaGetLastError() {
  const cudaError_t e = pywlc_emu::state().last;
  pywlc_emu::state().last = cudaSuccess;
  return e;
}

inline cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t = nullptr) {
  std::memset(p, v, n);
  return cudaSuccess;
}

inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind, cudaStream_t = nullptr) {
  std::memmove(dst, src, n);
  return cudaSuccess;
}

// Stream-ordered allocation (the fused 2-D DWT's scratch between levels): host memory, filled with 0xCD
// garbage like shared memory, so a read of scratch no kernel wrote shows up as a wrong result.
inline cudaError_t cudaMallocAsync(void** p, size_t n, cudaStream_t = nullptr) {
  *p = std::malloc(n ? n : 1);
  if (*p == nullptr) return cudaErrorLaunchFailure;
  std::memset(*p, 0xCD, n);
  return cudaSuccess;
}

inline cudaError_t cudaFreeAsync(void* p, cudaStream_t = nullptr) {
  std::free(p);
  return cudaSuccess;
}

template <typename F>
cudaError_t cudaFuncSetAttribute(F, cudaFuncAttribute, int value) {
  return value >= 0 && static_cast<size_t>(value) <= pywlc_emu::kSharedOptin ? cudaSuccess
                                                                             : cudaErrorInvalidConfiguration;
}

inline cudaError_t cudaGetDevice(int* d) {
  *d = 0;
  return cudaSuccess;
}

inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr attr, int) {
  *v = attr == cudaDevAttrMaxSharedMemoryPerBlockOptin ? static_cast<int>(pywlc_emu::kSharedOptin) : 48 * 1024;
  return cudaSuccess;
}
