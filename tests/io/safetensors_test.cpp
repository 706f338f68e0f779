// safetensors: round trips, a Python reader and writer written from the format's spec (struct +
// json + numpy, torch for bfloat16 -- no safetensors package here) exchanging files with ravel,
// one error test per class of hostile header, the fuzz corpus, and a deterministic mutation
// fuzz of a valid file.
#include "ravel/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "ravel/checkpoint.h"
#include "ravel/nn/activation.h"
#include "ravel/nn/container.h"
#include "ravel/nn/conv.h"
#include "ravel/nn/linear.h"
#include "ravel/nn/norm.h"
#include "ravel/ops.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"
#include "support/temp_dir.h"

namespace ravel {
namespace {

namespace fs = std::filesystem;
using testing::all_dtypes;
using testing::expect_error;
using testing::matches;
using testing::TorchOracle;
using namespace std::string_literals;

class SafetensorsTest : public testing::TempDirTest {};

std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Deterministic values in every dtype (negatives and fractions where the dtype has them).
Tensor sample(const Shape& shape, DType dt, unsigned seed = 1) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> dist(0.0, 20.0);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (auto& x : v) x = dist(gen);
  return from_vector(v, shape).to(dt);
}

// Same names, dtypes, shapes and bytes.
::testing::AssertionResult same_tensors(const NamedTensors& a, const NamedTensors& b) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << a.size() << " vs " << b.size() << " tensors";
  for (size_t i = 0; i < a.size(); ++i) {
    const Tensor x = a[i].second.contiguous(), y = b[i].second.contiguous();
    if (a[i].first != b[i].first || x.dtype() != y.dtype() || x.shape() != y.shape() ||
        std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) != 0)
      return ::testing::AssertionFailure()
             << "tensor " << i << " ('" << a[i].first << "' vs '" << b[i].first << "') differs";
  }
  return ::testing::AssertionSuccess();
}

// A Python literal for a UTF-8 string, in ASCII (the script file's encoding is not ours to pick).
std::string py_str(const std::string& s) {
  std::string out = "b'";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + "'.decode('utf-8')";
}

// A file from a header text and a data section (the length prefix is computed).
std::string with_header(const std::string& json, const std::string& data = "") {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
  return out + json + data;
}

SafetensorsFile parse(const std::string& bytes) {
  return safetensors_from_bytes(bytes.data(), bytes.size(), "test");
}

TEST_F(SafetensorsTest, RoundTripEveryDtypeAndLayout) {
  NamedTensors tensors;
  for (DType dt : all_dtypes()) {
    const std::string n = dtype_name(dt);
    tensors.emplace_back(n + ".2d", sample({3, 4}, dt));
    tensors.emplace_back(n + ".transposed", sample({2, 5}, dt, 2).transpose());
    tensors.emplace_back(n + ".0d", sample({}, dt, 3));
    tensors.emplace_back(n + ".empty", sample({0, 3}, dt));
  }
  const std::map<std::string, std::string> meta = {{"framework", "ravel"},
                                                   {"quote\"\\", "line\nbreak \xc3\xa9"}};
  std::string bytes = to_safetensors_bytes(tensors, meta);
  // The layout the reference writer uses: the data section starts 8-byte aligned.
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  SafetensorsFile f = parse(bytes);
  EXPECT_TRUE(same_tensors(f.tensors, tensors));
  EXPECT_EQ(f.metadata, meta);

  save_safetensors(path("a.safetensors"), tensors, meta);
  EXPECT_EQ(read_file(path("a.safetensors")), bytes);
  SafetensorsFile g = load_safetensors(path("a.safetensors"));
  EXPECT_TRUE(same_tensors(g.tensors, tensors));
  EXPECT_EQ(g.metadata, meta);
  EXPECT_TRUE(g.contains("float32.2d"));
  EXPECT_FALSE(g.contains("nope"));
  EXPECT_TRUE(array_equal(g.get("int64.0d"), tensors[4 * 5 + 2].second));  // all_dtypes()[5]

  // Nothing at all, and metadata alone.
  EXPECT_TRUE(parse(to_safetensors_bytes({})).tensors.empty());
  EXPECT_EQ(parse(to_safetensors_bytes({}, {{"a", "b"}})).metadata.at("a"), "b");
}

