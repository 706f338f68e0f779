// load_pytorch against files torch.save writes in the test run (torch 1.13): every dtype,
// views with strides and offsets sharing a storage, pickle protocols 2 and 4, deflated
// archives, checkpoint dicts; then what must be refused: the legacy format, TorchScript,
// pickled modules, globals such as os.system, hand-made hostile pickles and mutated files.
#include "ravel/pytorch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "io/zip.h"
#include "support/expect_error.h"
#include "support/mutate.h"
#include "support/numpy_oracle.h"

namespace ravel::testing {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> keys(const nn::StateDict& sd) {
  std::vector<std::string> out;
  for (const auto& [k, t] : sd) out.push_back(k);
  return out;
}

// A torch.save-style archive of a pickle and its storages (tests build hostile files with it).
std::string archive(const std::string& pickle,
                    const std::vector<std::pair<std::string, std::string>>& storages = {}) {
  io::ZipWriter zip("test archive");
  zip.add("archive/data.pkl", pickle, false);
  for (const auto& [key, bytes] : storages) zip.add("archive/data/" + key, bytes, false);
  zip.add("archive/version", "3\n", false);
  return zip.finish();
}

nn::StateDict from_string(const std::string& bytes) {
  return pytorch_from_bytes(bytes.data(), bytes.size(), "test");
}

// The state_dict every dtype test saves; the C++ side knows only its keys.
const char* kEveryDtype = R"(
import collections, zipfile
g = torch.Generator().manual_seed(0)
base = torch.arange(24, dtype=torch.float32) * 0.5 - 3
sd = collections.OrderedDict()
sd['f32'] = torch.randn(3, 4, generator=g)
sd['f64'] = torch.randn(5, generator=g, dtype=torch.float64)
sd['f16'] = torch.randn(2, 3, generator=g).half()
sd['bf16'] = torch.randn(2, 3, generator=g).bfloat16()
sd['i64'] = torch.randint(-2**40, 2**40, (4,), generator=g)
sd['i32'] = torch.randint(-2**31, 2**31 - 1, (2, 2), generator=g, dtype=torch.int32)
sd['i16'] = torch.randint(-2**15, 2**15 - 1, (3,), generator=g, dtype=torch.int16)
sd['i8'] = torch.randint(-128, 127, (3,), generator=g, dtype=torch.int8)
sd['u8'] = torch.randint(0, 255, (3,), generator=g, dtype=torch.uint8)
sd['bool'] = torch.tensor([True, False, True])
sd['scalar'] = torch.tensor(7)
sd['empty'] = torch.zeros(0, 3)
sd['special'] = torch.tensor([float('inf'), float('-inf'), float('nan'), -0.0, 1e-40])
sd['param'] = nn.Parameter(torch.randn(2, generator=g))
sd['t'] = base.view(4, 6).t()
sd['step'] = base[5:17:3]
sd['block'] = base.view(4, 6)[1:3, 2:5]
sd['whole'] = base
sd['expand'] = torch.arange(3.).expand(4, 3)
torch.save(sd, P + '/a.pt', _use_new_zipfile_serialization=True)
torch.save(sd, P + '/p4.pt', pickle_protocol=4)
with zipfile.ZipFile(P + '/a.pt') as zin:
  with zipfile.ZipFile(P + '/deflated.pt', 'w', zipfile.ZIP_DEFLATED) as zout:
    for name in zin.namelist():
      zout.writestr(name, zin.read(name))
# As a big-endian machine writes it (torch >= 1.10 records the byte order).
torch.save({'x': torch.tensor([1.5, -2.25, 3e10], dtype=torch.float64),
            'n': torch.tensor([1, -2], dtype=torch.int16)}, P + '/le.pt')
with zipfile.ZipFile(P + '/le.pt') as zin, zipfile.ZipFile(P + '/be.pt', 'w') as zout:
  for name in zin.namelist():
    data = zin.read(name)
    if name == 'le/data/0':
      data = np.frombuffer(data, '<f8').astype('>f8').tobytes()
    if name == 'le/data/1':
      data = np.frombuffer(data, '<i2').astype('>i2').tobytes()
    zout.writestr(name, data)
  zout.writestr('le/byteorder', 'big')
out = [v.detach().contiguous() for v in sd.values()]
)";
const std::vector<std::string> kEveryDtypeKeys = {
    "f32",    "f64",   "f16",     "bf16",  "i64", "i32",  "i16",   "i8",    "u8",    "bool",
    "scalar", "empty", "special", "param", "t",   "step", "block", "whole", "expand"};

