#include "udl/model_file.h"

#include <sstream>

#include "udl/errors.h"

namespace udl {

std::string encode_spec(const AutoencoderSpec& spec) {
  std::ostringstream out;
  out.precision(17);  // the dropout probability round-trips exactly
  for (int64_t v : spec.input_shape) out << v << ' ';
  out << spec.conv_layers.size() << ' ';
  for (const auto& l : spec.conv_layers) {
    out << l.channels << ' ' << l.kernel << ' ' << l.stride << ' ' << l.padding << ' ';
  }
  out << spec.hidden_widths.size() << ' ';
  for (int64_t w : spec.hidden_widths) out << w << ' ';
  out << spec.latent_dim << ' ' << spec.dropout << ' ' << spec.decoder_dropout;
  return out.str();
}

AutoencoderSpec decode_spec(std::istream& in, const std::string& path) {
  AutoencoderSpec spec;
  spec.input_shape.assign(3, 0);
  size_t n_conv = 0;
  size_t n_hidden = 0;
  in >> spec.input_shape[0] >> spec.input_shape[1] >> spec.input_shape[2] >> n_conv;
  if (!in || n_conv > 64) throw DataFormatError(path + ": corrupt architecture record");
  spec.conv_layers.resize(n_conv);
  for (auto& l : spec.conv_layers) in >> l.channels >> l.kernel >> l.stride >> l.padding;
  in >> n_hidden;
  if (!in || n_hidden > 64) throw DataFormatError(path + ": corrupt architecture record");
  spec.hidden_widths.resize(n_hidden);
  for (auto& w : spec.hidden_widths) in >> w;
  in >> spec.latent_dim >> spec.dropout >> spec.decoder_dropout;
  if (!in) throw DataFormatError(path + ": corrupt architecture record");
  return spec;
}

AutoencoderSpec decode_spec(const std::string& text, const std::string& path) {
  std::istringstream in(text);
  return decode_spec(in, path);
}

void write_model_file(torch::nn::Module& model, const std::string& kind, const std::string& spec,
                      const std::string& path) {
  torch::serialize::OutputArchive archive;
  archive.write("udl_format_version", torch::tensor(kModelFormatVersion));
  archive.write("model_kind", c10::IValue(kind));
  archive.write("spec", c10::IValue(spec));
  torch::serialize::OutputArchive weights;
  model.save(weights);
  archive.write("weights", weights);
  archive.save_to(path);
}

ModelFile read_model_file(const std::string& path, const std::string& expected_kind) {
  auto archive = std::make_shared<torch::serialize::InputArchive>();
  try {
    archive->load_from(path, torch::Device(torch::kCPU));  // written on any device
  } catch (const c10::Error&) {
    throw DataFormatError(
        path + " is not a udl model file, or is truncated (it cannot be read as an archive)");
  }
  torch::Tensor version;
  c10::IValue kind;
  c10::IValue spec_text;
  if (!archive->try_read("udl_format_version", version) || !archive->try_read("model_kind", kind) ||
      !archive->try_read("spec", spec_text) || !kind.isString() || !spec_text.isString()) {
    throw DataFormatError(path + " is not a udl model file (no udl header)");
  }
  if (version.item<int64_t>() != kModelFormatVersion) {
    throw DataFormatError(path + " has model format version " +
                          std::to_string(version.item<int64_t>()) + "; this udl reads version " +
                          std::to_string(kModelFormatVersion));
  }
  if (!expected_kind.empty() && kind.toStringRef() != expected_kind) {
    throw DataFormatError(path + " holds a '" + kind.toStringRef() + "', not a '" + expected_kind +
                          "'");
  }
  return {path, kind.toStringRef(), spec_text.toStringRef(), std::move(archive)};
}

void ModelFile::load_weights_into(torch::nn::Module& model) const {
  torch::serialize::InputArchive weights;
  try {
    archive->read("weights", weights);
    model.load(weights);
  } catch (const c10::Error& error) {
    throw DataFormatError(path + ": weights do not match the architecture (" +
                          error.what_without_backtrace() + ")");
  }
}

}  // namespace udl
