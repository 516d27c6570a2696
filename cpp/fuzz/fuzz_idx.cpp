// libFuzzer target for the IDX reader: the bytes of one file, raw or gzip-compressed, go
// through what udl::read_idx_images and udl::read_idx_labels do to a file's content.
// Build and run it with scripts/fuzz (clang, -fsanitize=fuzzer,address,undefined).
//
// A DataFormatError, the documented error for bad content, is the parser doing its job.
// Anything else escaping (std::bad_alloc from a size taken on trust, std::out_of_range, even
// udl::InvalidArgument, which is for bad arguments, not bad bytes) is a crash, and so is an
// accepted array whose data disagrees with its dimensions.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "udl/errors.h"
#include "udl/idx.h"

namespace {

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz_idx: invariant broken: %s\n", what);
    std::abort();
  }
}

void check_accepted(const udl::IdxArray& array) {
  require(!array.dims.empty() && array.dims.size() <= 255, "1 to 255 dimensions");
  uint64_t size = 1;
  for (int64_t dim : array.dims) {
    require(dim >= 0 && dim <= int64_t{0xFFFFFFFF}, "every dimension fits in 32 bits");
    size *= static_cast<uint64_t>(dim);
  }
  require(size == array.data.size(), "data holds the product of the dimensions in bytes");
  require(size <= udl::kMaxIdxBytes, "data within kMaxIdxBytes");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  udl::IdxArray array;
  try {
    array = udl::decode_idx(bytes, "fuzz");
  } catch (const udl::DataFormatError&) {
    return 0;
  }
  check_accepted(array);
  try {
    udl::check_idx_images(array, "fuzz");
    require(array.dims.size() == 3, "accepted images have 3 dimensions");
  } catch (const udl::DataFormatError&) {
  }
  for (int num_classes : {1, 10, 256}) {
    try {
      udl::check_idx_labels(array, num_classes, "fuzz");
      require(array.dims.size() == 1, "accepted labels have 1 dimension");
      for (uint8_t label : array.data) require(label < num_classes, "accepted labels in range");
    } catch (const udl::DataFormatError&) {
    }
  }
  return 0;
}
