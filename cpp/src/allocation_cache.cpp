#include "allocation_cache.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <mutex>
#include <unordered_map>
#include <vector>

namespace udl::detail {
namespace {

// Beyond this many free bytes a freed block goes back to the system: a run whose sizes keep
// changing (a shrinking last batch, inference on varying sizes) cannot hoard memory.
constexpr size_t kMaxCachedBytes = size_t{1} << 30;

class CachingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t bytes) override {
    void* data = take(bytes);
    if (data == nullptr) data = c10::alloc_cpu(bytes);
    if (data != nullptr) {
      std::lock_guard<std::mutex> lock(mutex_);
      sizes_[data] = bytes;
    }
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void copy_data(void* dest, const void* src, size_t count) const override {
    default_copy_data(dest, src, count);
  }

  // Starts or stops keeping freed blocks; stopping frees those kept.
  void set_caching(bool caching) {
    std::vector<void*> to_free;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      caching_ = caching;
      if (caching) return;
      for (auto& [bytes, blocks] : free_)
        to_free.insert(to_free.end(), blocks.begin(), blocks.end());
      free_.clear();
      cached_bytes_ = 0;
    }
    for (void* block : to_free) c10::free_cpu(block);
  }

  size_t cached_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_bytes_;
  }

  static CachingCpuAllocator& instance() {
    static auto* allocator = new CachingCpuAllocator();  // outlives every tensor it made
    return *allocator;
  }

 private:
  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = free_.find(bytes);
    if (found == free_.end() || found->second.empty()) return nullptr;
    void* data = found->second.back();
    found->second.pop_back();
    cached_bytes_ -= bytes;
    return data;
  }

  static void release(void* data) {
    if (data == nullptr) return;
    CachingCpuAllocator& self = instance();
    {
      std::lock_guard<std::mutex> lock(self.mutex_);
      auto found = self.sizes_.find(data);
      const size_t bytes = found->second;
      self.sizes_.erase(found);
      if (self.caching_ && self.cached_bytes_ + bytes <= kMaxCachedBytes) {
        self.free_[bytes].push_back(data);
        self.cached_bytes_ += bytes;
        return;
      }
    }
    c10::free_cpu(data);
  }

  std::mutex mutex_;
  bool caching_ = false;
  size_t cached_bytes_ = 0;
  std::unordered_map<void*, size_t> sizes_;              // every live block
  std::unordered_map<size_t, std::vector<void*>> free_;  // kept for reuse, by size
};

std::mutex users_mutex;
int users = 0;  // nested and concurrent runs share one installation
c10::Allocator* previous = nullptr;

}  // namespace

CpuAllocationCache::CpuAllocationCache() {
  std::lock_guard<std::mutex> lock(users_mutex);
  if (users++ > 0) return;
  CachingCpuAllocator& cache = CachingCpuAllocator::instance();
  cache.set_caching(true);
  previous = c10::GetCPUAllocator();
  c10::SetCPUAllocator(&cache);
}

CpuAllocationCache::~CpuAllocationCache() {
  std::lock_guard<std::mutex> lock(users_mutex);
  if (--users > 0) return;
  c10::SetCPUAllocator(previous);
  CachingCpuAllocator::instance().set_caching(false);
}

size_t CpuAllocationCache::cached_bytes() { return CachingCpuAllocator::instance().cached_bytes(); }

bool CpuAllocationCache::active() {
  return c10::GetCPUAllocator() == &CachingCpuAllocator::instance();
}

}  // namespace udl::detail
