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


def main(d):
    lines = open(os.path.join(d, "in.txt")).read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("case "):
            i += 1
            continue
        _, k, n = lines[i].split()
        expr = lines[i + 1][len("expr "):]
        env = {"np": np, "math": math}
        for j in range(int(n)):
            f = lines[i + 2 + j].split()
            dtype, ndim = f[1], int(f[2])
            shape = tuple(int(x) for x in f[3:3 + ndim])
            arr = np.fromfile(os.path.join(d, f[3 + ndim]), dtype=WIRE[dtype]).reshape(shape)
            env["abcdefghijklmnop"[j]] = arr
        i += 2 + int(n)
        try:
            r = eval(expr, env)  # noqa: S307 -- test-only expressions written by ravel's tests
            rs = list(r) if isinstance(r, (tuple, list)) else [r]
            rs = [np.asarray(x) for x in rs]
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