// The format lets the header list tensors in any order (offsets place them), pad with spaces,
// and carry fields a reader does not know; any nonzero byte of a BOOL is true.
TEST_F(SafetensorsTest, ReadsWhatTheSpecAllows) {
  std::string data = std::string("\x01\x00\x00\x00\x02\x00\x00\x00\x05\x00", 10);
  SafetensorsFile f = parse(with_header(
      R"({"b": {"data_offsets": [8, 10], "shape": [2], "dtype": "BOOL", "future": [{"x": 1}]},
          "a": {"dtype": "I32", "shape": [2], "data_offsets": [0, 8]},
          "z": {"dtype": "F32", "shape": [0, 5], "data_offsets": [8, 8]}}      )",
      data));
  ASSERT_EQ(f.tensors.size(), 3u);
  EXPECT_EQ(f.tensors[0].first, "a");  // data order
  EXPECT_EQ(f.tensors[1].first, "z");
  EXPECT_EQ(f.tensors[1].second.shape(), (Shape{0, 5}));
  EXPECT_EQ(f.tensors[0].second.to_vector<int32_t>(), (std::vector<int32_t>{1, 2}));
  Tensor b = f.get("b");
  EXPECT_EQ(b.dtype(), DType::Bool);
  EXPECT_EQ(b.to(DType::UInt8).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0}));
}

// ravel writes, a reader written from the spec in Python reads; a Python writer (including a
// torch state_dict) writes, ravel reads -- and the state_dict drives a ravel model to torch's
// output.
TEST_F(SafetensorsTest, InteropWithPythonReaderAndWriter) {
  const std::vector<std::pair<std::string, DType>> kinds = {
      {"f32", DType::Float32},   {"f64", DType::Float64}, {"i64", DType::Int64},
      {"u8", DType::UInt8},      {"bool", DType::Bool},   {"f16", DType::Float16},
      {"bf16", DType::BFloat16}, {"i8", DType::Int8},     {"i32", DType::Int32},
      {"i16", DType::Int16}};
  NamedTensors ours;
  unsigned seed = 10;
  for (const auto& [name, dt] : kinds) ours.emplace_back("t." + name, sample({2, 3}, dt, seed++));
  ours.emplace_back("scalar \xc3\xa9", sample({}, DType::Float32, seed++));
  ours.emplace_back("strided", sample({4, 3}, DType::Float64, seed++).transpose());
  const std::map<std::string, std::string> meta = {{"framework", "ravel"},
                                                   {"note", "a \"quoted\" \\ \xe4\xb8\xad"}};
  const std::string ours_path = path("ours.safetensors");
  save_safetensors(ours_path, ours, meta);
  std::string names;
  for (const auto& [n, t] : ours) names += (names.empty() ? "" : ", ") + py_str(n);

  TorchOracle torch;
  const int reader = torch.add_script(R"(
import json, struct
raw = open(')" + ours_path + R"(', 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
assert (8 + n) % 8 == 0, 'data section not 8-byte aligned'
header = json.loads(raw[8:8 + n].decode('utf-8'))
meta = header.pop('__metadata__')
data = raw[8 + n:]
spans = sorted(tuple(v['data_offsets']) for v in header.values())
assert spans[0][0] == 0 and spans[-1][1] == len(data), 'data not covered'
assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])), 'gaps or overlaps'
NP = {'F32': np.float32, 'F64': np.float64, 'I64': np.int64, 'I32': np.int32, 'I16': np.int16,
      'I8': np.int8, 'U8': np.uint8, 'BOOL': np.bool_, 'F16': np.float16}
arrays, dtypes = [], []
for name in [)" + names + R"(]:
    info = header[name]
    b, e = info['data_offsets']
    if info['dtype'] == 'BF16':
        x = torch.frombuffer(bytearray(data[b:e]), dtype=torch.bfloat16).reshape(info['shape'])
    else:
        x = np.frombuffer(data[b:e], dtype=NP[info['dtype']]).reshape(info['shape'])
    arrays.append(x)
    dtypes.append(info['dtype'])
