// The CPU allocation cache of training runs: installed only while a run lasts, nested and
// concurrent runs share it, freed blocks are reused and handed back at the end.
#include <gtest/gtest.h>

#include "allocation_cache.h"
#include "test_support.h"
#include "udl/autoencoder.h"
#include "udl/autoencoder_training.h"

namespace {

using udl::detail::CpuAllocationCache;

TEST(AllocationCache, IsActiveOnlyWhileAScopeLives) {
  EXPECT_FALSE(CpuAllocationCache::active());
  {
    const CpuAllocationCache outer;
    EXPECT_TRUE(CpuAllocationCache::active());
    {
      const CpuAllocationCache inner;
      EXPECT_TRUE(CpuAllocationCache::active());
    }
    EXPECT_TRUE(CpuAllocationCache::active());  // the outer run still trains
  }
  EXPECT_FALSE(CpuAllocationCache::active());
  EXPECT_EQ(CpuAllocationCache::cached_bytes(), 0u);
}

TEST(AllocationCache, ReusesAFreedBlockOfTheSameSize) {
  const CpuAllocationCache cache;
  const void* first = nullptr;
  {
    const torch::Tensor t = torch::empty({1000, 1000});
    first = t.data_ptr();
  }
  EXPECT_GE(CpuAllocationCache::cached_bytes(), 4000000u);
  const torch::Tensor again = torch::empty({1000, 1000});
  EXPECT_EQ(again.data_ptr(), first);
}

TEST(AllocationCache, TensorsOutlivingTheRunStayValid) {
  torch::Tensor survivor;
  {
    const CpuAllocationCache cache;
    survivor = torch::arange(1000, torch::kFloat32);
  }
  EXPECT_FALSE(CpuAllocationCache::active());
  EXPECT_EQ(survivor.sum().item<float>(), 499500.0f);
  survivor = torch::Tensor();  // freed through the cache's deleter, after the run
  EXPECT_EQ(CpuAllocationCache::cached_bytes(), 0u);
}

class AllocationCacheInTraining : public udl_test::OneThread {};

TEST_F(AllocationCacheInTraining, TrainingLeavesTheDefaultAllocator) {
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 3), 0);
  udl::TrainConfig config;
  config.epochs = 1;
  config.batch_size = 32;
  udl::train_autoencoder(model, udl_test::blob_images(96, 1), nullptr, config);
  EXPECT_FALSE(CpuAllocationCache::active());
  EXPECT_EQ(CpuAllocationCache::cached_bytes(), 0u);
}

}  // namespace
