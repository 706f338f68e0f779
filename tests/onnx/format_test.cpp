// The ONNX file format itself: Graph <-> bytes round trips (every dtype and attribute kind),
// opset 11-12 forms converted to opset 13's, files from older exporters, and malformed or
// hostile files (each a ravel::Error naming the file and the problem, never a crash).
// Hand-made files are written with the protobuf classes, as a hostile writer would.
#define ONNX_ML 1
#define ONNX_NAMESPACE onnx
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "ravel/onnx.h"
#include "ravel/ravel.h"
#include "support/expect_error.h"
#include "support/mutate.h"
#include "support/numpy_oracle.h"
#include "support/temp_dir.h"

namespace ravel {
namespace {

namespace fs = std::filesystem;
namespace pb = ::onnx;
using testing::expect_error;
using testing::matches;

// input [batch, 4] -> Gemm(W [3, 4], B [3], transB) -> Relu -> output [batch, 3]
graph::Graph small_graph() {
  graph::Graph g;
  g.name = "small";
  g.inputs = {{"input", DType::Float32, {-1, 4}}};
  g.outputs = {{"output", DType::Float32, {-1, 3}}};
  g.initializers = {{"fc.weight", arange(12, DType::Float32).reshape({3, 4}) / 10.0f},
                    {"fc.bias", tensor({0.5f, -0.5f, 0.0f})}};
  g.nodes = {{"Gemm", "fc", {"input", "fc.weight", "fc.bias"}, {"h"}, {{"transB", int64_t{1}}}},
             {"Relu", "relu", {"h"}, {"output"}, {}}};
  return g;
}

pb::ModelProto parse(const std::string& bytes) {
  pb::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(bytes));
  return m;
}
std::string serialize(const pb::ModelProto& m) { return m.SerializeAsString(); }
graph::Graph load_proto(const pb::ModelProto& m) {
  const std::string b = serialize(m);
  return onnx::from_bytes(b.data(), b.size(), "test.onnx");
}

Tensor sample(const Shape& shape, DType dtype) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  Tensor t = (arange(n, DType::Float64) * 0.75 - 3.0).reshape(shape);
  return dtype == DType::Bool ? (t > 0.0) : t.to(dtype);
}