text = ','.join(dtypes) + '|' + ';'.join(k + '=' + meta[k] for k in sorted(meta))
out = arrays + [np.frombuffer(text.encode('utf-8'), np.uint8)])",
                                      {});

  const std::string pt_model = path("torch_model.safetensors");
  const std::string pt_mixed = path("torch_mixed.safetensors");
  const int writer = torch.add_script(R"(
import json, struct
DT = {torch.float32: 'F32', torch.float64: 'F64', torch.float16: 'F16', torch.bfloat16: 'BF16',
      torch.int64: 'I64', torch.int32: 'I32', torch.int16: 'I16', torch.int8: 'I8',
      torch.uint8: 'U8', torch.bool: 'BOOL'}
def write(path, tensors, metadata):
    header, blobs, off = {}, [], 0
    for name, t in tensors:
        t = t.detach().contiguous()
        b = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {'dtype': DT[t.dtype], 'shape': list(t.shape),
                        'data_offsets': [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    # header entries in the reverse of data order: a reader must place tensors by their offsets
    header = {k: header[k] for k in reversed(list(header))}
    header['__metadata__'] = metadata
    text = json.dumps(header).encode('utf-8')
    text += b' ' * ((8 - len(text) % 8) % 8)
    open(path, 'wb').write(struct.pack('<Q', len(text)) + text + b''.join(blobs))
torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                      nn.Linear(3 * 4 * 4, 5))
model.train()
model(torch.randn(4, 2, 6, 6))  # moves the running statistics
model.eval()
x = torch.randn(2, 2, 6, 6)
sd = list(model.state_dict().items())
write(')" + pt_model + R"(', sd, {'format': 'pt'})
mixed = [('f32', torch.randn(2, 3)), ('bf16', torch.randn(5).to(torch.bfloat16)),
         ('f16', torch.randn(3).half()), ('f64', torch.randn(2, 2, dtype=torch.float64)),
         ('i64', torch.arange(-3, 3)), ('i32', torch.arange(-2, 2, dtype=torch.int32)),
         ('i16', torch.tensor([-300, 7], dtype=torch.int16)),
         ('i8', torch.tensor([-128, 127], dtype=torch.int8)),
         ('u8', torch.tensor([0, 255], dtype=torch.uint8)), ('bool', torch.tensor([True, False])),
         ('scalar', torch.tensor(3.5))]
write(')" + pt_mixed + R"(', mixed, {'k': 'v', 'empty': ''})
out = [x, model(x)] + [t for _, t in sd] + [t for _, t in mixed])",
                                      {});
  torch.run();

  // Python read ravel's file.
  ASSERT_EQ(torch.error(reader), "");
  const auto& got = torch.results(reader);
  ASSERT_EQ(got.size(), ours.size() + 1);
  std::string expected_text;
  for (size_t i = 0; i < ours.size(); ++i) {
    const Tensor& t = ours[i].second;
    EXPECT_TRUE(matches(t, got[i], 0, 0, t.dtype() != DType::BFloat16)) << ours[i].first;
    const char* st[] = {"BOOL", "U8", "I8", "I16", "I32", "I64", "F16", "BF16", "F32", "F64"};
    expected_text += (i ? "," : "") + std::string(st[static_cast<int>(t.dtype())]);
  }
  expected_text += "|framework=ravel;note=" + meta.at("note");
  const Tensor& text = got.back();
  EXPECT_EQ(std::string(static_cast<const char*>(text.raw_data()), text.nbytes()), expected_text);

  // ravel reads Python's files.
  ASSERT_EQ(torch.error(writer), "");
  const auto& py = torch.results(writer);
  SafetensorsFile model_file = load_safetensors(pt_model);
  SafetensorsFile mixed_file = load_safetensors(pt_mixed);
  EXPECT_EQ(model_file.metadata.at("format"), "pt");
  EXPECT_EQ(mixed_file.metadata, (std::map<std::string, std::string>{{"k", "v"}, {"empty", ""}}));
  ASSERT_EQ(py.size(), 2 + model_file.tensors.size() + mixed_file.tensors.size());
  size_t k = 2;
  for (const auto* f : {&model_file, &mixed_file})
    for (const auto& [name, t] : f->tensors) {  // in data order, as Python wrote them
      SCOPED_TRACE(name);
      EXPECT_TRUE(matches(t, py[k++], 0, 0, t.dtype() != DType::BFloat16));
    }
  const char* mixed_names[] = {"f32", "bf16", "f16", "f64",  "i64",   "i32",
                               "i16", "i8",   "u8",  "bool", "scalar"};
  for (size_t i = 0; i < mixed_file.tensors.size(); ++i)
    EXPECT_EQ(mixed_file.tensors[i].first, mixed_names[i]);
  EXPECT_EQ(mixed_file.get("bf16").dtype(), DType::BFloat16);
  EXPECT_EQ(mixed_file.get("u8").dtype(), DType::UInt8);
  EXPECT_EQ(mixed_file.get("scalar").shape(), Shape{});

  // torch's state_dict loads into the same architecture in ravel (strict) and gives torch's
  // output.
  auto model = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(2, 3, 3), std::make_shared<nn::BatchNorm2d>(3),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(3 * 4 * 4, 5));
  nn::LoadResult r = load(*model, pt_model);
  EXPECT_TRUE(r.missing_keys.empty() && r.unexpected_keys.empty());
  model->eval();
  EXPECT_TRUE(matches((*model)(py[0]), py[1], 1e-5, 1e-6));
}

