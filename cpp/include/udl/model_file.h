// The udl model file: a LibTorch archive holding the format version, the model kind
// ("autoencoder", "vae", "classifier", "gan"), the architecture as text, and the weights.
#pragma once

#include <memory>
#include <sstream>
#include <string>

#include "udl/architecture.h"
#include "udl/torch_api.h"

namespace udl {

// Version of the model file format; a file of another version is refused on load.
inline constexpr int64_t kModelFormatVersion = 1;

// An AutoencoderSpec as whitespace-separated text, and back. `extra` fields that a model
// kind adds (e.g. the VAE's batch norm flag) follow the spec in the same record.
std::string encode_spec(const AutoencoderSpec& spec);
// Reads a spec from `in`; throws DataFormatError naming `path` on corrupt text.
AutoencoderSpec decode_spec(std::istream& in, const std::string& path);
AutoencoderSpec decode_spec(const std::string& text, const std::string& path);

// Writes the model's parameters and buffers with the header.
void write_model_file(torch::nn::Module& model, const std::string& kind, const std::string& spec,
                      const std::string& path);

struct ModelFile {
  std::string path;
  std::string kind;
  std::string spec;
  std::shared_ptr<torch::serialize::InputArchive> archive;

  // Loads the weights into `model` (built from `spec`); throws DataFormatError if they do
  // not match its architecture.
  void load_weights_into(torch::nn::Module& model) const;
};

// Opens a model file and checks its header and that it holds `expected_kind` (any kind if
// empty). Throws
// DataFormatError if the file is not a udl model, is truncated, has another format
// version, or holds another kind of model.
ModelFile read_model_file(const std::string& path, const std::string& expected_kind);

// Reads a model file of `kind`: `read_spec(in)` parses the spec from the file's record
// (throwing DataFormatError on corrupt text), the model is built from it and its weights
// loaded.
template <typename Holder, typename ReadSpec>
Holder load_model_file(const std::string& path, const std::string& kind, ReadSpec&& read_spec) {
  const ModelFile file = read_model_file(path, kind);
  std::istringstream in(file.spec);
  Holder model(read_spec(in), /*seed=*/0);
  file.load_weights_into(*model);
  return model;
}

}  // namespace udl
