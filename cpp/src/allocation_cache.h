// Private to udl_core: reuse of freed CPU tensor memory during a training run.
//
// A training step allocates the same tensors every time: activations, their gradients, the
// columns of the convolutions. glibc hands large blocks back to the kernel when they are
// freed, so every step faults fresh zeroed pages in again; on this project's 2-core machine
// that was a third of a plain PyTorch step's time (docs/benchmarks.md). While a
// CpuAllocationCache is alive, LibTorch's CPU allocator keeps freed blocks by size and hands
// them out again; when the last one ends, the default allocator returns and the cache is
// freed. Tensors still alive then are freed normally when they die.
#pragma once

#include <cstddef>

namespace udl::detail {

class CpuAllocationCache {
 public:
  CpuAllocationCache();
  ~CpuAllocationCache();
  CpuAllocationCache(const CpuAllocationCache&) = delete;
  CpuAllocationCache& operator=(const CpuAllocationCache&) = delete;

  // Bytes held for reuse now (for tests).
  static size_t cached_bytes();
  // Whether LibTorch's CPU allocations go through the cache now.
  static bool active();
};

}  // namespace udl::detail