// ---------------------------------------------------------------- hostile input
const char* kValid = R"("t": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]})";

TEST_F(SafetensorsTest, ErrorsOnTheFileItself) {
  expect_error([] { parse(std::string("\x01\x00", 2)); }, {"test", "too short"});
  std::string huge(8, '\0');
  huge[3] = 0x10;  // 268 MB
  expect_error([&] { parse(huge + "{}"); }, {"header length 268435456", "100000000"});
  std::string beyond = with_header("{}");
  beyond[0] = 100;
  expect_error([&] { parse(beyond); }, {"header length 100", "beyond the end of the file (10"});
  expect_error([&] { load_safetensors(path("missing.safetensors")); },
               {"load_safetensors", "missing.safetensors", "cannot open"});
  expect_error([&] { load_safetensors(dir_.string()); }, {"not a regular file"});
  // A header that claims more data than the file holds.
  std::string file = with_header(std::string("{") + kValid + "}", "ab");
  std::ofstream(path("trunc.safetensors"), std::ios::binary)
      .write(file.data(), static_cast<std::streamsize>(file.size() - 1));
  expect_error([&] { load_safetensors(path("trunc.safetensors")); },
               {"trunc.safetensors", "go beyond the data section (1 bytes)"});
}

TEST_F(SafetensorsTest, ErrorsOnTheHeaderJson) {
  struct Case {
    std::string header, data, fragment;
  };
  const std::vector<Case> cases = {
      {"", "", "invalid JSON"},
      {"{\"t\": ", "", "invalid JSON"},
      {"{} x", "", "invalid JSON"},
      {"{}\0\0\0\0"s, "", "the header holds a NUL byte at offset 2"},  // JSON has none
      {"{\"t\": 1\0}"s, "", "a NUL byte at offset 7"},
      {"[]", "", "must be a JSON object, got an array"},
      {"7", "", "must be a JSON object, got a number"},
      {R"({"t": 3})", "", "'t' must be an object, got a number"},
      {R"({"t": [1]})", "", "'t' must be an object, got an array"},
      {R"({"t": {"shape": [2], "data_offsets": [0, 2]}})", "ab", "tensor 't' has no 'dtype'"},
      {R"({"t": {"dtype": "U8", "data_offsets": [0, 2]}})", "ab", "has no 'shape'"},
      {R"({"t": {"dtype": "U8", "shape": [2]}})", "ab", "has no 'data_offsets'"},
      {R"({"t": {"dtype": 5, "shape": [2], "data_offsets": [0, 2]}})", "ab",
       "tensor 't': dtype must be a string, got a number"},
      {R"({"t": {"dtype": "U8", "shape": 2, "data_offsets": [0, 2]}})", "ab",
       "shape must be a list of integers"},
      {R"({"t": {"dtype": "U8", "shape": [-2], "data_offsets": [0, 2]}})", "ab",
       "shape holds the negative value -2"},
      {R"({"t": {"dtype": "U8", "shape": [2.0], "data_offsets": [0, 2]}})", "ab",
       "shape must hold integers, got 2.0"},
      {R"({"t": {"dtype": "U8", "shape": ["2"], "data_offsets": [0, 2]}})", "ab",
       "shape must hold integers, got a string"},
      {R"({"t": {"dtype": "U8", "shape": [[2]], "data_offsets": [0, 2]}})", "ab",
       "shape must hold integers, got an array"},
      {R"({"t": {"dtype": "U8", "shape": [2], "data_offsets": [0, -2]}})", "ab",
       "data_offsets holds the negative value -2"},
      {R"({"t": {"dtype": "U8", "shape": [2], "data_offsets": [2]}})", "ab",
       "data_offsets must be [begin, end]"},
      {R"({"t": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2, 4]}})", "ab",
       "data_offsets must be [begin, end]"},
      {R"({"t": {"dtype": "U8", "shape": [2], "data_offsets": [0, 18446744073709551615]}})", "ab",
       "beyond int64"},
      {R"({"t": {"dtype": "U8", "shape": [2], "data_offsets": [0, 1e400]}})", "ab", "invalid JSON"},
      {R"({"__metadata__": {"a": 1}})", "", "__metadata__ values must be strings; 'a' is a number"},
      {R"({"__metadata__": {"a": null}})", "", "'a' is null"},
      {R"({"__metadata__": {"a": {"b": "c"}}})", "", "'a' is an object"},
      {R"({"__metadata__": "x"})", "", "'__metadata__' must be an object, got a string"},
      // Duplicate keys: JSON parsers differ on which one wins, so none is accepted.
      {std::string("{") + kValid + ", " + kValid + "}", "ab", "the key 't' appears twice"},
      {R"({"__metadata__": {"a": "1", "a": "2"}})", "", "the __metadata__ key 'a' appears twice"},
      {R"({"__metadata__": {}, "__metadata__": {}})", "", "'__metadata__' appears twice"},
      {R"({"t": {"dtype": "U8", "dtype": "U8", "shape": [2], "data_offsets": [0, 2]}})", "ab",
       "tensor 't': dtype appears twice"},
      {"{\"t\xff\": {}}", "", "invalid JSON"},  // not UTF-8
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.header);
    expect_error([&] { parse(with_header(c.header, c.data)); }, {"test: ", c.fragment});
  }
}

