#include "checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "udl/errors.h"

namespace udl::detail {

namespace {

constexpr const char* kFormat = "udl checkpoint";
constexpr int64_t kVersion = 2;

// Every parameter's and buffer's name and shape: a checkpoint only fits the same model.
std::string layout_of(torch::nn::Module& model) {
  std::ostringstream out;
  for (const auto& item : model.named_parameters()) out << item.key() << item.value().sizes();
  for (const auto& item : model.named_buffers()) out << item.key() << item.value().sizes();
  return out.str();
}

void fsync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) throw std::runtime_error("cannot open " + path + " to sync it");
  const int synced = ::fsync(fd);
  ::close(fd);
  if (synced != 0) throw std::runtime_error("cannot sync " + path);
}

}  // namespace

void require_same(const std::string& path, const std::string& what, int64_t saved, int64_t now) {
  if (saved != now) {
    throw InvalidArgument("checkpoint " + path + " was written with " + what + " " +
                          std::to_string(saved) + ", this run has " + std::to_string(now));
  }
}

int64_t read_int(torch::serialize::InputArchive& archive, const std::string& key) {
  c10::IValue value;
  archive.read(key, value);
  return value.toInt();
}

double read_double(torch::serialize::InputArchive& archive, const std::string& key) {
  c10::IValue value;
  archive.read(key, value);
  return value.toDouble();
}

std::string read_string(torch::serialize::InputArchive& archive, const std::string& key) {
  c10::IValue value;
  archive.read(key, value);
  return value.toStringRef();
}

torch::Tensor read_tensor(torch::serialize::InputArchive& archive, const std::string& key) {
  torch::Tensor tensor;
  archive.read(key, tensor);
  return tensor;
}

void write_checkpoint(const std::string& path, const CheckpointIdentity& identity,
                      torch::nn::Module& model,
                      const std::vector<torch::optim::Optimizer*>& optimizers,
                      const std::vector<at::Generator>& generators, const LoopProgress& progress) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("version", c10::IValue(kVersion));
  archive.write("loop", c10::IValue(identity.loop));
  archive.write("seed", c10::IValue(static_cast<int64_t>(identity.seed)));
  archive.write("batch_size", c10::IValue(identity.batch_size));
  archive.write("optimizer", c10::IValue(static_cast<int64_t>(identity.optimizer)));
  archive.write("layout", c10::IValue(layout_of(model)));

  torch::serialize::OutputArchive model_archive;
  model.save(model_archive);
  archive.write("model", model_archive);
  archive.write("optimizers", c10::IValue(static_cast<int64_t>(optimizers.size())));
  for (size_t i = 0; i < optimizers.size(); ++i) {
    torch::serialize::OutputArchive optimizer_archive;
    optimizers[i]->save(optimizer_archive);
    archive.write("optimizer_state_" + std::to_string(i), optimizer_archive);
  }
  archive.write("generators", c10::IValue(static_cast<int64_t>(generators.size())));
  for (size_t i = 0; i < generators.size(); ++i) {
    at::Generator generator = generators[i];  // a handle to the same state
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write("generator_" + std::to_string(i), generator.get_state());
    archive.write("generator_device_" + std::to_string(i),
                  c10::IValue(c10::DeviceTypeName(generator.device().type(), true)));
  }

  archive.write("epoch", c10::IValue(progress.epoch));
  archive.write("best_loss", c10::IValue(progress.stopping.best_loss));
  archive.write("best_epoch", c10::IValue(progress.stopping.best_epoch));
  archive.write("without_improvement", c10::IValue(progress.stopping.epochs_without_improvement));
  archive.write("epochs_on_plateau", c10::IValue(progress.epochs_on_plateau));
  archive.write("best_state_size", c10::IValue(static_cast<int64_t>(progress.best_state.size())));
  for (size_t i = 0; i < progress.best_state.size(); ++i) {
    archive.write("best_state_" + std::to_string(i), progress.best_state[i]);
  }
  const int64_t rows = static_cast<int64_t>(progress.history.size());
  const int64_t columns = rows == 0 ? 0 : static_cast<int64_t>(progress.history[0].size());
  torch::Tensor history = torch::empty({rows, columns}, torch::kFloat64);
  double* cells = history.data_ptr<double>();
  for (const auto& row : progress.history) {
    if (static_cast<int64_t>(row.size()) != columns) throw std::logic_error("ragged history");
    cells = std::copy(row.begin(), row.end(), cells);
  }
  archive.write("history", history);
  archive.write("kept", c10::IValue(static_cast<int64_t>(progress.kept.size())));
  for (size_t i = 0; i < progress.kept.size(); ++i) {
    archive.write("kept_" + std::to_string(i), progress.kept[i]);
  }
  save_atomically(archive, path);
}