// A module's state_dict (with its _metadata), and checkpoint dicts holding it.
const char* kCheckpointsScript = R"(
torch.manual_seed(0)
m = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Linear(4, 2))
m[1].running_mean.uniform_()
m[1].num_batches_tracked += 5
sd = m.state_dict()
torch.save(sd, P + '/sd.pt')
opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
torch.save({'epoch': 3, 'model': sd, 'optimizer': opt.state_dict(), 'name': 'run 1',
            'history': [0.5, 0.25], 'flags': (True, None), 'big': 2**40, 'neg': -7}, P + '/ck.pt')
torch.save({'state_dict': sd, 'best_acc': 91.5}, P + '/ck2.pt')
torch.save({}, P + '/empty.pt')
out = [v for v in sd.values()]
)";
// What load_pytorch refuses.
const char* kRefusedScript = R"(
import zipfile
torch.save({'w': torch.ones(2)}, P + '/legacy.pt', _use_new_zipfile_serialization=False)
torch.jit.save(torch.jit.script(nn.Linear(2, 2)), P + '/script.pt')
torch.save(nn.Linear(2, 2), P + '/module.pt')
torch.save([torch.ones(2)], P + '/list.pt')
torch.save({'epoch': 3, 'w': torch.ones(2)}, P + '/mixed.pt')
torch.save({'model': {'w': torch.ones(2), 'step': 3}}, P + '/nested.pt')
torch.save({1: torch.ones(2)}, P + '/intkey.pt')
torch.save({'z': torch.ones(2, dtype=torch.complex64)}, P + '/complex.pt')
with zipfile.ZipFile(P + '/os.pt', 'w') as z:
  class Evil:
    def __reduce__(self):
      import os
      return (os.system, ('echo pwned',))
  import pickle
  z.writestr('archive/data.pkl', pickle.dumps(Evil(), protocol=2))
out = np.zeros(1)
)";
// The seed of the mutation test.
const char* kSeedScript = R"(
import collections
base = torch.arange(6, dtype=torch.float32)
sd = collections.OrderedDict(w=base.view(2, 3).t(), b=base[1:3], n=torch.tensor(3),
                             h=torch.ones(2, dtype=torch.float16))
torch.save(sd, P + '/seed.pt')
out = np.zeros(1)
)";

