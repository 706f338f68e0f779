// `ravel predict MODEL INPUTS... [--top K] [--json] [--resize]`: the most likely classes of
// images (PNG/JPEG) or of the rows of CSV files, as a table or as JSON.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common.h"
#include "ravel/data/readers.h"
#include "ravel/data/transforms.h"
#include "ravel/image.h"
#include "ravel/ops.h"
#include "ravel/parallel.h"

namespace ravel::cli {

namespace {

struct PredictArgs {
  std::string model;
  std::vector<std::string> inputs;
  int64_t top = 1;
  bool json = false, resize = false;
  int64_t batch_size = 64;
  int threads = 0;
};

bool is_csv(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".csv";
}

// An image as the model takes it: float32 [C, H, W] in [0, 1].
Tensor image_input(const std::string& path, const keras::Shape& in, bool resize) {
  RAVEL_CHECK(in.size() == 3, path, ": the model takes inputs of shape ", shape_str(in),
              ", not images");
  RAVEL_CHECK(std::filesystem::is_regular_file(path), "no such file: ", path);
  Tensor img = read_image(path, {.channels = static_cast<int>(in[0])});
  const int64_t h = img.shape()[1], w = img.shape()[2];
  if (h != in[1] || w != in[2]) {
    RAVEL_CHECK(resize, path, ": the image is ", h, "x", w, ", the model takes ", in[1], "x", in[2],
                " (use --resize)");
    img = data::transforms::functional::resize(img, in[1], in[2]);
  }
  return img.to(DType::Float32) / 255.0;
}

// Rows of a CSV file as the model takes them; a "label" column, if any, is left out.
std::vector<Tensor> csv_inputs(const std::string& path, const keras::Shape& in) {
  RAVEL_CHECK(in.size() == 1, path, ": the model takes inputs of shape ", shape_str(in),
              ", not CSV rows");
  data::CsvTable t;
  try {
    t = data::read_csv(path, {.label_column = "label"});
  } catch (const Error&) {
    t = data::read_csv(path);  // no "label" column
  }
  RAVEL_CHECK(t.features.shape()[1] == in[0], path, " has ", t.features.shape()[1],
              " feature columns, the model takes ", in[0]);
  std::vector<Tensor> rows;
  for (int64_t i = 0; i < t.features.shape()[0]; ++i) rows.push_back(t.features.index({i}));
  return rows;
}

int run_predict(const PredictArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  auto model = load_model_file(a.model);
  const keras::Shape in = model->input_shapes().at(0);
  const std::vector<std::string> names = read_labels(a.model);

  std::vector<std::string> labels;  // one per input row: "cat.png", "table.csv:3"
  std::vector<Tensor> rows;
  for (const std::string& path : a.inputs) {
    if (is_csv(path)) {
      RAVEL_CHECK(std::filesystem::is_regular_file(path), "no such file: ", path);
      auto r = csv_inputs(path, in);
      for (size_t i = 0; i < r.size(); ++i) labels.push_back(path + ":" + std::to_string(i + 1));
      rows.insert(rows.end(), r.begin(), r.end());
    } else {
      labels.push_back(path);
      rows.push_back(image_input(path, in, a.resize));
    }
  }
  RAVEL_CHECK(!rows.empty(), "no inputs to predict (the CSV files are empty)");
  Tensor probs = to_probabilities(*model, model->predict(stack(rows), a.batch_size));
  const int64_t k = std::min(a.top, probs.shape()[1]);
  auto [p, idx] = topk(probs, k, 1);

  nlohmann::json out = nlohmann::json::array();
  if (!a.json) std::printf("%-30s %-20s %s\n", "file", "class", "probability");
  for (size_t i = 0; i < labels.size(); ++i) {
    nlohmann::json preds = nlohmann::json::array();
    for (int64_t j = 0; j < k; ++j) {
      const int64_t c = idx.index({static_cast<int64_t>(i), j}).item<int64_t>();
      const double prob = p.index({static_cast<int64_t>(i), j}).item<float>();
      if (a.json)
        preds.push_back({{"class", c}, {"label", class_name(names, c)}, {"probability", prob}});
      else
        std::printf("%-30s %-20s %.4f\n", labels[i].c_str(), class_name(names, c).c_str(), prob);
    }
    if (a.json) out.push_back({{"file", labels[i]}, {"predictions", preds}});
  }
  if (a.json) std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace

void add_predict(CLI::App& app, int* status) {
  auto a = std::make_shared<PredictArgs>();
  CLI::App* sub = app.add_subcommand("predict", "classify images or CSV rows with a saved model");
  sub->add_option("model", a->model, "a model file (model.ravel from `ravel train`)")->required();
  sub->add_option("inputs", a->inputs, "PNG/JPEG images, or CSV files of feature rows")->required();
  sub->add_option("--top", a->top, "the K most likely classes")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000}));
  sub->add_flag("--json", a->json, "JSON instead of a table");
  sub->add_flag("--resize", a->resize, "resize images to the model's input size");
  sub->add_option("--batch-size", a->batch_size)
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 16));
  sub->add_option("--threads", a->threads, "compute threads (default: all cores)")
      ->check(positive());
  sub->callback([a, status] { *status = run_predict(*a); });
}

}  // namespace ravel::cli