// ---------------------------------------------------------------- round trips
TEST(OnnxFormat, RoundTripKeepsEveryDtypeAndAttributeKind) {
  graph::Graph g = small_graph();
  g.opset = 17;
  const DType dtypes[] = {DType::Bool,    DType::UInt8,  DType::Int8,    DType::Int16,
                          DType::Int32,   DType::Int64,  DType::Float16, DType::BFloat16,
                          DType::Float32, DType::Float64};
  for (DType t : dtypes)
    g.initializers.push_back({std::string("w_") + dtype_name(t), sample({2, 3}, t)});
  g.initializers.push_back({"scalar", sample({}, DType::Float32)});
  g.initializers.push_back({"empty", zeros({0, 5})});
  g.initializers.push_back({"strided", sample({4, 6}, DType::Float32).transpose(0, 1)});
  g.nodes[1].attrs = {{"i", int64_t{-7}},
                      {"f", 0.25f},
                      {"s", std::string("SAME_UPPER")},
                      {"ints", std::vector<int64_t>{1, -2, 3}},
                      {"floats", std::vector<float>{0.5f, -1.5f}},
                      {"t", sample({2, 2}, DType::Int64)}};
  const std::string bytes = onnx::to_bytes(g);
  const graph::Graph back = onnx::from_bytes(bytes.data(), bytes.size());

  EXPECT_EQ(back.name, "small");
  EXPECT_EQ(back.opset, 17);
  ASSERT_EQ(back.inputs.size(), 1u);
  EXPECT_EQ(back.inputs[0].name, "input");
  EXPECT_EQ(back.inputs[0].shape, (std::vector<int64_t>{-1, 4}));
  EXPECT_EQ(back.outputs[0].shape, (std::vector<int64_t>{-1, 3}));
  ASSERT_EQ(back.initializers.size(), g.initializers.size());
  for (size_t i = 0; i < g.initializers.size(); ++i) {
    EXPECT_EQ(back.initializers[i].name, g.initializers[i].name);
    EXPECT_TRUE(matches(back.initializers[i].value, g.initializers[i].value, 0, 0))
        << g.initializers[i].name;
  }
  ASSERT_EQ(back.nodes.size(), 2u);
  EXPECT_EQ(back.nodes[0].op, "Gemm");
  EXPECT_EQ(back.nodes[0].name, "fc");
  EXPECT_EQ(back.nodes[0].inputs, g.nodes[0].inputs);
  EXPECT_EQ(back.nodes[0].attr_int("transB", 0), 1);
  const graph::Node& n = back.nodes[1];
  EXPECT_EQ(n.attr_int("i", 0), -7);
  EXPECT_EQ(n.attr_float("f", 0), 0.25f);
  EXPECT_EQ(n.attr_string("s", ""), "SAME_UPPER");
  EXPECT_EQ(n.attr_ints("ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(std::get<std::vector<float>>(n.attrs.at("floats")), (std::vector<float>{0.5f, -1.5f}));
  EXPECT_TRUE(matches(n.attr_tensor("t"), sample({2, 2}, DType::Int64)));

  // What ONNX itself expects of the header fields.
  const pb::ModelProto m = parse(bytes);
  EXPECT_EQ(m.ir_version(), 8);
  EXPECT_EQ(m.producer_name(), "ravel");
  ASSERT_EQ(m.opset_import_size(), 1);
  EXPECT_EQ(m.opset_import(0).domain(), "");
  EXPECT_EQ(m.graph().input(0).type().tensor_type().shape().dim(0).dim_param(), "batch");
  EXPECT_EQ(m.graph().output(0).type().tensor_type().shape().dim(0).dim_param(), "batch");
  EXPECT_TRUE(m.graph().initializer(0).has_raw_data());
}

class OnnxFiles : public testing::TempDirTest {};

TEST_F(OnnxFiles, SaveIsAtomicAndLoadNamesTheFile) {
  const std::string p = path("m.onnx");
  onnx::save(small_graph(), p);
  EXPECT_EQ(onnx::load(p).nodes.size(), 2u);
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename(), "m.onnx") << "no temporary file left";
  std::ofstream(path("junk.onnx")) << "this is not a model";
  expect_error([&] { onnx::load(path("junk.onnx")); }, {"junk.onnx", "not an ONNX model"});
  expect_error([&] { onnx::load(path("missing.onnx")); }, {"onnx load", "missing.onnx"});
  auto m = onnx::import_model(p);
  Tensor x = tensor({{1.0f, 2.0f, 3.0f, 4.0f}});
  const auto& w = small_graph().initializers;
  EXPECT_TRUE(
      matches((*m)(x), nn::functional::relu(matmul(x, w[0].value.transpose(0, 1)) + w[1].value)));
}

// ---------------------------------------------------------------- what other writers produce
TEST(OnnxFormat, TypedDataFieldsAndOldExporterInputs) {
  pb::ModelProto m = parse(onnx::to_bytes(small_graph()));
  auto* g = m.mutable_graph();
  // Weights in float_data instead of raw_data, and listed among the inputs (IR version < 4).
  pb::TensorProto* w = g->mutable_initializer(0);
  const std::string raw = w->raw_data();
  w->clear_raw_data();
  for (size_t i = 0; i < raw.size(); i += 4) {
    float f;
    std::memcpy(&f, raw.data() + i, 4);
    w->add_float_data(f);
  }
  auto* extra = g->add_input();
  extra->set_name("fc.weight");
  extra->mutable_type()->mutable_tensor_type()->set_elem_type(pb::TensorProto::FLOAT);
  // Typed fields of the other kinds.
  auto add = [&](const char* name, int type) {
    pb::TensorProto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(type);
    t->add_dims(2);
    return t;
  };
  auto* h = add("h16", pb::TensorProto::FLOAT16);
  h->add_int32_data(0x3c00);  // 1.0
  h->add_int32_data(0xc000);  // -2.0
  auto* l = add("i64", pb::TensorProto::INT64);
  l->add_int64_data(-5);
  l->add_int64_data(int64_t{1} << 40);
  auto* b = add("b", pb::TensorProto::BOOL);
  b->add_int32_data(0);
  b->add_int32_data(7);
  auto* d = add("f64", pb::TensorProto::DOUBLE);
  d->add_double_data(0.1);
  d->add_double_data(-2.5);
  auto* bf = add("bf16", pb::TensorProto::BFLOAT16);
  bf->add_int32_data(0x3f80);  // 1.0
  bf->add_int32_data(0x4040);  // 3.0

  const graph::Graph back = load_proto(m);
  ASSERT_EQ(back.inputs.size(), 1u) << "an initializer listed as input is not an input";
  EXPECT_TRUE(
      matches(back.find_initializer("fc.weight")->value, small_graph().initializers[0].value));
  EXPECT_TRUE(
      matches(back.find_initializer("h16")->value, tensor({1.0f, -2.0f}).to(DType::Float16)));
  EXPECT_TRUE(matches(back.find_initializer("i64")->value,
                      from_vector(std::vector<int64_t>{-5, int64_t{1} << 40})));
  EXPECT_TRUE(
      matches(back.find_initializer("b")->value, from_vector(std::vector<bool>{false, true})));
  EXPECT_TRUE(
      matches(back.find_initializer("f64")->value, from_vector(std::vector<double>{0.1, -2.5})));
  EXPECT_TRUE(
      matches(back.find_initializer("bf16")->value, tensor({1.0f, 3.0f}).to(DType::BFloat16)));
}

TEST(OnnxFormat, MissingNamesAndShapelessOutputsAreFilledIn) {
  pb::ModelProto m = parse(onnx::to_bytes(small_graph()));
  auto* g = m.mutable_graph();
  g->mutable_node(0)->clear_name();
  g->mutable_node(1)->set_name("Gemm_0");  // collides with the generated name
  g->mutable_output(0)->mutable_type()->mutable_tensor_type()->clear_shape();
  const graph::Graph back = load_proto(m);
  EXPECT_NE(back.nodes[0].name, back.nodes[1].name);
  EXPECT_FALSE(back.nodes[0].name.empty());
  EXPECT_EQ(back.outputs[0].shape, (std::vector<int64_t>{-1, 3}));
}

// Opset 11's Softmax/LogSoftmax normalise over everything from `axis` on (default 1); the file
// is converted to opset 13 operators with the same results (NumPy computes the old semantics).
TEST(OnnxFormat, Opset11SoftmaxKeepsItsMeaning) {
  struct Case {
    const char* op;
    std::optional<int64_t> axis;
    const char* expr;  // the old semantics in NumPy, a: [2, 3, 4] (then reshaped back)
  };
  const Case cases[] = {
      {"Softmax", 1, "(lambda e: e / e.sum(1, keepdims=True))(np.exp(a.reshape(2, 12)))"},
      {"LogSoftmax", std::nullopt,
       "(lambda z: z - np.log(np.exp(z).sum(1, keepdims=True)))(a.reshape(2, 12))"},
      {"Softmax", -1, "(lambda e: e / e.sum(2, keepdims=True))(np.exp(a))"},
      {"Softmax", 0, "(lambda e: e / e.sum(1, keepdims=True))(np.exp(a.reshape(1, 24)))"},
  };
  Tensor x = randn({2, 3, 4});
  testing::NumpyOracle np;
  std::vector<int> h;
  for (const auto& c : cases) h.push_back(np.add(std::string(c.expr) + ".reshape(a.shape)", {x}));
  np.run();
  for (size_t i = 0; i < std::size(cases); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.op);
    graph::Graph g;
    g.inputs = {{"x", DType::Float32, {-1, 3, 4}}};
    g.outputs = {{"y", DType::Float32, {-1, 3, 4}}};
    g.nodes = {{c.op, "sm", {"x"}, {"y"}, {}}};
    if (c.axis) g.nodes[0].attrs["axis"] = *c.axis;
    pb::ModelProto m = parse(onnx::to_bytes(g));
    m.mutable_opset_import(0)->set_version(11);
    graph::Graph back = load_proto(m);
    EXPECT_EQ(back.opset, 13);
    graph::GraphModule gm(back);
    ASSERT_EQ(np.error(h[i]), "");
    EXPECT_TRUE(matches(gm(x), np.result(h[i]), 1e-5, 1e-6));
  }
}

