// A trained model out to ONNX and back, and frozen for fast inference, on the Fashion-MNIST test
// set:
//   onnx_interop MODEL.ravel [OUT_DIR]        what `ravel train` writes (e.g. ./demo.sh)
//   onnx_interop MODEL.safetensors [OUT_DIR]  a ResNet-20 from examples/fashion_mnist
// prints the test accuracy of the model as trained (eager), of the ONNX file imported back into
// ravel, of the frozen float32 and bfloat16 paths, their top-1 agreement with eager float32,
// and the time per 500-image batch of each. Writes OUT_DIR/model.onnx (default: the model's
// folder), OUT_DIR/test_images.npy and the eager logits OUT_DIR/ravel_logits.npy, so ONNX Runtime
// can be run on the same data and compared:
//   node scripts/ort.js predict OUT_DIR/model.onnx OUT_DIR/test_images.npy OUT_DIR/ort.npy
#include <ravel/ravel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>

using namespace ravel;

namespace {

struct Result {
  Tensor logits;
  double seconds_per_batch;
};

// Runs `fn` over the images in batches of 500; the median batch time.
Result over_batches(const Tensor& images, const std::function<Tensor(const Tensor&)>& fn) {
  std::vector<Tensor> parts;
  std::vector<double> times;
  for (int64_t i = 0; i < images.shape()[0]; i += 500) {
    auto t0 = std::chrono::steady_clock::now();
    parts.push_back(fn(images.slice(0, i, i + 500)));
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return {concatenate(parts, 0), times[times.size() / 2]};
}

double agreement(const Tensor& a, const Tensor& b) {
  return mean((argmax(a, 1) == argmax(b, 1)).to(DType::Float64)).item<double>();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: onnx_interop MODEL.ravel [OUT_DIR]\n");
    return 2;
  }
  try {
    const std::filesystem::path model_path = argv[1];
    const std::filesystem::path out =
        argc > 2 ? std::filesystem::path(argv[2]) : model_path.parent_path();
    std::filesystem::create_directories(out);
    auto test = data::load_fashion_mnist(data::Split::Test);
    // `ravel train`'s models take float32 pixels in [0, 1] and normalise them themselves;
    // examples/fashion_mnist's ResNet-20 takes pixels normalised by the training set's mean/std.
    std::shared_ptr<nn::Module> model;
    Tensor images = test.images.to(DType::Float32) / 255.0f;
    if (model_path.extension() == ".safetensors") {
      model = models::resnet20({.num_classes = 10, .in_channels = 1});
      load(*model, model_path.string());
      images = (images - 0.2860f) / 0.3530f;
    } else {
      model = keras::load_model(model_path.string());
    }
    images = images.contiguous();
    model->eval();
    auto accuracy = [&](const Tensor& logits) {
      return mean((argmax(logits, 1) == test.labels).to(DType::Float64)).item<double>();
    };

    NoGradGuard no_grad;
    Result eager = over_batches(images, [&](const Tensor& x) { return (*model)(x); });
    const std::string onnx_file = (out / "model.onnx").string();
    onnx::export_model(*model, {images.slice(0, 0, 2)}, onnx_file);
    save_npy((out / "test_images.npy").string(), images);
    save_npy((out / "ravel_logits.npy").string(), eager.logits);
    auto imported = onnx::import_model(onnx_file);
    imported->eval();
    Result back = over_batches(images, [&](const Tensor& x) { return (*imported)(x); });
    auto fp32 = infer::freeze(*model, images.slice(0, 0, 500));
    auto bf16 = infer::freeze(*model, images.slice(0, 0, 500), {.dtype = DType::BFloat16});
    Result f32 = over_batches(images, [&](const Tensor& x) { return fp32->run(x); });
    Result b16 = over_batches(images, [&](const Tensor& x) { return bf16->run(x); });

    std::printf("%-24s %9s %18s %14s\n", "path", "accuracy", "agrees with eager", "ms / 500 img");
    auto row = [&](const char* name, const Result& r) {
      std::printf("%-24s %9.4f %18.4f %14.1f\n", name, accuracy(r.logits),
                  agreement(r.logits, eager.logits), r.seconds_per_batch * 1e3);
    };
    row("eager float32", eager);
    row("ONNX imported back", back);
    row("frozen float32", f32);
    row("frozen bfloat16", b16);
    std::printf("wrote %s and %s\n", onnx_file.c_str(), (out / "test_images.npy").c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "onnx_interop: %s\n", e.what());
    return 1;
  }
  return 0;
}
