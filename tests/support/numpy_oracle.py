"""Evaluates the NumPy expressions a ravel test asks for (see numpy_oracle.h).

Reads <dir>/in.txt, writes <dir>/out.txt and one raw .bin file per result array.
"""
import math  # noqa: F401  (available to expressions)
import os
import sys

import warnings

import numpy as np

warnings.filterwarnings("ignore")  # overflow/invalid-value warnings are part of what is tested

# ravel dtype names -> how the raw bytes are laid out (bfloat16 travels as float32)
WIRE = {"bool": np.bool_, "uint8": np.uint8, "int8": np.int8, "int16": np.int16,
        "int32": np.int32, "int64": np.int64, "float16": np.float16, "bfloat16": np.float32,
        "float32": np.float32, "float64": np.float64}
# NumPy result dtypes ravel lacks are widened to one it has.
WIDEN = {np.dtype(np.uint16): np.int32, np.dtype(np.uint32): np.int64,
         np.dtype(np.uint64): np.int64, np.dtype(np.longlong): np.int64}


_TORCH = {}


def torch_env():
    """torch, nn and F for scripts; imported once, on first use (it takes a second)."""
    if not _TORCH:
        import torch
        torch.set_num_threads(1)
        _TORCH.update(torch=torch, nn=torch.nn, F=torch.nn.functional)
    return _TORCH


def to_numpy(x):
    if "torch" in _TORCH and isinstance(x, _TORCH["torch"].Tensor):
        x = x.detach()
        if x.dtype == _TORCH["torch"].bfloat16:
            x = x.float()
        return x.numpy()
    return np.asarray(x)


def main(d):
    lines = open(os.path.join(d, "in.txt")).read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("case "):
            i += 1
            continue
        _, k, n = lines[i].split()
        i += 1
        script = None
        if lines[i].startswith("script "):
            count = int(lines[i].split()[1])
            script = "\n".join(lines[i + 1:i + 1 + count])
            i += 1 + count
        else:
            expr = lines[i][len("expr "):]
            i += 1
        env = {"np": np, "math": math}
        if script is not None:
            env.update(torch_env())
        for j in range(int(n)):
            f = lines[i + j].split()
            dtype, ndim = f[1], int(f[2])
            shape = tuple(int(x) for x in f[3:3 + ndim])
            arr = np.fromfile(os.path.join(d, f[3 + ndim]), dtype=WIRE[dtype]).reshape(shape)
            env["abcdefghijklmnop"[j]] = arr
        i += int(n)
        try:
            if script is None:
                r = eval(expr, env)  # noqa: S307 -- test-only expressions written by ravel's tests
            else:
                exec(script, env)  # noqa: S102 -- test-only scripts written by ravel's tests
                r = env["out"]
            rs = list(r) if isinstance(r, (tuple, list)) else [r]
            rs = [to_numpy(x) for x in rs]
            out.append(f"case {k} ok {len(rs)}")
            for j, x in enumerate(rs):
                if x.dtype in WIDEN:
                    x = x.astype(WIDEN[x.dtype])
                if x.dtype.kind not in "biuf":
                    raise TypeError(f"result dtype {x.dtype} is not one ravel has")
                name = f"r{k}_{j}.bin"
                np.ascontiguousarray(x).tofile(os.path.join(d, name))
                out.append(f"result {x.dtype.name} {x.ndim} {' '.join(map(str, x.shape))} {name}")
        except Exception as e:  # noqa: BLE001 -- the error text goes back to the test
            msg = f"{type(e).__name__}: {e}".replace("\n", " ")
            out.append(f"case {k} error {msg}")
    with open(os.path.join(d, "out.txt"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