// One python process writes every test's files (importing torch takes a second or two).
class PytorchTest : public ::testing::Test {
 protected:
  enum Script { kDtypes, kCheckpoints, kRefused, kSeed };
  static void SetUpTestSuite() {
    dir_ =
        new fs::path(fs::temp_directory_path() / ("ravel_PytorchTest_" + std::to_string(getpid())));
    fs::remove_all(*dir_);
    fs::create_directories(*dir_);
    torch_ = new TorchOracle;
    for (const char* script : {kEveryDtype, kCheckpointsScript, kRefusedScript, kSeedScript})
      handles_.push_back(torch_->add_script("P = '" + dir_->string() + "'\n" + script, {}));
    torch_->run();
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete torch_;
    handles_.clear();
  }
  static const std::string& error(Script s) { return torch_->error(handles_[s]); }
  static const std::vector<Tensor>& results(Script s) { return torch_->results(handles_[s]); }
  static std::string path(const std::string& name) { return (*dir_ / name).string(); }
  static void write(const std::string& name, const std::string& bytes) {
    std::ofstream(path(name), std::ios::binary) << bytes;
  }
  static std::string read(const std::string& name) {
    std::ifstream f(path(name), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

 private:
  static inline fs::path* dir_ = nullptr;
  static inline TorchOracle* torch_ = nullptr;
  static inline std::vector<int> handles_;
};

TEST_F(PytorchTest, EveryDtypeAndViewMatchesTorch) {
  ASSERT_EQ(error(kDtypes), "");
  const auto& want = results(kDtypes);
  ASSERT_EQ(want.size(), kEveryDtypeKeys.size());
  for (const char* file : {"a.pt", "p4.pt", "deflated.pt"}) {
    SCOPED_TRACE(file);
    nn::StateDict sd = load_pytorch(path(file));
    ASSERT_EQ(keys(sd), kEveryDtypeKeys);
    for (size_t i = 0; i < sd.size(); ++i) {
      SCOPED_TRACE(sd[i].first);
      // bfloat16 comes back from the oracle as float32 (exact), so compare values only there.
      EXPECT_TRUE(matches(sd[i].second, want[i], 0, 0, sd[i].first != "bf16"));
      EXPECT_TRUE(sd[i].second.is_contiguous());
    }
    EXPECT_EQ(sd[3].second.dtype(), DType::BFloat16);
    EXPECT_EQ(sd[10].second.ndim(), 0);  // 0-d, like num_batches_tracked
    EXPECT_EQ(sd[10].second.dtype(), DType::Int64);
  }
  // Big-endian storages are swapped.
  nn::StateDict le = load_pytorch(path("le.pt")), be = load_pytorch(path("be.pt"));
  ASSERT_EQ(keys(be), (std::vector<std::string>{"x", "n"}));
  for (size_t i = 0; i < le.size(); ++i) EXPECT_TRUE(matches(be[i].second, le[i].second, 0, 0));
  EXPECT_EQ(le[0].second.select(0, 0).item<double>(), 1.5);
  // From bytes too (the reader behind both).
  std::string bytes = read("a.pt");
  EXPECT_EQ(keys(pytorch_from_bytes(bytes.data(), bytes.size())), kEveryDtypeKeys);
}

TEST_F(PytorchTest, CheckpointDictsAndModuleStateDicts) {
  ASSERT_EQ(error(kCheckpoints), "");
  const auto& want = results(kCheckpoints);
  const std::vector<std::string> names = {"0.weight",
                                          "0.bias",
                                          "1.weight",
                                          "1.bias",
                                          "1.running_mean",
                                          "1.running_var",
                                          "1.num_batches_tracked",
                                          "2.weight",
                                          "2.bias"};
  for (const char* file : {"sd.pt", "ck.pt", "ck2.pt"}) {
    SCOPED_TRACE(file);
    nn::StateDict sd = load_pytorch(path(file));
    ASSERT_EQ(keys(sd), names);
    for (size_t i = 0; i < sd.size(); ++i) EXPECT_TRUE(matches(sd[i].second, want[i], 0, 0));
  }
  EXPECT_TRUE(load_pytorch(path("empty.pt")).empty());
}

TEST_F(PytorchTest, RefusesWhatIsNotAStateDict) {
  ASSERT_EQ(error(kRefused), "");
  auto refused = [&](const std::string& file, const std::vector<std::string>& fragments) {
    SCOPED_TRACE(file);
    std::vector<std::string> all = {"load_pytorch: '" + path(file) + "'"};
    all.insert(all.end(), fragments.begin(), fragments.end());
    expect_error([&] { load_pytorch(path(file)); }, all);
  };
  refused("legacy.pt", {"legacy (pre-1.6)", "re-save it"});
  refused("script.pt", {"TorchScript", "state_dict()"});
  refused("module.pt", {"global 'torch.nn.modules.linear.Linear'", "not allowed"});
  refused("list.pt", {"holds a list, not a state_dict"});
  refused("mixed.pt", {"entry 'epoch' is an int, not a tensor", "no 'state_dict' or 'model'"});
  refused("nested.pt", {"entry 'step' of the checkpoint's state_dict is an int"});
  refused("intkey.pt", {"a key is an int, not a str"});
  refused("complex.pt", {"unsupported storage type torch.ComplexFloatStorage"});
  refused("os.pt", {"global 'posix.system'", "not allowed", "nothing is ever executed"});
  expect_error([&] { load_pytorch(path("missing.pt")); },
               {"load_pytorch", "missing.pt", "cannot open"});
  write("text.pt", "hello, not a zip");
  refused("text.pt", {"not a torch.save file"});
}

// Pickle pieces for hand-made files.
std::string le(uint64_t v, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}
std::string str(const std::string& s) { return "X" + le(s.size(), 4) + s; }  // BINUNICODE
std::string int1(int v) { return "K" + le(v, 1); }                           // BININT1
std::string long8(int64_t v) { return "\x8a\x08" + le(static_cast<uint64_t>(v), 8); }
std::string tuple1(const std::string& x) { return x + "\x85"; }
const std::string kProto2 = "\x80\x02";

// {'w': _rebuild_tensor_v2(('storage', torch.FloatStorage, '0', 'cpu', numel), offset, size,
// stride, False, ())}, each argument given as pickle ops.
std::string tensor_pickle(const std::string& numel, const std::string& offset,
                          const std::string& size, const std::string& stride) {
  return kProto2 + "}(" + str("w") + "ctorch._utils\n_rebuild_tensor_v2\n((" + str("storage") +
         "ctorch\nFloatStorage\n" + str("0") + str("cpu") + numel + "tQ" + offset + size + stride +
         "\x89)tRu.";
}

// Hand-made pickles: each error names the file and the problem.
TEST_F(PytorchTest, HostilePicklesThrowNamedErrors) {
  const std::string f4(16, '\0');  // four float32 zeros
  const std::string size4 = tuple1(int1(4)), stride1 = tuple1(int1(1));
  nn::StateDict ok = from_string(
      archive(tensor_pickle(int1(4), int1(0), size4, stride1), {{"0", f4}}));  // the valid one
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].second.shape(), (Shape{4}));