TEST(OnnxFormat, ConstantShorthandsBecomeTensors) {
  graph::Graph g;
  g.inputs = {{"x", DType::Float32, {-1, 2, 3}}};
  g.outputs = {{"y", DType::Float32, {-1, 6}}};
  g.nodes = {{"Constant", "shape", {}, {"s"}, {{"value", tensor({0, -1}, DType::Int64)}}},
             {"Reshape", "flat", {"x", "s"}, {"y"}, {}}};
  pb::ModelProto m = parse(onnx::to_bytes(g));
  auto* a = m.mutable_graph()->mutable_node(0)->mutable_attribute(0);
  a->Clear();
  a->set_name("value_ints");
  a->set_type(pb::AttributeProto::INTS);
  a->add_ints(0);
  a->add_ints(-1);
  graph::Graph back = load_proto(m);
  EXPECT_TRUE(matches(back.nodes[0].attr_tensor("value"), tensor({0, -1}, DType::Int64)));
  graph::GraphModule gm(back);
  EXPECT_EQ(gm(zeros({5, 2, 3})).shape(), (Shape{5, 6}));
}

// ---------------------------------------------------------------- malformed files
TEST(OnnxFormat, MalformedFilesNameTheProblem) {
  const pb::ModelProto valid = parse(onnx::to_bytes(small_graph()));
  auto fails = [&](const std::function<void(pb::ModelProto&)>& edit,
                   const std::vector<std::string>& fragments) {
    pb::ModelProto m = valid;
    edit(m);
    std::vector<std::string> f = fragments;
    f.push_back("onnx: test.onnx: ");
    expect_error([&] { load_proto(m); }, f);
  };
  auto init = [](pb::ModelProto& m) { return m.mutable_graph()->mutable_initializer(0); };
  auto node = [](pb::ModelProto& m) { return m.mutable_graph()->mutable_node(1); };

  fails([&](auto& m) { node(m)->set_op_type("Einsum"); }, {"relu", "Einsum"});
  fails([&](auto& m) { node(m)->set_domain("com.microsoft"); }, {"relu", "com.microsoft"});
  fails([&](auto& m) { m.mutable_opset_import(0)->set_version(9); }, {"opset 9", "11 to 18"});
  fails([&](auto& m) { m.mutable_opset_import(0)->set_domain("ai.onnx.ml"); },
        {"no opset for the default ONNX domain"});
  fails([&](auto& m) { m.set_ir_version(1); }, {"IR version 1"});
  fails([&](auto& m) { m.clear_graph(); }, {"no graph"});
  fails([&](auto& m) { m.mutable_graph()->clear_output(); }, {"no outputs"});
  fails([&](auto& m) { node(m)->set_input(0, "nowhere"); }, {"relu", "nowhere"});
  // Absurd sizes are refused before anything is allocated.
  fails([&](auto& m) { init(m)->set_dims(0, int64_t{1} << 40); }, {"fc.weight", "elements"});
  fails([&](auto& m) { init(m)->set_dims(0, -3); }, {"fc.weight", "dimension -3"});
  fails(
      [&](auto& m) {
        auto* shape = m.mutable_graph()
                          ->mutable_input(0)
                          ->mutable_type()
                          ->mutable_tensor_type()
                          ->mutable_shape();
        shape->mutable_dim(1)->set_dim_value(int64_t{1} << 30);
        shape->add_dim()->set_dim_value(int64_t{1} << 30);
      },
      {"input 'input'", "elements"});
  fails([&](auto& m) { init(m)->set_dims(0, int64_t{1} << 62); }, {"fc.weight", "dimension"});
  fails([&](auto& m) { init(m)->set_dims(0, 4); },
        {"fc.weight", "raw_data holds 48 bytes", "need 64"});
  fails(
      [&](auto& m) {
        init(m)->clear_raw_data();
        init(m)->add_float_data(1.0f);
      },
      {"fc.weight", "float_data holds 1 values", "need 12"});
  fails([&](auto& m) { init(m)->clear_raw_data(); }, {"fc.weight", "no raw_data"});
  fails([&](auto& m) { init(m)->set_data_type(pb::TensorProto::UINT16); }, {"fc.weight", "UINT16"});
  fails([&](auto& m) { init(m)->set_data_type(pb::TensorProto::STRING); }, {"fc.weight", "STRING"});
  fails([&](auto& m) { init(m)->set_data_type(99); }, {"fc.weight", "99"});
  fails(
      [&](auto& m) {
        init(m)->clear_raw_data();
        init(m)->set_data_location(pb::TensorProto::EXTERNAL);
        auto* kv = init(m)->add_external_data();
        kv->set_key("location");
        kv->set_value("weights.bin");
      },
      {"fc.weight", "external_data is not supported", "weights.bin"});
  fails([&](auto& m) { *m.mutable_graph()->add_initializer() = *init(m); }, {"fc.weight", "twice"});
  fails([&](auto& m) { m.mutable_graph()->mutable_input(0)->mutable_type()->clear_tensor_type(); },
        {"input 'input'", "not a tensor"});
  fails(
      [&](auto& m) {
        m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->clear_shape();
      },
      {"input 'input'", "no shape"});
  fails(
      [&](auto& m) {
        auto* a = node(m)->add_attribute();
        a->set_name("body");
        a->set_type(pb::AttributeProto::GRAPH);
      },
      {"relu", "'body'", "GRAPH"});
  fails(
      [&](auto& m) {
        auto* a = node(m)->add_attribute();
        a->set_name("names");
        a->set_type(pb::AttributeProto::STRINGS);
      },
      {"relu", "'names'", "STRINGS"});
  fails(
      [&](auto& m) {
        auto* a = node(m)->add_attribute();
        a->set_name("x");
        a->set_i(1);
        *node(m)->add_attribute() = *a;
      },
      {"relu", "'x'", "twice"});
  fails(
      [&](auto& m) {  // the opset < 11 form in an opset 11 file
        node(m)->set_op_type("Clip");
        auto* a = node(m)->add_attribute();
        a->set_name("min");
        a->set_f(0.0f);
      },
      {"relu", "Clip", "'min'", "opset < 11"});
}

