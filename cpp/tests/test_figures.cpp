#include <gtest/gtest.h>

#include <set>
#include <string>

#include "udl/autoencoder_training.h"
#include "udl/classifier.h"
#include "udl/figures.h"
#include "udl/gan.h"
#include "udl/vae.h"

namespace {

// Gives every cell of every figure a different value.
template <typename Record>
Record distinct_record() {
  Record record;
  double next = 1.0;
  udl::for_each_figure(record, [&](const char*, auto& value) {
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<T, bool>) {
      value = true;
    } else if constexpr (std::is_arithmetic_v<T>) {
      value = static_cast<T>(next++);
    } else {
      for (auto& cell : value) cell = next++;
    }
  });
  return record;
}

// Every declared figure survives a checkpoint row, names are unique, and the shared ones
// come first and last.
template <typename Record>
void expect_round_trip() {
  const Record record = distinct_record<Record>();
  const Record back = udl::from_row<Record>(udl::to_row(record));
  std::vector<std::string> names;
  udl::for_each_figure(record, [&](const char* name, const auto&) { names.emplace_back(name); });
  EXPECT_EQ(udl::to_row(back), udl::to_row(record));
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  EXPECT_EQ(names.front(), "epoch");
  EXPECT_EQ(names[names.size() - 2], "seconds");
  EXPECT_EQ(names.back(), "improved");
  EXPECT_THROW(udl::from_row<Record>({1.0}), std::runtime_error);
}

TEST(Figures, EveryRecordRoundTripsThroughACheckpointRow) {
  expect_round_trip<udl::EpochRecord>();
  expect_round_trip<udl::VaeEpochRecord>();
  expect_round_trip<udl::ClassifierEpochRecord>();
  expect_round_trip<udl::GanEpochRecord>();
}

TEST(Figures, ArraysTakeOneCellEach) {
  udl::EpochRecord record;
  // epoch, fold, train_loss, val_loss, val_mse, four sparsities, seconds, improved
  EXPECT_EQ(udl::to_row(record).size(), 5u + udl::kLayerGroups + 2u);
}

}  // namespace
