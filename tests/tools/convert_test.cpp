// `ravel convert`, run as a separate process: a torch.save'd state_dict (the zoo's lenet5 shapes,
// and a checkpoint dict) to safetensors and .npz with the same names and values as
// load_pytorch; --model reports what does not fit; exit 2 for a wrong command line, 1 for a bad
// or unfitting file, each with one line on stderr. (torchvision's ResNets go through convert in
// tests/models/torchvision_weights_test.cpp.)
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ravel/io.h"
#include "ravel/models/classic.h"
#include "ravel/pytorch.h"
#include "ravel/safetensors.h"
#include "support/cli_run.h"
#include "support/numpy_oracle.h"
#include "support/temp_dir.h"

namespace fs = std::filesystem;

namespace ravel::testing {
namespace {

class ConvertTest : public TempDirTest {
 protected:
  // `ravel convert <args>` (shell words; test paths have no spaces).
  CliRun convert(const std::string& args) { return run_ravel("convert " + args); }
  void expect_failure(const std::string& args, int status,
                      const std::vector<std::string>& fragments) {
    expect_cli_failure("convert " + args, status, fragments);
  }
};

// The shapes of the zoo's lenet5 (10 classes, 1 channel, 28x28), as a torch state_dict literal.
std::string lenet5_state_dict() {
  std::string code = "collections.OrderedDict([";
  for (const auto& [name, t] :
       models::lenet5({.num_classes = 10, .in_channels = 1})->state_dict()) {
    code += "('" + name + "', torch.randn(";
    for (int64_t d : t.shape()) code += std::to_string(d) + ",";
    code += ")), ";
  }
  return code + "])";
}

TEST_F(ConvertTest, WritesSafetensorsAndNpzAndRefusesWhatDoesNotFit) {
  TorchOracle torch;
  int h = torch.add_script("import collections\nP = '" + dir_.string() + "'\n" +
                               "torch.manual_seed(0)\n" + "torch.save(" + lenet5_state_dict() +
                               ", P + '/lenet.pt')\n" + R"(
torch.save({'epoch': 2, 'model': {'w': torch.ones(2, 3).half(), 'b': torch.arange(3)}},
           P + '/ck.pt')
out = np.zeros(1)
)",
                           {});
  torch.run();
  ASSERT_EQ(torch.error(h), "");
  const std::string in = path("lenet.pt");
  const std::string fits = " --model lenet5 --classes 10 --in-channels 1 --input-size 28";

  // safetensors: load_pytorch's names (torch's order), values and dtypes.
  const nn::StateDict want = load_pytorch(in);
  CliRun r = convert(in + " " + path("lenet.safetensors") + fits);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("converted " + std::to_string(want.size()) + " tensors"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("fit lenet5"), std::string::npos) << r.out;
  SafetensorsFile st = load_safetensors(path("lenet.safetensors"));
  EXPECT_EQ(st.metadata.at("format"), "pt");
  ASSERT_EQ(st.tensors.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(st.tensors[i].first, want[i].first);
    EXPECT_TRUE(matches(st.tensors[i].second, want[i].second, 0, 0)) << want[i].first;
  }
  // npz, from a checkpoint dict (float16 and int64 kept).
  ASSERT_EQ(convert(path("ck.pt") + " " + path("ck.npz")).status, 0);
  auto npz = load_npz(path("ck.npz"));
  const nn::StateDict ck = load_pytorch(path("ck.pt"));
  ASSERT_EQ(npz.size(), 2u);
  for (const auto& [name, t] : ck) EXPECT_TRUE(matches(npz.at(name), t, 0, 0)) << name;

  // Errors: exit 2 for the command line, 1 for the file; nothing written.
  expect_failure("", 2, {"in"});
  expect_failure(in, 2, {"out"});
  expect_failure(in + " " + path("x.txt"), 2, {"OUT", ".safetensors or .npz", "x.txt"});
  expect_failure(in + " " + path("x.npz") + " --model nonet", 2, {"--model", "nonet"});
  expect_failure(in + " " + path("x.npz") + " --classes 0", 2, {"--classes"});
  expect_failure(path("missing.pt") + " " + path("x.npz"), 1, {"missing.pt", "cannot open"});
  std::ofstream(path("text.pt")) << "not a zip";
  expect_failure(path("text.pt") + " " + path("x.npz"), 1, {"text.pt", "not a torch.save file"});
  // The default build (1000 classes, 3 channels) differs in the first and last layers' shapes.
  const auto& first = want.front();
  std::ostringstream first_shapes;
  first_shapes << first.first << ": " << first.second.shape() << " in the file";
  expect_failure(in + " " + path("x.npz") + " --model lenet5", 1,
                 {"does not fit lenet5", "--classes 1000 --in-channels 3", "shapes differ",
                  first_shapes.str()});
  expect_failure(in + " " + path("x.npz") + " --model mlp" + fits.substr(15), 1,
                 {"does not fit mlp", "missing keys", "unexpected keys"});
  expect_failure(path("ck.pt") + " " + path("x.npz") + fits, 1,
                 {"missing keys", "unexpected keys (w, b)"});
  EXPECT_FALSE(fs::exists(path("x.npz")));
}

}  // namespace
}  // namespace ravel::testing
