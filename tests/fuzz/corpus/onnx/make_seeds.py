"""Writes the ONNX fuzz seeds of this directory (run: /usr/bin/python3 make_seeds.py).

Valid seeds (*.onnx) cover what ravel's importer reads: torch exports (Gemm, the Shape/Gather/
Unsqueeze/Concat/Reshape chain of `x.view(x.size(0), -1)` at opset 11), BatchNormalization,
every supported operator in one graph, opset 11 Softmax. Hostile seeds (bad-*) each hit one
class of error. All stay small (the fuzzer runs with -max_len=4096).
"""
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

D = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)
np.random.seed(0)


def save(model, name, check=True):
    if check:
        onnx.checker.check_model(model, full_check=True)
    onnx.save(model, os.path.join(D, name))


def torch_export(m, x, name, opset=13, fold=True):
    path = os.path.join(D, name)
    torch.onnx.export(m.eval(), x, path, opset_version=opset, do_constant_folding=fold,
                      input_names=['input'], output_names=['output'],
                      dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}})
    return onnx.load(path)


def init(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def model(nodes, inputs, outputs, inits, opset=13):
    g = helper.make_graph(nodes, 'seed', inputs, outputs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid('', opset)], ir_version=8)


def tensor_info(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


# ---- valid seeds
mlp = torch_export(nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 3)),
                   torch.randn(1, 8), 'mlp.onnx')


class ViewNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(2 * 2 * 2, 3)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv(x)), 2)
        return self.fc(x.view(x.size(0), -1))


torch_export(ViewNet(), torch.randn(1, 1, 6, 6), 'view_opset11.onnx', opset=11, fold=False)

f32 = lambda *s: np.random.randn(*s).astype(np.float32)  # noqa: E731
save(model([helper.make_node('Conv', ['x', 'w'], ['c'], name='conv', pads=[1, 1, 1, 1]),
            helper.make_node('BatchNormalization', ['c', 's', 'b', 'm', 'v'], ['n'], name='bn',
                             epsilon=1e-5, momentum=0.9),
            helper.make_node('Relu', ['n'], ['r'], name='relu'),
            helper.make_node('GlobalAveragePool', ['r'], ['g'], name='gap'),
            helper.make_node('Flatten', ['g'], ['f'], name='flat'),
            helper.make_node('Gemm', ['f', 'fw', 'fb'], ['y'], name='fc', transB=1)],
           [tensor_info('x', ['batch', 2, 5, 5])], [tensor_info('y', ['batch', 3])],
           [init('w', f32(4, 2, 3, 3)), init('s', f32(4)), init('b', f32(4)), init('m', f32(4)),
            init('v', np.abs(f32(4)) + 0.5), init('fw', f32(3, 4)), init('fb', f32(3))]),
     'conv_bn.onnx')

i64 = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
save(model([helper.make_node('Conv', ['x', 'w', 'wb'], ['c'], name='conv', pads=[1, 1, 1, 1]),
            helper.make_node('Pad', ['c', 'pads'], ['p'], name='pad'),
            helper.make_node('AveragePool', ['p'], ['ap'], name='avg', kernel_shape=[2, 2],
                             strides=[2, 2]),
            helper.make_node('MaxPool', ['ap'], ['mp'], name='max', kernel_shape=[1, 1]),
            helper.make_node('Slice', ['mp', 'st', 'en', 'ax'], ['s'], name='slice'),
            helper.make_node('Transpose', ['s'], ['t'], name='tr', perm=[0, 1, 3, 2]),
            helper.make_node('Clip', ['t', 'lo', 'hi'], ['cl'], name='clip'),
            helper.make_node('Sigmoid', ['cl'], ['sg'], name='sig'),
            helper.make_node('Tanh', ['t'], ['th'], name='tanh'),
            helper.make_node('LeakyRelu', ['t'], ['lr'], name='leaky', alpha=0.1),
            helper.make_node('Concat', ['sg', 'th', 'lr'], ['cat'], name='cat', axis=1),
            helper.make_node('Constant', [], ['two'], name='two', value_float=2.0),
            helper.make_node('Mul', ['cat', 'two'], ['m1'], name='mul'),
            helper.make_node('Div', ['m1', 'three'], ['d1'], name='div'),
            helper.make_node('Sub', ['d1', 'tenth'], ['a1'], name='sub'),
            helper.make_node('Flatten', ['a1'], ['f'], name='flat', axis=1),
            helper.make_node('MatMul', ['f', 'w2'], ['mm'], name='matmul'),
            helper.make_node('Add', ['mm', 'b2'], ['add'], name='add'),
            helper.make_node('Dropout', ['add'], ['dr'], name='drop'),
            helper.make_node('Identity', ['dr'], ['id'], name='id'),
            helper.make_node('Reshape', ['id', 'shape'], ['rs'], name='reshape'),
            helper.make_node('Softmax', ['rs'], ['sm'], name='softmax', axis=1),
            helper.make_node('LogSoftmax', ['sm'], ['y'], name='logsoftmax', axis=-1)],
           [tensor_info('x', ['batch', 2, 4, 4])], [tensor_info('y', ['batch', 5])],
           [init('w', f32(3, 2, 3, 3)), init('wb', f32(3)), init('pads', i64(0, 0, 1, 1, 0, 0, 1, 1)),
            init('st', i64(1)), init('en', i64(3)), init('ax', i64(2)),
            init('lo', np.float32(-0.5)), init('hi', np.float32(0.5)),
            init('three', np.float32(3.0)), init('tenth', np.float32(0.1)),
            init('w2', f32(54, 5)), init('b2', f32(5)), init('shape', i64(0, -1))]),
     'all_ops.onnx')

save(model([helper.make_node('Softmax', ['x'], ['y'], name='sm', axis=1)],
           [tensor_info('x', ['batch', 3, 4])], [tensor_info('y', ['batch', 3, 4])], [], opset=11),
     'softmax_opset11.onnx')

# ---- hostile seeds
raw = mlp.SerializeToString()
open(os.path.join(D, 'bad-truncated.onnx'), 'wb').write(raw[:len(raw) // 2])
open(os.path.join(D, 'bad-not-onnx.onnx'), 'wb').write(b'\x89PNG\r\n\x1a\n' + bytes(range(64)))


def hostile(name, edit):
    m = onnx.ModelProto()
    m.CopyFrom(mlp)
    edit(m)
    save(m, name, check=False)


def external(m):
    t = m.graph.initializer[0]
    t.ClearField('raw_data')
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key='location', value='weights.bin')


hostile('bad-external-data.onnx', external)
hostile('bad-absurd-dims.onnx', lambda m: m.graph.initializer[0].dims.extend([1 << 40, 1 << 40]))
hostile('bad-raw-size.onnx', lambda m: m.graph.initializer[0].dims.__setitem__(0, 5))
hostile('bad-unsupported-op.onnx', lambda m: setattr(m.graph.node[1], 'op_type', 'Einsum'))
hostile('bad-opset9.onnx', lambda m: setattr(m.opset_import[0], 'version', 9))
hostile('bad-cycle.onnx', lambda m: m.graph.node[0].input.__setitem__(0, m.graph.node[1].output[0]))
hostile('bad-gemm-sizes.onnx', lambda m: m.graph.initializer[0].CopyFrom(
    init(m.graph.initializer[0].name, f32(4, 5))))
hostile('bad-dtype-string.onnx', lambda m: setattr(m.graph.initializer[0], 'data_type',
                                                   TensorProto.STRING))
