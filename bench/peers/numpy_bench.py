"""NumPy's side of bench/compare: the same workloads as bench/ravel_bench.cpp.

Prints "TIME <workload> <median seconds per call>" for each workload named on the command line.
"""
import sys
import time

import numpy as np


def median_seconds_per_call(fn, reps=7, min_rep_seconds=0.05):
    fn()  # warm-up
    calls = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        s = time.perf_counter() - t0
        if s >= min_rep_seconds or calls >= 1 << 24:
            break
        calls *= max(2, int(min_rep_seconds / s)) if s > 0 else 16
    per_call = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        per_call.append((time.perf_counter() - t0) / calls)
    per_call.sort()
    return per_call[len(per_call) // 2]


def workloads():
    rng = np.random.default_rng(0)
    big = lambda: rng.random(16 * 1024 * 1024, dtype=np.float32)  # noqa: E731
    square = lambda: rng.random((4096, 4096), dtype=np.float32)  # noqa: E731
    w = {}

    def add16m():
        a, b = big(), big()
        return lambda: np.add(a, b)
    w["np_add_16m"] = add16m

    def exp16m():
        a = big()
        return lambda: np.exp(a)
    w["np_exp_16m"] = exp16m
    for name, f, ax in [("np_sum_axis0", np.sum, 0), ("np_sum_axis1", np.sum, 1),
                        ("np_max_axis0", np.max, 0), ("np_max_axis1", np.max, 1)]:
        def red(f=f, ax=ax):
            a = square()
            return lambda: f(a, axis=ax)
        w[name] = red
    for n in (256, 1024, 2048):
        def mm(n=n):
            a = rng.random((n, n), dtype=np.float32)
            b = rng.random((n, n), dtype=np.float32)
            return lambda: np.matmul(a, b)
        w[f"np_matmul_{n}"] = mm

    def small_add():
        a, b = big()[:16].copy(), big()[:16].copy()
        return lambda: np.add(a, b)
    w["np_small_add"] = small_add

    def small_exp():
        a = big()[:16].copy()
        return lambda: np.exp(a)
    w["np_small_exp"] = small_exp
    return w


def main():
    all_w = workloads()
    names = sys.argv[1:] or sorted(all_w)
    for name in names:
        if name not in all_w:
            print(f"numpy_bench: unknown workload '{name}'", file=sys.stderr)
            sys.exit(2)
        print(f"TIME {name} {median_seconds_per_call(all_w[name]()):.9g}", flush=True)


if __name__ == "__main__":
    main()