TEST_F(SafetensorsTest, ErrorsOnDtypesShapesAndOffsets) {
  auto entry = [](const std::string& name, const std::string& dtype, const std::string& shape,
                  uint64_t b, uint64_t e) {
    return "\"" + name + "\": {\"dtype\": \"" + dtype + "\", \"shape\": " + shape +
           ", \"data_offsets\": [" + std::to_string(b) + ", " + std::to_string(e) + "]}";
  };
  struct Case {
    std::string header;
    size_t data;
    std::string fragment;
  };
  std::string dims65 = "[1";
  for (int i = 0; i < 64; ++i) dims65 += ", 1";
  dims65 += "]";
  const std::vector<Case> cases = {
      {"{" + entry("t", "U16", "[1]", 0, 2) + "}", 2,
       "tensor 't' has dtype 'U16', which ravel does not support (supported: BOOL, U8"},
      {"{" + entry("t", "F8_E4M3", "[1]", 0, 1) + "}", 1, "'F8_E4M3'"},
      {"{" + entry("t", "float32", "[1]", 0, 4) + "}", 4, "'float32'"},
      {"{" + entry("t", "U8", dims65, 0, 1) + "}", 1, "more than 64 dimensions"},
      {"{" + entry("t", "U8", "[4294967296, 4294967296]", 0, 1) + "}", 1, "too large to exist"},
      {"{" + entry("t", "U8", "[0, 4294967296, 4294967296]", 0, 0) + "}", 0, "too large to exist"},
      {"{" + entry("t", "F32", "[2, 3]", 0, 20) + "}", 20,
       "tensor 't' of dtype F32 and shape [2, 3] needs 24 bytes, but its data_offsets are [0, "
       "20]"},
      {"{" + entry("t", "U8", "[2]", 4, 2) + "}", 4, "needs 2 bytes"},
      {"{" + entry("t", "U8", "[2]", 2, 4) + "}", 3, "go beyond the data section (3 bytes)"},
      {"{" + entry("t", "U8", "[2]", 2, 4) + "}", 4, "data bytes 0 to 2 belong to no tensor"},
      {"{" + entry("t", "U8", "[2]", 0, 2) + "," + entry("u", "U8", "[2]", 1, 3) + "}", 3,
       "the data of tensors 't' and 'u' overlap (bytes 1 to 2)"},
      {"{" + entry("t", "U8", "[2]", 0, 2) + "," + entry("u", "U8", "[2]", 0, 2) + "}", 2,
       "overlap"},
      {"{" + entry("t", "U8", "[2]", 0, 2) + "}", 5,
       "the tensors cover 2 bytes but the data section has 5 bytes"},
      {"{}", 1, "the tensors cover 0 bytes but the data section has 1 bytes"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.header);
    expect_error([&] { parse(with_header(c.header, std::string(c.data, 'x'))); },
                 {"test: ", c.fragment});
  }
}