void save_atomically(torch::serialize::OutputArchive& archive, const std::string& path) {
  const std::string temporary = path + ".tmp" + std::to_string(::getpid());
  try {
    archive.save_to(temporary);
    fsync_path(temporary, O_RDONLY);
  } catch (...) {
    std::remove(temporary.c_str());
    throw;
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw std::runtime_error("cannot move the file into place at " + path);
  }
  const auto folder = std::filesystem::path(path).parent_path();
  fsync_path(folder.empty() ? "." : folder.string(), O_RDONLY | O_DIRECTORY);
}

LoopProgress read_checkpoint(const std::string& path, const CheckpointIdentity& identity,
                             torch::nn::Module& model,
                             const std::vector<torch::optim::Optimizer*>& optimizers,
                             const std::vector<at::Generator>& generators,
                             const torch::Device& device) {
  torch::serialize::InputArchive archive;
  LoopProgress progress;
  try {
    archive.load_from(path, device);
    if (read_string(archive, "format") != kFormat) throw std::runtime_error("not a checkpoint");
    const int64_t version = read_int(archive, "version");
    if (version != kVersion) {
      throw DataFormatError("checkpoint " + path + " has format version " +
                            std::to_string(version) + "; this udl reads version " +
                            std::to_string(kVersion));
    }
    const std::string loop = read_string(archive, "loop");
    if (loop != identity.loop) {
      throw InvalidArgument("checkpoint " + path + " is of a " + loop + " training run, not of a " +
                            identity.loop + " one");
    }
    require_same(path, "seed", read_int(archive, "seed"), static_cast<int64_t>(identity.seed));
    require_same(path, "batch_size", read_int(archive, "batch_size"), identity.batch_size);
    require_same(path, "optimizer (0 adam, 1 sgd)", read_int(archive, "optimizer"),
                 static_cast<int64_t>(identity.optimizer));
    if (read_string(archive, "layout") != layout_of(model)) {
      throw InvalidArgument("checkpoint " + path + " holds a model of another architecture");
    }
    torch::serialize::InputArchive model_archive;
    archive.read("model", model_archive);
    model.load(model_archive);
    require_same(path, "optimizers", read_int(archive, "optimizers"),
                 static_cast<int64_t>(optimizers.size()));
    for (size_t i = 0; i < optimizers.size(); ++i) {
      torch::serialize::InputArchive optimizer_archive;
      archive.read("optimizer_state_" + std::to_string(i), optimizer_archive);
      optimizers[i]->load(optimizer_archive);
    }
    require_same(path, "random-number generators", read_int(archive, "generators"),
                 static_cast<int64_t>(generators.size()));
    for (size_t i = 0; i < generators.size(); ++i) {
      at::Generator generator = generators[i];
      c10::IValue written_on("cpu");  // checkpoints before devices were all on the CPU
      archive.try_read("generator_device_" + std::to_string(i), written_on);
      if (written_on.toStringRef() != c10::DeviceTypeName(generator.device().type(), true)) {
        continue;
      }
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_state(read_tensor(archive, "generator_" + std::to_string(i)).to(torch::kCPU));
    }

    progress.epoch = read_int(archive, "epoch");
    progress.stopping.best_loss = read_double(archive, "best_loss");
    progress.stopping.best_epoch = read_int(archive, "best_epoch");
    progress.stopping.epochs_without_improvement = read_int(archive, "without_improvement");
    progress.epochs_on_plateau = read_int(archive, "epochs_on_plateau");
    const int64_t kept = read_int(archive, "best_state_size");
    for (int64_t i = 0; i < kept; ++i) {
      progress.best_state.push_back(read_tensor(archive, "best_state_" + std::to_string(i)));
    }
    const torch::Tensor history = read_tensor(archive, "history").to(torch::kCPU, torch::kFloat64);
    if (history.dim() != 2 || history.size(0) != progress.epoch) {
      throw std::runtime_error("its history does not match its epoch count");
    }
    for (int64_t r = 0; r < history.size(0); ++r) {
      const torch::Tensor row = history[r].contiguous();
      progress.history.emplace_back(row.data_ptr<double>(), row.data_ptr<double>() + row.numel());
    }
    const int64_t kept_count = read_int(archive, "kept");
    for (int64_t i = 0; i < kept_count; ++i) {
      progress.kept.push_back(read_tensor(archive, "kept_" + std::to_string(i)).to(torch::kCPU));
    }
  } catch (const InvalidArgument&) {
    throw;
  } catch (const DataFormatError&) {
    throw;
  } catch (const std::exception& error) {
    throw DataFormatError("checkpoint " + path + " is not a udl checkpoint or is damaged (" +
                          std::string(error.what()).substr(0, 200) + ")");
  }
  return progress;
}

}  // namespace udl::detail
