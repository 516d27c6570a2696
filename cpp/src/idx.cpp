#include "udl/idx.h"

#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <limits>

#include "udl/errors.h"

namespace udl {
namespace {

constexpr uint8_t kUnsignedByteType = 0x08;

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw DataFormatError("IDX file " + source + ": " + what);
}

uint32_t read_big_endian_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

bool is_gzip(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

}  // namespace

IdxArray parse_idx(const std::vector<uint8_t>& bytes, const std::string& source) {
  if (bytes.size() < 4) {
    fail(source,
         "only " + std::to_string(bytes.size()) + " bytes, too short for the 4-byte magic number");
  }
  if (bytes[0] != 0 || bytes[1] != 0) {
    fail(source, "bad magic number (the first two bytes must be zero); not an IDX file");
  }
  if (bytes[2] != kUnsignedByteType) {
    fail(source, "element type code " + std::to_string(bytes[2]) +
                     " is not supported (only 0x08, unsigned byte)");
  }
  const size_t ndims = bytes[3];
  if (ndims == 0) fail(source, "zero dimensions in the header");
  const size_t header_size = 4 + 4 * ndims;
  if (bytes.size() < header_size) {
    fail(source, "truncated header: " + std::to_string(ndims) + " dimensions need " +
                     std::to_string(header_size) + " bytes, the file has " +
                     std::to_string(bytes.size()));
  }
  IdxArray array;
  uint64_t expected = 1;
  for (size_t i = 0; i < ndims; ++i) {
    const uint32_t dim = read_big_endian_u32(&bytes[4 + 4 * i]);
    array.dims.push_back(dim);
    expected *= dim;  // each factor < 2^32 and the running product is capped below
    if (expected > kMaxIdxBytes) fail(source, "declared size exceeds the 4 GiB limit");
  }
  const uint64_t actual = bytes.size() - header_size;
  if (actual < expected) {
    fail(source, "truncated: the header declares " + std::to_string(expected) +
                     " bytes of data, the file holds " + std::to_string(actual));
  }
  if (actual > expected) {
    fail(source, std::to_string(actual - expected) + " unexpected bytes after the " +
                     std::to_string(expected) + " bytes the header declares");
  }
  array.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header_size), bytes.end());
  return array;
}

std::vector<uint8_t> gunzip(const std::vector<uint8_t>& compressed, const std::string& source) {
  if (compressed.size() > std::numeric_limits<uInt>::max()) {
    fail(source, "over 4 GiB compressed (the limit is 4 GiB inflated)");
  }
  z_stream stream{};
  // 16 + MAX_WBITS: expect a gzip wrapper, not raw zlib.
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) fail(source, "cannot initialise zlib");
  stream.next_in = const_cast<Bytef*>(compressed.data());
  stream.avail_in = static_cast<uInt>(compressed.size());
  // Inflates straight into `out`, doubling it when full: from twice the input's size (IDX
  // data compresses about 2-5 times), so a small input costs a small buffer.
  std::vector<uint8_t> out(
      std::min<uint64_t>(std::max<uint64_t>(2 * compressed.size(), 4096), kMaxIdxBytes + 1));
  size_t filled = 0;
  while (true) {
    if (filled == out.size()) out.resize(std::min<uint64_t>(2 * out.size(), kMaxIdxBytes + 1));
    const size_t room = std::min<size_t>(out.size() - filled, std::numeric_limits<uInt>::max());
    stream.next_out = out.data() + filled;
    stream.avail_out = static_cast<uInt>(room);
    const int status = inflate(&stream, Z_NO_FLUSH);
    const size_t produced = room - stream.avail_out;
    filled += produced;
    if (filled > kMaxIdxBytes) {
      inflateEnd(&stream);
      fail(source, "inflates past the 4 GiB limit");
    }
    if (status == Z_STREAM_END) {
      if (stream.avail_in == 0) break;
      // Concatenated gzip members are one stream by the format's definition.
      if (inflateReset(&stream) != Z_OK) break;
      continue;
    }
    if (status == Z_OK) continue;
    if (status == Z_BUF_ERROR && produced > 0) continue;
    inflateEnd(&stream);
    if (status == Z_BUF_ERROR) fail(source, "truncated gzip stream");
    fail(source,
         std::string("corrupt gzip data (") + (stream.msg ? stream.msg : "zlib error") + ")");
  }
  inflateEnd(&stream);
  out.resize(filled);
  return out;
}

IdxArray decode_idx(const std::vector<uint8_t>& bytes, const std::string& source) {
  return is_gzip(bytes) ? parse_idx(gunzip(bytes, source), source) : parse_idx(bytes, source);
}

void check_idx_images(const IdxArray& array, const std::string& source) {
  if (array.dims.size() != 3) {
    fail(source, "an image file needs 3 dimensions (count, rows, columns), it has " +
                     std::to_string(array.dims.size()));
  }
  for (int64_t dim : array.dims) {
    if (dim == 0) fail(source, "an image file needs every dimension > 0");
  }
}

void check_idx_labels(const IdxArray& array, int num_classes, const std::string& source) {
  if (array.dims.size() != 1) {
    fail(source, "a label file needs 1 dimension, it has " + std::to_string(array.dims.size()));
  }
  for (size_t i = 0; i < array.data.size(); ++i) {
    if (array.data[i] >= num_classes) {
      fail(source, "label " + std::to_string(array.data[i]) + " at index " + std::to_string(i) +
                       " is outside 0.." + std::to_string(num_classes - 1));
    }
  }
}

IdxArray read_idx_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw InvalidArgument("cannot open IDX file " + path);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)),
                                   std::istreambuf_iterator<char>());
  return decode_idx(bytes, path);
}

IdxArray read_idx_images(const std::string& path) {
  IdxArray array = read_idx_file(path);
  check_idx_images(array, path);
  return array;
}

IdxArray read_idx_labels(const std::string& path, int num_classes) {
  IdxArray array = read_idx_file(path);
  check_idx_labels(array, num_classes, path);
  return array;
}

IdxImagesAndLabels read_idx_images_and_labels(const std::string& images_path,
                                              const std::string& labels_path, int num_classes) {
  IdxImagesAndLabels pair{read_idx_images(images_path), read_idx_labels(labels_path, num_classes)};
  if (pair.images.dims[0] != pair.labels.dims[0]) {
    throw DataFormatError("IDX files disagree: " + images_path + " holds " +
                          std::to_string(pair.images.dims[0]) + " images but " + labels_path +
                          " holds " + std::to_string(pair.labels.dims[0]) + " labels");
  }
  return pair;
}

}  // namespace udl