  struct Case {
    std::string pickle;
    std::vector<std::pair<std::string, std::string>> storages;
    std::string fragment;
  };
  const int64_t huge = 0x3fffffffffffffff;
  const std::vector<Case> cases = {
      {kProto2 + "cos\nsystem\n" + str("ls") + "\x85R.", {}, "global 'os.system'"},
      {kProto2 + "cbuiltins\neval\n.", {}, "global 'builtins.eval'"},
      {kProto2 + "\x8c\x02" + "os" + "\x8c\x06" + "system" + "\x93.", {}, "global 'os.system'"},
      {kProto2 + "}", {}, "without a STOP"},
      {kProto2 + "V0\n.", {}, "unsupported pickle opcode 0x56 'V'"},
      {"\x80\x09}.", {}, "unsupported pickle protocol 9"},
      {kProto2 + "h\x05.", {}, "memo key 5 was never stored"},
      {kProto2 + "s.", {}, "empty stack"},
      {kProto2 + "u.", {}, "no MARK"},
      {kProto2 + "}(" + int1(1) + int1(2) + int1(3) + "u.", {}, "SETITEMS with an odd number"},
      {kProto2 + ")" + int1(1) + int1(2) + "s.", {}, "target of SETITEM(S) is a tuple"},
      {kProto2 + "\x8a\x0a" + "0123456789.", {}, "integer of 10 bytes is too large"},
      {kProto2 + "X" + le(0x7fffffff, 4) + "abc.", {}, "truncated"},
      {kProto2 + "\x8c\x05" + "ab", {}, "truncated"},
      {kProto2 + "c" + std::string(300, 'a') + "\nb\n.", {}, "not terminated"},
      {kProto2 + "ctorch\nFloatStorage\n)R.", {}, "torch.FloatStorage cannot be called"},
      {kProto2 + "ccollections\nOrderedDict\n" + tuple1(int1(1)) + "R.",
       {},
       "OrderedDict called with"},
      {kProto2 + int1(1) + ")R.", {}, "REDUCE calls an int"},
      {kProto2 + "(" + str("storage") + "tQ.", {}, "persistent id is not"},
      // A list holding itself through the memo: no leak, no endless walk.
      {kProto2 + "]q" + le(0, 1) + "h" + le(0, 1) + "a.", {}, "holds a list"},
      // Storages and tensors that do not fit.
      {tensor_pickle(int1(5), int1(0), size4, stride1),
       {{"0", f4}},
       "needs 20 bytes, its record has 16"},
      {tensor_pickle(int1(4), int1(0), size4, stride1), {{"1", f4}}, "no record"},
      {tensor_pickle(int1(4), int1(1), size4, stride1),
       {{"0", f4}},
       "reaches beyond its storage of 4 elements"},
      {tensor_pickle(int1(4), int1(0), size4, tuple1(int1(2))),
       {{"0", f4}},
       "reaches beyond its storage"},
      {tensor_pickle(int1(4), int1(0), tuple1(long8(huge)), tuple1(long8(huge))),
       {{"0", f4}},
       "reaches beyond its storage"},
      {tensor_pickle(int1(4), int1(0), tuple1(long8(-1)), stride1),
       {{"0", f4}},
       "negative value -1"},
      {tensor_pickle(int1(4), int1(0), size4, ")"), {{"0", f4}}, "differ in length"},
      // Stride-0 views may not multiply a tiny storage into gigabytes.
      {tensor_pickle(int1(1), int1(0), tuple1(long8(int64_t{1} << 32)), tuple1(int1(0))),
       {{"0", f4.substr(0, 4)}},
       "(views repeating a storage's elements?)"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.fragment);
    expect_error([&] { from_string(archive(c.pickle, c.storages)); },
                 {"pytorch_from_bytes: test", c.fragment});
  }
  // Deep nesting (each list in the one before) ends in a plain error, not a stack overflow.
  const int depth = 100000;
  std::string deep = kProto2 + std::string(depth, ']') + std::string(depth - 1, 'a') + ".";
  expect_error([&] { from_string(archive(deep)); }, {"holds a list"});
}

