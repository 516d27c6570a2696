#include <gtest/gtest.h>

#include "udl/errors.h"
#include "udl/image_set.h"

namespace {

torch::Tensor byte_images(int64_t n) {
  return torch::arange(n * 4, torch::kInt64).remainder(256).to(torch::kUInt8).reshape({n, 1, 2, 2});
}

TEST(ImageSet, BatchesAreFloatInUnitRange) {
  const udl::ImageSet set(byte_images(8));
  const torch::Tensor batch = set.batch(torch::tensor({0, 3}, torch::kInt64));
  EXPECT_EQ(batch.scalar_type(), torch::kFloat32);
  EXPECT_EQ(batch.sizes(), (std::vector<int64_t>{2, 1, 2, 2}));
  EXPECT_FLOAT_EQ(batch[1][0][0][1].item<float>(), 13.0f / 255.0f);
  EXPECT_TRUE(set.slice(0, 8).equal(set.images().to(torch::kFloat32) / 255.0));
}

TEST(ImageSet, FloatImagesPassThrough) {
  const torch::Tensor images = torch::rand({4, 3, 5, 5});
  const udl::ImageSet set(images);
  EXPECT_TRUE(set.slice(0, 4).equal(images));
  EXPECT_EQ(set.image_shape(), (std::vector<int64_t>{3, 5, 5}));
}

TEST(ImageSet, RejectsWrongRankDtypeAndRange) {
  EXPECT_THROW(udl::ImageSet(torch::zeros({4, 28, 28}, torch::kUInt8)), udl::InvalidArgument);
  EXPECT_THROW(udl::ImageSet(torch::zeros({0, 1, 28, 28}, torch::kUInt8)), udl::InvalidArgument);
  EXPECT_THROW(udl::ImageSet(torch::zeros({4, 1, 2, 2}, torch::kInt32)), udl::InvalidArgument);
  EXPECT_THROW(udl::ImageSet(torch::full({4, 1, 2, 2}, 1.5f)), udl::InvalidArgument);
  EXPECT_THROW(udl::ImageSet(torch::full({4, 1, 2, 2}, -0.1f)), udl::InvalidArgument);
  EXPECT_THROW(udl::ImageSet(torch::full({4, 1, 2, 2}, NAN)), udl::InvalidArgument);
}

TEST(ImageSet, RejectsBadLabels) {
  EXPECT_THROW(udl::ImageSet(byte_images(4), torch::zeros({3}, torch::kInt64)),
               udl::InvalidArgument);
  EXPECT_THROW(udl::ImageSet(byte_images(4), torch::zeros({4}, torch::kInt32)),
               udl::InvalidArgument);
  EXPECT_THROW(udl::ImageSet(byte_images(4), torch::full({4}, -1, torch::kInt64)),
               udl::InvalidArgument);
}

TEST(ImageSet, SubsetKeepsLabelsAligned) {
  const udl::ImageSet set(byte_images(6), torch::arange(6, torch::kInt64));
  const udl::ImageSet part = set.subset(torch::tensor({5, 1}, torch::kInt64));
  EXPECT_TRUE(part.images()[0].equal(set.images()[5]));
  EXPECT_EQ((*part.labels())[0].item<int64_t>(), 5);
  EXPECT_EQ((*part.labels())[1].item<int64_t>(), 1);
}

TEST(SplitTrainValidation, PartitionsDeterministically) {
  // Each image's first pixel identifies it (0..99).
  const torch::Tensor images =
      torch::arange(100, torch::kInt64).to(torch::kUInt8).reshape({100, 1, 1, 1});
  const udl::ImageSet set(images);
  const auto a = udl::split_train_validation(set, 0.2, 7);
  const auto b = udl::split_train_validation(set, 0.2, 7);
  const auto c = udl::split_train_validation(set, 0.2, 8);
  EXPECT_EQ(a.validation.size(), 20);
  EXPECT_EQ(a.train.size(), 80);
  EXPECT_TRUE(a.validation.images().equal(b.validation.images()));
  EXPECT_FALSE(a.validation.images().equal(c.validation.images()));
  const torch::Tensor all = torch::cat({a.train.images(), a.validation.images()}).flatten();
  EXPECT_TRUE(std::get<0>(all.sort()).equal(images.flatten()));  // disjoint and complete
}

TEST(SplitTrainValidation, RejectsFractionsThatLeaveAPartEmpty) {
  const udl::ImageSet set(byte_images(10));
  EXPECT_THROW(udl::split_train_validation(set, 0.0, 0), udl::InvalidArgument);
  EXPECT_THROW(udl::split_train_validation(set, 1.0, 0), udl::InvalidArgument);
  EXPECT_THROW(udl::split_train_validation(udl::ImageSet(byte_images(1)), 0.5, 0),
               udl::InvalidArgument);
}

}  // namespace
