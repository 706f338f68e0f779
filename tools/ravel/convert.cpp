// `ravel convert IN.pt OUT.safetensors|OUT.npz [--model NAME]`: a PyTorch state_dict (what
// torch.save writes; read without Python by ravel/pytorch.h) to safetensors or .npz, names,
// dtypes and shapes kept. --model checks first that the names and shapes fit a zoo model (built
// with torchvision's 1000 classes and 3 input channels unless --classes / --in-channels say
// otherwise) and refuses the file, listing what does not fit.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "common.h"
#include "ravel/io.h"
#include "ravel/models/zoo.h"
#include "ravel/pytorch.h"
#include "ravel/safetensors.h"

namespace ravel::cli {

namespace {

struct ConvertArgs {
  std::string in, out, model;
  int64_t num_classes = 1000, in_channels = 3, input_size = 224;
};

// "a, b, c and 4 more"
std::string some(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  const size_t shown = std::min<size_t>(items.size(), 4);
  for (size_t i = 0; i < shown; ++i) out += (i ? sep : "") + items[i];
  if (items.size() > shown) out += " and " + std::to_string(items.size() - shown) + " more";
  return out;
}

// Throws, naming the missing and unexpected keys and the shape mismatches, unless `sd` has
// exactly the model's parameter and buffer names with its shapes.
void check_fits(const nn::StateDict& sd, const ConvertArgs& a) {
  auto net = models::create(
      a.model,
      {.num_classes = a.num_classes, .in_channels = a.in_channels, .input_size = a.input_size});
  std::map<std::string, Shape> file;
  for (const auto& [name, t] : sd) file.emplace(name, t.shape());
  std::vector<std::string> missing, unexpected, mismatched;
  std::map<std::string, bool> in_model;
  for (const auto& [name, t] : net->state_dict()) {
    in_model[name] = true;
    auto it = file.find(name);
    if (it == file.end()) {
      missing.push_back(name);
    } else if (it->second != t.shape()) {
      std::ostringstream os;
      os << name << ": " << it->second << " in the file, " << t.shape() << " in the model";
      mismatched.push_back(os.str());
    }
  }
  for (const auto& [name, t] : sd)
    if (!in_model.count(name)) unexpected.push_back(name);
  if (missing.empty() && unexpected.empty() && mismatched.empty()) return;
  std::string msg = "'" + a.in + "' does not fit " + a.model + " (built with --classes " +
                    std::to_string(a.num_classes) + " --in-channels " +
                    std::to_string(a.in_channels) + "):";
  if (!missing.empty())
    msg += " " + std::to_string(missing.size()) + " missing keys (" + some(missing) + ").";
  if (!unexpected.empty())
    msg += " " + std::to_string(unexpected.size()) + " unexpected keys (" + some(unexpected) + ").";
  if (!mismatched.empty())
    msg += " " + std::to_string(mismatched.size()) + " shapes differ (" + some(mismatched, "; ") +
           ").";
  throw Error(msg);
}

int run_convert(const ConvertArgs& a) {
  const std::string ext = std::filesystem::path(a.out).extension().string();
  if (ext != ".safetensors" && ext != ".npz")
    throw UsageError("OUT: expected a file name ending in .safetensors or .npz, got '" + a.out +
                     "'");
  if (!a.model.empty()) {
    const auto names = models::names();
    if (std::find(names.begin(), names.end(), a.model) == names.end())
      throw UsageError("--model: unknown zoo model '" + a.model + "' (`ravel train --help` lists " +
                       std::to_string(names.size()) + " names)");
  }
  nn::StateDict sd = load_pytorch(a.in);
  if (!a.model.empty()) check_fits(sd, a);
  if (ext == ".npz") {
    std::map<std::string, Tensor> arrays(sd.begin(), sd.end());
    save_npz(a.out, arrays);
  } else {
    save_safetensors(a.out, sd, {{"format", "pt"}});
  }
  int64_t values = 0;
  for (const auto& [name, t] : sd) values += t.numel();
  std::cout << "converted " << sd.size() << " tensors (" << values << " values) from " << a.in
            << " to " << a.out << "\n";
  if (!a.model.empty())
    std::cout << "the names and shapes fit " << a.model << ": load with " << a.model
              << "()->load_state_dict(...)\n";
  return 0;
}

}  // namespace

void add_convert(CLI::App& app, int* status) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* sub = app.add_subcommand(
      "convert", "turn a PyTorch state_dict (.pt/.pth from torch.save) into safetensors or .npz");
  sub->add_option("in", args->in, "the torch.save file (a state_dict or a checkpoint dict)")
      ->required();
  sub->add_option("out", args->out, "the file to write: NAME.safetensors or NAME.npz")->required();
  sub->add_option("--model", args->model,
                  "check that the keys and shapes fit this zoo model (e.g. resnet18)");
  sub->add_option("--classes", args->num_classes, "--model: number of classes")
      ->capture_default_str()
      ->check(positive());
  sub->add_option("--in-channels", args->in_channels, "--model: input channels")
      ->capture_default_str()
      ->check(positive());
  sub->add_option("--input-size", args->input_size,
                  "--model: square input size (sizes mlp's and lenet5's first layer)")
      ->capture_default_str()
      ->check(positive());
  sub->callback([args, status] { *status = run_convert(*args); });
}

}  // namespace ravel::cli