// Mutations of a real file (the zip layer), and of its pickle re-zipped with valid CRCs (the
// unpickler): 2000 in all, each loads or throws ravel::Error.
TEST_F(PytorchTest, MutationsLoadOrThrow) {
  ASSERT_EQ(error(kSeed), "");
  const std::string seed = read("seed.pt");
  ASSERT_EQ(from_string(seed).size(), 4u);
  std::string pickle;
  std::vector<std::pair<std::string, std::string>> storages;
  for (const auto& m :
       io::read_zip(reinterpret_cast<const unsigned char*>(seed.data()), seed.size(), "seed")) {
    std::string bytes(reinterpret_cast<const char*>(m.data), m.size);
    if (m.name == "seed/data.pkl") pickle = bytes;
    if (m.name.rfind("seed/data/", 0) == 0) storages.emplace_back(m.name.substr(10), bytes);
  }
  ASSERT_FALSE(pickle.empty());
  std::mt19937 gen(1234);
  int loaded = 0, in_pickle = 0;
  for (int m = 0; m < 2000; ++m) {
    std::string bytes =
        m % 2 ? testing::mutate(seed, m / 2, gen, {.field_start = 0, .field_span = 128})
              : archive(testing::mutate(pickle, m / 2, gen, {.field_start = 0, .field_span = 400}),
                        storages);
    try {
      from_string(bytes);
      ++loaded;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("pytorch_from_bytes: test"), std::string::npos) << msg;
      in_pickle += msg.find("data.pkl at offset") != std::string::npos;
    }
  }
  EXPECT_LT(loaded, 1000) << "most mutations should break something";
  EXPECT_GT(in_pickle, 250) << "the unpickler should see many of them";
}

// The fuzzer's corpus (tests/fuzz/corpus/pytorch): *.pt seeds load, bad-* are refused with an
// Error, crash-* (regressions the fuzzer found) do either without crashing. *.pkl files are bare
// pickles, which the fuzzer zips next to a 64-byte storage "0"; so does this test.
TEST(PytorchCorpus, EveryFileLoadsOrThrows) {
  const fs::path dir = fs::path(RAVEL_TEST_DIR) / "fuzz" / "corpus" / "pytorch";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  int files = 0, loaded = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    std::ifstream f(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string bytes = ss.str();
    if (entry.path().extension() == ".pkl") bytes = archive(bytes, {{"0", std::string(64, 1)}});
    ++files;
    try {
      from_string(bytes);
      ++loaded;
      EXPECT_NE(name.rfind("bad-", 0), 0u) << "loaded";
    } catch (const Error&) {
      EXPECT_TRUE(name.rfind("bad-", 0) == 0 || name.rfind("crash-", 0) == 0) << "refused";
    }
  }
  EXPECT_GT(files, 15);
  EXPECT_GT(loaded, 10);
}

}  // namespace
}  // namespace ravel::testing
