// PyTorch weights without Python: reads what torch.save writes for a state_dict (.pt / .pth).
//
//   auto net = ravel::models::resnet18();                       // torchvision's names
//   net->load_state_dict(ravel::load_pytorch("resnet18.pth"));  // torch.save(m.state_dict(), ..)
//   for (auto& [name, t] : ravel::load_pytorch("ckpt.pt")) std::cout << name << t.shape() << "\n";
//
// Accepted: the zip format of torch.save (PyTorch >= 1.6, the default since then): a zip
// holding "<archive>/data.pkl" (pickle protocol 2, torch's default, up to 5), the tensors'
// storages "<archive>/data/<key>" (stored or deflated; byte-swapped when "<archive>/byteorder"
// says big) and "<archive>/version". The object saved may be
// - a state_dict: a dict or OrderedDict of name -> tensor (or nn.Parameter), in its order;
// - a checkpoint dict holding such a state_dict under "state_dict" or "model" (what common
//   training scripts save, e.g. {"epoch": 3, "model": m.state_dict(), "optimizer": ...}); its
//   other entries may hold plain values (numbers, strings, lists, tuples, dicts, tensors) and
//   are ignored.
// Names are kept as saved (a DataParallel "module." prefix is not stripped). Tensors keep their
// dtype (float32/64, float16, bfloat16, int64/32/16, int8, uint8, bool) and shape; views with
// strides or offsets are materialised contiguous (tensors sharing a storage are fine).
//
// Safety: the pickle is read by a small unpickler that never executes anything (like
// torch.load(weights_only=True), only narrower): the only globals allowed are
// collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and the
// torch.*Storage types; any other (a pickled nn.Module, os.system, ...) throws ravel::Error naming
// it. Sizes are checked before anything is allocated, memo and stack sizes are bounded, and every
// problem is a ravel::Error naming the file (the reader is fuzzed: tests/fuzz/fuzz_pytorch.cpp).
// The legacy format (torch < 1.6, or _use_new_zipfile_serialization=False) and TorchScript archives
// (torch.jit.save) throw an Error saying how to re-save the weights.
#pragma once
#include <cstddef>
#include <string>

#include "ravel/nn/module.h"

namespace ravel {

// Errors name the source: "load_pytorch: '<path>': ..." ("load_pytorch: cannot open '<path>'"
// when unreadable) or "pytorch_from_bytes: <what>: ...".
nn::StateDict load_pytorch(const std::string& path);
nn::StateDict pytorch_from_bytes(const void* data, size_t size,
                                 const std::string& what = "pytorch data");

}  // namespace ravel
