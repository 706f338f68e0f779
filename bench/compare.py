"""Driver of bench/compare: alternates ravel and peer runs, takes medians, prints ratios."""
import argparse
import os
import statistics
import subprocess
import sys

NUMPY = ["/usr/bin/python3", "bench/peers/numpy_bench.py"]
TORCH = ["/usr/bin/python3", "bench/peers/torch_bench.py"]
TORCH_FMNIST = ["/usr/bin/python3", "bench/peers/torch_fmnist.py", "--epochs", "1"]
# ONNX Runtime (scripts/ort.js, npm onnxruntime-node) runs torchvision's exported ResNets; ravel
# imports the same files (bench/peers/export_onnx.py writes them once into ONNX_DIR).
ORT = ["node", "scripts/ort.js", "time"]
ONNX_DIR = os.environ.get("RAVEL_BENCH_ONNX_DIR", "/tmp/ravel_bench_onnx")
ORT_FILES = {"ort_resnet18_infer_b1": "resnet18.onnx", "ort_resnet50_infer_b1": "resnet50.onnx",
             "ort_resnet18_infer_b1_bf16": "resnet18.onnx"}
# Work per call in GFLOP (2 per multiply-add; torchvision's 1.81 and 4.09 GMAC at 224x224), for
# the achieved GFLOP/s and its share of the FMA peak measured in the same run.
# ResNet-20 training steps (batch 128): 3x the forward's 30.8 / 40.5 MMAC per image.
GFLOP = {"resnet20_train_fmnist": 23.7, "resnet20_train_cifar": 31.1,
         "resnet20_train_fmnist_bf16": 23.7, "resnet20_train_fmnist_eager": 23.7,
         "resnet18_infer_b1": 3.63, "resnet18_infer_b16": 16 * 3.63, "resnet50_infer_b1": 8.18,
         "ort_resnet18_infer_b1": 3.63, "ort_resnet50_infer_b1": 8.18,
         "ort_resnet18_infer_b1_bf16": 3.63}
# Workloads whose peer is another ravel workload (bf16 training against ravel's own fp32).
RAVEL = "ravel"
PEER_OF = {"resnet20_train_fmnist_bf16": "resnet20_train_fmnist"}
ROUNDS = 3  # ravel and the peer alternate, so background noise hits both alike

# Whole-program workloads: ravel's side is a program of its own, one round each (a training
# epoch takes minutes), and both sides also report an accuracy. Run only when named.
PROGRAMS = {
    "fmnist_resnet20_epoch": lambda build: [f"{build}/examples/fashion_mnist", "--epochs", "1",
                                            "--bench", "--out", "/tmp/ravel_bench_fmnist"],
}


ACCURACY = {}  # (side, workload) -> accuracies reported


def run(cmd, names, side="ravel"):
    if cmd is ORT:  # one model file per call
        times = {}
        for n in names:
            times.update(run(ORT + [f"{ONNX_DIR}/{ORT_FILES[n]}", "1,3,224,224", "--name", n], [],
                             side))
        return times
    env = dict(os.environ, RAVEL_BENCH_ONNX_DIR=ONNX_DIR)
    out = subprocess.run(cmd + names, check=True, capture_output=True, text=True, env=env).stdout
    times = {}
    for line in out.splitlines():
        tag, name, value = line.split()
        if tag == "TIME":
            times[name] = float(value)
        elif tag == "ACCURACY":
            ACCURACY.setdefault((side, name), []).append(float(value))
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("prefixes", nargs="*")
    args = ap.parse_args()
    ravel_cmd = [f"{args.build}/bench/ravel_bench"]
    names = [n for n in ALL if (any(n.startswith(p) for p in args.prefixes) if args.prefixes
                                else n not in PROGRAMS)]
    if not names:
        sys.exit(f"compare: no workload starts with {args.prefixes}")
    if any(WORKLOADS[n] is ORT for n in names):
        subprocess.run(["/usr/bin/python3", "bench/peers/export_onnx.py", ONNX_DIR], check=True)
    peak = None
    if any(n in GFLOP for n in names):
        out = subprocess.run(ravel_cmd + ["--peak"], check=True, capture_output=True, text=True)
        peak = float(out.stdout.split()[1]) or None
    ravel_t, peer_t = {n: [] for n in names}, {n: [] for n in names}
    micro = [n for n in names if n not in PROGRAMS]
    for _ in range(ROUNDS if micro else 0):
        for n, t in run(ravel_cmd, micro).items():
            ravel_t[n].append(t)
        for cmd in (NUMPY, TORCH, ORT):
            group = [n for n in micro if WORKLOADS[n] is cmd]
            if group:
                for n, t in run(cmd, group).items():
                    peer_t[n].append(t)
        group = [n for n in micro if WORKLOADS[n] is RAVEL]
        if group:
            times = run(ravel_cmd, [PEER_OF[n] for n in group])
            for n in group:
                peer_t[n].append(times[PEER_OF[n]])
    for n in names:
        if n in PROGRAMS:
            ravel_t[n] += run(PROGRAMS[n](args.build), [], "ravel").values()
            peer_t[n] += run(WORKLOADS[n], [], "peer").values()
    if peak:
        print(f"PEAK {peak:.1f} GFLOP/s (float32 FMA, {os.cpu_count()} CPUs)")
    print(f"{'workload':<27} {'ravel':>12} {'peer':>12} {'ratio':>7}  ravel GFLOP/s (of peak)")
    for n in names:
        r, p = statistics.median(ravel_t[n]), statistics.median(peer_t[n])
        rate = ""
        if n in GFLOP:
            rate = f"  {GFLOP[n] / r:6.1f}" + (f" ({GFLOP[n] / r / peak:.0%})" if peak else "")
        print(f"{n:<27} {fmt(r):>12} {fmt(p):>12} {p / r:7.2f}{rate}")
    for (side, n), accs in sorted(ACCURACY.items()):
        print(f"ACCURACY {n} {side} {statistics.median(accs):.4f}")
    for n in names:
        r, p = statistics.median(ravel_t[n]), statistics.median(peer_t[n])
        print(f"RATIO {n} {p / r:.3f}")


def fmt(s):
    return f"{s * 1e6:.3f} us" if s < 1e-3 else f"{s * 1e3:.3f} ms"


# workload -> the peer program that runs it (in this order in the report)
WORKLOADS = {
    "np_add_16m": NUMPY, "np_exp_16m": NUMPY, "np_sum_axis0": NUMPY, "np_sum_axis1": NUMPY,
    "np_max_axis0": NUMPY, "np_max_axis1": NUMPY, "np_matmul_256": NUMPY,
    "np_matmul_1024": NUMPY, "np_matmul_2048": NUMPY, "np_small_add": NUMPY,
    "np_small_exp": NUMPY, "autograd_chain": TORCH, "mlp_train": TORCH,
    "fmnist_resnet20_epoch": TORCH_FMNIST,
    "resnet20_train_fmnist": TORCH, "resnet20_train_cifar": TORCH,
    "resnet20_train_fmnist_eager": TORCH, "resnet20_train_fmnist_bf16": RAVEL, "small_op": TORCH,
    "resnet18_infer_b1": TORCH, "resnet18_infer_b16": TORCH, "resnet50_infer_b1": TORCH,
    "ort_resnet18_infer_b1": ORT, "ort_resnet50_infer_b1": ORT, "ort_resnet18_infer_b1_bf16": ORT,
}
# Without prefixes: every micro workload; programs run when named.
ALL = list(WORKLOADS)

if __name__ == "__main__":
    main()
