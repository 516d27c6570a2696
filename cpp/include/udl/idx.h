// Reading the IDX format of MNIST-style datasets, raw or gzip-compressed, strictly validated.
// Torch-free: the result is a plain byte buffer with its dimensions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace udl {

// An IDX array of unsigned bytes (type code 0x08, the only type MNIST-style files use).
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // row-major, dims' product bytes
};

// Largest decompressed size accepted, so a hostile gzip cannot exhaust memory.
inline constexpr uint64_t kMaxIdxBytes = uint64_t{4} << 30;

// Parses an in-memory IDX file. `source` names it in error messages.
// Throws DataFormatError on a wrong magic number, an unsupported element type,
// a zero dimension count, or a size that disagrees with the buffer's length.
IdxArray parse_idx(const std::vector<uint8_t>& bytes, const std::string& source);

// Inflates a gzip buffer (one or more members). Throws DataFormatError if it is
// corrupt or truncated, or inflates past kMaxIdxBytes.
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& compressed, const std::string& source);

// Parses an in-memory IDX file, inflating it first if it starts with the gzip magic bytes:
// what read_idx_file does with a file's content. Throws DataFormatError as the two above.
IdxArray decode_idx(const std::vector<uint8_t>& bytes, const std::string& source);

// Throws DataFormatError unless `array` holds images: exactly 3 dimensions (count, rows,
// columns), each > 0.
void check_idx_images(const IdxArray& array, const std::string& source);

// Throws DataFormatError unless `array` holds labels: exactly 1 dimension, every value
// < num_classes.
void check_idx_labels(const IdxArray& array, int num_classes, const std::string& source);

// Reads a file, inflating it if it starts with the gzip magic bytes, and parses it.
// Throws InvalidArgument if the file cannot be opened.
IdxArray read_idx_file(const std::string& path);

// Images: an IDX file of exactly 3 dimensions (count, rows, columns), each > 0.
IdxArray read_idx_images(const std::string& path);

// Labels: an IDX file of exactly 1 dimension, every value < num_classes.
IdxArray read_idx_labels(const std::string& path, int num_classes);

// Images and their labels, checked to be equally many.
struct IdxImagesAndLabels {
  IdxArray images;
  IdxArray labels;
};
IdxImagesAndLabels read_idx_images_and_labels(const std::string& images_path,
                                              const std::string& labels_path, int num_classes);

}  // namespace udl