// A header nested a million levels deep must neither overflow the stack nor take long: the
// format has no nesting, so the reader stops at the first level too many.
TEST_F(SafetensorsTest, DeepNestingIsRejectedWithoutRecursion) {
  const std::string deep(1 << 20, '[');
  std::string objects;
  for (int i = 0; i < 200000; ++i) objects += "{\"a\":";
  struct Case {
    std::string header, fragment;
  };
  const std::vector<Case> cases = {
      {deep, "must be a JSON object, got an array"},
      {R"({"t": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0], "x": )" + deep,
       "nests deeper than 64 levels"},
      {R"({"__metadata__": {"a": )" + deep, "'a' is an array"},
      {R"({"t": {"dtype": "U8", "shape": )" + deep, "shape must hold integers, got an array"},
      {"{\"t\": " + objects, "nests deeper than 64 levels"},
  };
  for (const auto& c : cases) expect_error([&] { parse(with_header(c.header)); }, c.fragment);
}

TEST_F(SafetensorsTest, WriterErrors) {
  Tensor t = zeros({2});
  expect_error(
      [&] {
        to_safetensors_bytes({{"a", t}, {"a", t}});
      },
      {"to_safetensors_bytes", "the tensor name 'a' appears twice"});
  expect_error([&] { to_safetensors_bytes({{"__metadata__", t}}); }, "reserves it");
  expect_error([&] { to_safetensors_bytes({{"u", Tensor()}}); }, "tensor 'u' is undefined");
  expect_error([&] { to_safetensors_bytes({{"bad\xff", t}}); }, "is not valid UTF-8");
  expect_error([&] { to_safetensors_bytes({}, {{"k", "\xc3"}}); }, "is not valid UTF-8");
  expect_error(
      [&] {
        save_safetensors(path("no/such/dir/x.safetensors"), {{"a", t}});
      },
      {"save_safetensors", "no/such/dir/x.safetensors", "cannot create"});
  SafetensorsFile f = parse(to_safetensors_bytes({{"a", t}, {"b", t}}));
  expect_error([&] { f.get("c"); }, "no tensor named 'c' (it has 2 tensors: 'a', 'b')");
}

