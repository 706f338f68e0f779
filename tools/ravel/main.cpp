// The `ravel` command line: train, evaluate, predict, summary and bench, on the Keras-level API,
// convert for PyTorch weights, and export to ONNX.
//
//   ravel train --model resnet20 --data fashion-mnist --epochs 15     # report in runs/...
//   ravel train --model mlp --data iris.csv --label-column species
//   ravel evaluate runs/resnet20-fashion-mnist-.../model.ravel
//   ravel predict model.ravel shirt.png boot.jpg --top 3 [--json]
//   ravel summary resnet20 --input-shape 1,28,28
//   ravel bench --model resnet20 --batch-size 128
//   ravel convert resnet18.pth resnet18.safetensors --model resnet18
//   ravel export runs/r20/model.ravel r20.onnx
//
// Exit status: 0 on success, 2 for a wrong command line (one line on stderr says what), 1 when
// the command fails (a missing or corrupt file, data that does not fit the model).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>

#include "common.h"

namespace {

// The innermost sub-command that was named on the command line (for messages).
std::string command_path(const CLI::App& app) {
  std::string path = "ravel";
  const CLI::App* a = &app;
  while (true) {
    auto subs = a->get_subcommands();
    if (subs.empty()) break;
    a = subs.front();
    path += " " + a->get_name();
  }
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ravel::cli;
  CLI::App app{"ravel: train, evaluate and run deep learning models", "ravel"};
  app.require_subcommand(1);
  int status = 0;
  add_train(app, &status);
  add_evaluate(app, &status);
  add_predict(app, &status);
  add_summary(app, &status);
  add_bench(app, &status);
  add_convert(app, &status);
  add_export(app, &status);

  // A first word that names no sub-command (CLI11 would only say that one is required).
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) known = known || sub->get_name() == argv[1];
    if (!known) {
      std::fprintf(stderr,
                   "ravel: unknown command '%s' (train, evaluate, predict, summary, bench, "
                   "convert, export; see --help)\n",
                   argv[1]);
      return kExitUsage;
    }
  }
  // CLI11 runs the chosen sub-command's callback inside parse(), so every failure ends here.
  try {
    app.parse(argc, argv);
    return status;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", command_path(app).c_str(), e.what());
    return kExitUsage;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", command_path(app).c_str(), e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);  // one line
    std::fprintf(stderr, "%s: %s\n", command_path(app).c_str(), msg.c_str());
    return kExitRuntime;
  }
}
