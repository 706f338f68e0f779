// `ravel export MODEL.ravel OUT.onnx [--input-shape C,H,W]`: a saved model (what `ravel train`
// or keras::save_model writes) as an ONNX file (opset 13, dynamic batch, inputs "input_*" and
// outputs "output_*", or "input"/"output" for one), through graph::trace and onnx::save. The
// input shape comes from the model; --input-shape gives it for a model saved unbuilt.
#include <CLI/CLI.hpp>
#include <iostream>

#include "common.h"
#include "ravel/onnx.h"
#include "ravel/random.h"

namespace ravel::cli {

namespace {

struct ExportArgs {
  std::string model, out, input_shape;
};

int run_export(const ExportArgs& a) {
  if (a.out.size() < 5 || a.out.substr(a.out.size() - 5) != ".onnx")
    throw UsageError("the output file must end in .onnx, got '" + a.out + "'");
  auto model = load_model_file(a.model);
  if (!a.input_shape.empty()) model->build_input(parse_shape("--input-shape", a.input_shape));
  if (!model->is_built())
    throw UsageError("the model was saved before it saw data: give --input-shape C,H,W");
  std::vector<Tensor> examples;
  for (const keras::Shape& s : model->input_shapes()) {
    Shape with_batch{2};
    for (int64_t d : s) with_batch.push_back(d);
    examples.push_back(rand(with_batch));
  }
  model->eval();
  // The function form of trace covers several inputs and outputs; the weights keep their
  // state_dict names.
  nn::StateDict weights = model->state_dict();
  onnx::save(graph::trace([&](const std::vector<Tensor>& xs) { return model->run(xs); }, weights,
                          examples),
             a.out);
  std::cout << "wrote " << a.out << "\n";
  return 0;
}

}  // namespace

void add_export(CLI::App& app, int* status) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* sub = app.add_subcommand("export", "write a saved model as an ONNX file");
  sub->add_option("model", args->model, "a saved model file (model.ravel)")->required();
  sub->add_option("out", args->out, "the ONNX file to write (NAME.onnx)")->required();
  sub->add_option("--input-shape", args->input_shape,
                  "C,H,W (or F) of one input, for a model saved before it was built");
  sub->callback([args, status] { *status = run_export(*args); });
}

}  // namespace ravel::cli