TEST(OnnxFormat, NotOnnxAtAll) {
  const std::string inputs[] = {"", "hello world, not a model", std::string("\x89PNG\r\n\x1a\n", 8),
                                std::string("\x93NUMPY\x01\x00", 8), std::string(100, '\xff')};
  for (const auto& s : inputs)
    expect_error([&] { onnx::from_bytes(s.data(), s.size(), "x.onnx"); }, "onnx: x.onnx: ");
  const char tiny = 0;  // the size is refused before the bytes are read
  expect_error([&] { onnx::from_bytes(&tiny, size_t{3} << 30, "big.onnx"); },
               {"big.onnx", "at most 2 GiB"});
}

// Every truncation and a few hundred mutations (tests/support/mutate.h) of a small valid file
// load or throw ravel::Error; what loads is also built into a GraphModule (as the fuzzer does).
TEST(OnnxFuzz, TruncationsAndMutationsLoadOrThrow) {
  graph::Graph g = small_graph();
  g.nodes.insert(g.nodes.begin() + 1, graph::Node{"Clip", "clip", {"h", "lo", ""}, {"hc"}, {}});
  g.nodes.back().inputs = {"hc"};
  g.initializers.push_back({"lo", scalar_tensor(-1.0f)});
  const std::string valid = onnx::to_bytes(g);
  for (size_t n = 0; n < valid.size(); ++n)
    EXPECT_THROW(onnx::from_bytes(valid.data(), n), Error) << "prefix of " << n << " bytes";
  std::mt19937 gen(1234);
  int loaded = 0;
  for (int m = 0; m < 600; ++m) {
    const std::string s = testing::mutate(valid, m, gen, {.field_start = 0, .field_span = 64});
    try {
      graph::GraphModule gm(onnx::from_bytes(s.data(), s.size()));
      ++loaded;
    } catch (const Error&) {
    }
  }
  EXPECT_GT(loaded, 10);
}

// The fuzz corpus (tests/fuzz/corpus/onnx): seeds (*.onnx) load and build a GraphModule,
// hostile seeds (bad-*) throw, past crashers (crash-*) do either.
TEST(OnnxFuzz, CorpusLoadsOrThrows) {
  const fs::path dir = fs::path(RAVEL_TEST_DIR) / "fuzz" / "corpus" / "onnx";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  int seeds = 0, bad = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    SCOPED_TRACE(name);
    if (name.rfind("bad-", 0) == 0) {
      ++bad;
      EXPECT_THROW(onnx::import_model(e.path().string()), Error);
    } else if (e.path().extension() == ".onnx") {
      ++seeds;
      EXPECT_NO_THROW({
        auto m = onnx::import_model(e.path().string());
        std::vector<int64_t> shape = m->graph().inputs.at(0).shape;
        for (auto& d : shape)
          if (d < 0) d = 2;
        (*m)(randn(Shape(shape.begin(), shape.end())));
      });
    } else {
      try {
        onnx::import_model(e.path().string());
      } catch (const Error&) {
      }
    }
  }
  EXPECT_GE(seeds, 4);
  EXPECT_GE(bad, 4);
}

}  // namespace
}  // namespace ravel
