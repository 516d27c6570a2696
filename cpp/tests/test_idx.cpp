#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "udl/errors.h"
#include "udl/idx.h"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

Bytes idx_bytes(std::vector<uint32_t> dims, const Bytes& data, uint8_t type = 0x08) {
  Bytes out{0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(d >> shift));
  }
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

Bytes gzip_bytes(const Bytes& raw) {
  z_stream stream{};
  deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  Bytes out(deflateBound(&stream, raw.size()) + 64);
  stream.next_in = const_cast<Bytef*>(raw.data());
  stream.avail_in = static_cast<uInt>(raw.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

class IdxFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("udl_idx_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const Bytes& bytes) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return path.string();
  }

  fs::path dir_;
};

Bytes image_data(size_t n) {
  Bytes data(n * 2 * 3);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
  return data;
}

TEST(ParseIdx, ReadsDimensionsAndData) {
  const Bytes data = image_data(4);
  const udl::IdxArray array = udl::parse_idx(idx_bytes({4, 2, 3}, data), "mem");
  EXPECT_EQ(array.dims, (std::vector<int64_t>{4, 2, 3}));
  EXPECT_EQ(array.data, data);
}

TEST(ParseIdx, RejectsBadMagic) {
  Bytes bytes = idx_bytes({1}, {0});
  bytes[0] = 1;
  EXPECT_THROW(udl::parse_idx(bytes, "mem"), udl::DataFormatError);
}

TEST(ParseIdx, RejectsUnsupportedType) {
  try {
    udl::parse_idx(idx_bytes({1}, {0, 0, 0, 0}, 0x0D), "mem");
    FAIL() << "float IDX accepted";
  } catch (const udl::DataFormatError& error) {
    EXPECT_NE(std::string(error.what()).find("type code"), std::string::npos);
  }
}

TEST(ParseIdx, RejectsZeroDimensions) {
  EXPECT_THROW(udl::parse_idx({0, 0, 8, 0}, "mem"), udl::DataFormatError);
}

TEST(ParseIdx, RejectsTooShortForMagic) {
  EXPECT_THROW(udl::parse_idx({0, 0}, "mem"), udl::DataFormatError);
}

TEST(ParseIdx, RejectsTruncatedHeader) {
  Bytes bytes = idx_bytes({4, 2, 3}, {});
  bytes.resize(9);
  EXPECT_THROW(udl::parse_idx(bytes, "mem"), udl::DataFormatError);
}

TEST(ParseIdx, RejectsTruncatedData) {
  Bytes data = image_data(4);
  data.pop_back();
  try {
    udl::parse_idx(idx_bytes({4, 2, 3}, data), "mem");
    FAIL() << "truncated IDX accepted";
  } catch (const udl::DataFormatError& error) {
    EXPECT_NE(std::string(error.what()).find("truncated"), std::string::npos);
  }
}

TEST(ParseIdx, RejectsTrailingBytes) {
  Bytes data = image_data(4);
  data.push_back(1);
  EXPECT_THROW(udl::parse_idx(idx_bytes({4, 2, 3}, data), "mem"), udl::DataFormatError);
}

TEST(ParseIdx, RejectsDeclaredSizeBeyondLimit) {
  EXPECT_THROW(udl::parse_idx(idx_bytes({65536, 65536, 2}, {}), "mem"), udl::DataFormatError);
}

TEST(Gunzip, InflatesConcatenatedMembers) {
  const Bytes a{1, 2, 3};
  const Bytes b{4, 5};
  Bytes both = gzip_bytes(a);
  const Bytes second = gzip_bytes(b);
  both.insert(both.end(), second.begin(), second.end());
  EXPECT_EQ(udl::gunzip(both, "mem"), (Bytes{1, 2, 3, 4, 5}));
}

TEST(Gunzip, InflatesFarBeyondTwiceItsSize) {
  // 3 MB of zeros compress to a few KB: the output buffer doubles many times over.
  Bytes raw(3'000'000, 0);
  raw[1'234'567] = 42;
  const Bytes compressed = gzip_bytes(raw);
  ASSERT_LT(compressed.size() * 100, raw.size());
  EXPECT_EQ(udl::gunzip(compressed, "mem"), raw);
  EXPECT_TRUE(udl::gunzip(gzip_bytes({}), "mem").empty());
}

TEST(Gunzip, RejectsTruncatedStream) {
  Bytes compressed = gzip_bytes(image_data(100));
  compressed.resize(compressed.size() / 2);
  EXPECT_THROW(udl::gunzip(compressed, "mem"), udl::DataFormatError);
}

TEST(Gunzip, RejectsCorruptStream) {
  Bytes compressed = gzip_bytes(image_data(100));
  for (size_t i = 12; i < compressed.size() - 8; ++i) compressed[i] ^= 0x5A;
  EXPECT_THROW(udl::gunzip(compressed, "mem"), udl::DataFormatError);
}

TEST(DecodeIdx, ParsesRawAndGzipBytesAlike) {
  const Bytes raw = idx_bytes({4, 2, 3}, image_data(4));
  const udl::IdxArray from_raw = udl::decode_idx(raw, "mem");
  const udl::IdxArray from_gzip = udl::decode_idx(gzip_bytes(raw), "mem");
  EXPECT_EQ(from_raw.dims, from_gzip.dims);
  EXPECT_EQ(from_raw.data, from_gzip.data);
}

TEST(DecodeIdx, GzipOfABrokenIdxIsFormatError) {
  Bytes raw = idx_bytes({4, 2, 3}, image_data(4));
  raw.pop_back();
  EXPECT_THROW(udl::decode_idx(gzip_bytes(raw), "mem"), udl::DataFormatError);
  EXPECT_THROW(udl::decode_idx({0x1f, 0x8b}, "mem"), udl::DataFormatError);
}

TEST(CheckIdx, ImagesNeedThreeNonZeroDimensions) {
  EXPECT_NO_THROW(
      udl::check_idx_images(udl::parse_idx(idx_bytes({4, 2, 3}, image_data(4)), "m"), "m"));
  EXPECT_THROW(udl::check_idx_images(udl::parse_idx(idx_bytes({6, 4}, image_data(4)), "m"), "m"),
               udl::DataFormatError);
  EXPECT_THROW(udl::check_idx_images(udl::parse_idx(idx_bytes({0, 28, 28}, {}), "m"), "m"),
               udl::DataFormatError);
}

TEST(CheckIdx, LabelsNeedOneDimensionAndValuesInRange) {
  const udl::IdxArray labels = udl::parse_idx(idx_bytes({3}, {0, 9, 4}), "m");
  EXPECT_NO_THROW(udl::check_idx_labels(labels, 10, "m"));
  EXPECT_THROW(udl::check_idx_labels(labels, 9, "m"), udl::DataFormatError);
  EXPECT_THROW(udl::check_idx_labels(udl::parse_idx(idx_bytes({1, 3}, {0, 1, 2}), "m"), 10, "m"),
               udl::DataFormatError);
}

TEST_F(IdxFiles, ReadsRawAndGzipFilesAlike) {
  const Bytes raw = idx_bytes({4, 2, 3}, image_data(4));
  const udl::IdxArray from_raw = udl::read_idx_file(write("raw", raw));
  const udl::IdxArray from_gzip = udl::read_idx_file(write("gz", gzip_bytes(raw)));
  EXPECT_EQ(from_raw.dims, from_gzip.dims);
  EXPECT_EQ(from_raw.data, from_gzip.data);
}

TEST_F(IdxFiles, MissingFileIsInvalidArgument) {
  EXPECT_THROW(udl::read_idx_file((dir_ / "absent").string()), udl::InvalidArgument);
}

TEST_F(IdxFiles, EmptyFileIsFormatError) {
  EXPECT_THROW(udl::read_idx_file(write("empty", {})), udl::DataFormatError);
}

TEST_F(IdxFiles, ImagesNeedThreeDimensions) {
  EXPECT_THROW(udl::read_idx_images(write("labels", idx_bytes({3}, {1, 2, 3}))),
               udl::DataFormatError);
}

TEST_F(IdxFiles, LabelsNeedOneDimension) {
  EXPECT_THROW(udl::read_idx_labels(write("images", idx_bytes({4, 2, 3}, image_data(4))), 10),
               udl::DataFormatError);
}

TEST_F(IdxFiles, LabelsMustBeInRange) {
  try {
    udl::read_idx_labels(write("labels", idx_bytes({3}, {1, 10, 2})), 10);
    FAIL() << "label 10 accepted";
  } catch (const udl::DataFormatError& error) {
    EXPECT_NE(std::string(error.what()).find("label 10 at index 1"), std::string::npos);
  }
}

TEST_F(IdxFiles, ImageAndLabelCountsMustAgree) {
  const std::string images = write("images", idx_bytes({4, 2, 3}, image_data(4)));
  const std::string labels = write("labels", idx_bytes({3}, {1, 2, 3}));
  EXPECT_THROW(udl::read_idx_images_and_labels(images, labels, 10), udl::DataFormatError);
  const std::string four_labels = write("labels4", idx_bytes({4}, {1, 2, 3, 4}));
  const auto pair = udl::read_idx_images_and_labels(images, four_labels, 10);
  EXPECT_EQ(pair.images.dims[0], 4);
  EXPECT_EQ(pair.labels.data, (Bytes{1, 2, 3, 4}));
}

}  // namespace