// ---------------------------------------------------------------- fuzzing in the test suite
// Every file of the fuzz corpus (seeds and past crashers, see tests/fuzz/README.md) loads or
// throws ravel::Error.
TEST(SafetensorsCorpus, EveryFileLoadsOrThrows) {
  fs::path dir = fs::path(RAVEL_TEST_DIR) / "fuzz" / "corpus" / "safetensors";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  int files = 0, loaded = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    SCOPED_TRACE(entry.path().string());
    const std::string bytes = read_file(entry.path().string());
    try {
      SafetensorsFile f = parse(bytes);
      for (const auto& [name, t] : f.tensors) (void)t.to_string();
      ++loaded;
    } catch (const Error&) {
    }
    // Seeds named *.safetensors are valid, bad-* are hostile seeds that must be refused
    // (crashers, named crash-*, may go either way).
    if (entry.path().extension() == ".safetensors") {
      EXPECT_NO_THROW(load_safetensors(entry.path().string()));
    }
    if (entry.path().filename().string().rfind("bad-", 0) == 0) {
      EXPECT_THROW(load_safetensors(entry.path().string()), Error);
    }
  }
  EXPECT_GT(files, 10);
  EXPECT_GT(loaded, 5);
}

// A few thousand deterministic mutations of a valid file -- truncations, byte flips, edits of the
// header text and of its length -- each loads or throws ravel::Error; what loads writes back and
// reads back identically.
TEST(SafetensorsFuzz, MutationsLoadOrThrow) {
  const NamedTensors tensors = {
      {"w", sample({2, 3}, DType::Float32)}, {"idx", sample({3}, DType::Int64)},
      {"mask", sample({2}, DType::Bool)},    {"h", sample({2}, DType::BFloat16)},
      {"s", sample({}, DType::Float16)},     {"e", sample({0}, DType::UInt8)}};
  const std::string valid = to_safetensors_bytes(tensors, {{"k", "v"}});
  uint64_t header_len = 0;
  std::memcpy(&header_len, valid.data(), 8);
  std::mt19937 rng(1234);
  auto below = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const char* tokens[] = {"{",
                          "}",
                          "[",
                          "]",
                          "\"",
                          ",",
                          ":",
                          "-1",
                          "0",
                          "1",
                          "9",
                          "e5",
                          "1.5",
                          "null",
                          "true",
                          "\"F32\"",
                          "18446744073709551616",
                          "9223372036854775807",
                          "\"__metadata__\"",
                          "\\u0000",
                          "  "};
  int loaded = 0, rejected = 0;
  auto check = [&](const std::string& bytes) {
    try {
      SafetensorsFile f = safetensors_from_bytes(bytes.data(), bytes.size());
      std::string again = to_safetensors_bytes(f.tensors, f.metadata);
      SafetensorsFile g = parse(again);
      EXPECT_TRUE(same_tensors(f.tensors, g.tensors));
      EXPECT_EQ(f.metadata, g.metadata);
      ++loaded;
    } catch (const Error&) {
      ++rejected;
    }
  };
  for (size_t n = 0; n <= valid.size(); ++n) check(valid.substr(0, n));
  for (int i = 0; i < 3000; ++i) {
    std::string m = valid;
    switch (i % 6) {
      case 0:  // flip a few bytes anywhere
        for (size_t k = 0, n = 1 + below(4); k < n; ++k) m[below(m.size())] ^= 1 + below(255);
        break;
      case 1:  // replace a header byte with a JSON token
      case 2: {
        size_t at = 8 + below(header_len), len = below(3);
        m.replace(at, len, tokens[below(std::size(tokens))]);
        break;
      }
      case 3: {  // delete or duplicate a range of the header
        size_t at = 8 + below(header_len), len = 1 + below(16);
        if (i % 2)
          m.erase(at, len);
        else
          m.insert(at, m.substr(at, len));
        break;
      }
      case 4: {  // a different header length
        uint64_t v = i % 4 ? header_len + below(17) - 8 : (uint64_t{rng()} << 32 | rng());
        std::memcpy(m.data(), &v, 8);
        break;
      }
      case 5:  // a digit of the header changed (shapes and offsets)
        for (size_t k = 0; k < 4; ++k) {
          size_t at = 8 + below(header_len);
          if (m[at] >= '0' && m[at] <= '9') m[at] = static_cast<char>('0' + below(10));
        }
        break;
    }
    check(m);
  }
  EXPECT_GT(loaded, 100);
  EXPECT_GT(rejected, 1000);
}

}  // namespace
}  // namespace ravel
