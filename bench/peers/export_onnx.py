"""Writes torchvision's ResNet-18 and ResNet-50 (random weights, seed 0, eval mode) as ONNX
files (opset 13, dynamic batch) into the folder given: the files bench/compare runs in both
ravel and ONNX Runtime. Usage: export_onnx.py DIR"""
import os
import sys

import torch
import torchvision

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for arch in ("resnet18", "resnet50"):
    path = os.path.join(out, f"{arch}.onnx")
    if os.path.exists(path):
        continue
    torch.manual_seed(0)
    net = getattr(torchvision.models, arch)().eval()
    torch.onnx.export(net, torch.rand(1, 3, 224, 224), path + ".tmp", opset_version=13,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    os.replace(path + ".tmp", path)
