#!/usr/bin/python3
"""Alternate ONNX Runtime (the ORT harness of /work/shared/bench, run from a scratch copy) and DistilBert.NET
(`distilbert bench`) runs: DistilBERT-base fp32, 2 threads, 1x128 and 32x128 (plus our model engine and BERT-base),
ROUNDS rounds, the order flipped every round; each process after waiting (up to 15 s) for a quiet machine, at
nice -15; records the CPU time other processes took during each run (foreign.txt).
Usage: BENCH_DIR=/tmp/x/bench CLI=src/DistilBert.Cli/bin/Release/net10.0/DistilBert.Cli.dll \
       /usr/bin/python3 bench/compare_ort.py OUT_DIR [ROUNDS]
BENCH_DIR must hold models/distilbert.onnx (torch/export_onnx.py) and the built ort/ harness (docs/bench/engine.md)."""
import json, os, resource, subprocess, sys, time
OUT = sys.argv[1]; ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
os.makedirs(OUT, exist_ok=True)
CLI = os.path.abspath(os.environ.get("CLI", "src/DistilBert.Cli/bin/Release/net10.0/DistilBert.Cli.dll"))
BENCH = os.environ["BENCH_DIR"]
# Untimed passes before ours are timed: .NET compiles hot kernels in tiers (quick JIT first, optimised code after a few
# calls), so one warm-up pass at 32 x 128 still times partly unoptimised code; ORT is native. Defaults: steady state.
W1 = int(os.environ.get("WARMUP_1", "20")); W32 = int(os.environ.get("WARMUP_32", "3"))

def busy():
    with open("/proc/stat") as f: v = list(map(int, f.readline().split()[1:]))
    return sum(v) - v[3] - v[4], sum(v)

def busy_cpus(window=2.0):
    b0, t0 = busy(); time.sleep(window); b1, t1 = busy()
    return 2.0 * (b1 - b0) / max(1, t1 - t0)

def wait_quiet(threshold=0.5, max_wait=15):
    start = time.time()
    while time.time() - start < max_wait:
        if busy_cpus() < threshold: return True
    return False

def run(tag, cmd, out_json=None):
    quiet = wait_quiet()
    b0, t0 = busy(); w0 = time.time()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(["nice", "-n", "-15"] + cmd, cwd=BENCH, capture_output=True, text=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    b1, t1 = busy(); wall = time.time() - w0
    total_cpus = 2.0 * (b1 - b0) / max(1, t1 - t0)
    own_cpus = ((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) / wall
    foreign = max(0.0, total_cpus - own_cpus)
    with open(f"{OUT}/{tag}.log", "w") as f: f.write(p.stdout + p.stderr)
    if out_json is None:
        with open(f"{OUT}/{tag}.json", "w") as f: f.write(p.stdout)
    print(f"{tag}: quiet-before={quiet} foreign_cpus={foreign:.2f}", flush=True)
    with open(f"{OUT}/foreign.txt", "a") as f: f.write(f"{tag} {quiet} {foreign:.3f}\n")

for r in range(1, ROUNDS + 1):
    order = ["ort", "ours"] if r % 2 else ["ours", "ort"]
    for who in order:
        if who == "ort":
            run(f"ort-{r}", ["dotnet", "ort/bin/Release/net10.0/ortbench.dll", "--model", "models/distilbert.onnx",
                             "--scenarios", "1x128,32x128", "--threads", "2", "--json", f"{OUT}/ort-{r}.json"], out_json=True)
        else:
            run(f"ours-1x128-{r}", ["dotnet", CLI, "bench", "--engine", "harness", "--shape", "distilbert-base", "--batch", "1", "--seq", "128",
                                    "--threads", "2", "--warmup", str(W1), "--iterations", "10", "--json"])
            run(f"ours-32x128-{r}", ["dotnet", CLI, "bench", "--engine", "harness", "--shape", "distilbert-base", "--batch", "32", "--seq", "128",
                                     "--threads", "2", "--warmup", str(W32), "--iterations", "3", "--json"])
            run(f"model-1x128-{r}", ["dotnet", CLI, "bench", "--engine", "model", "--shape", "distilbert-base", "--batch", "1", "--seq", "128",
                                    "--threads", "2", "--warmup", str(W1), "--iterations", "10", "--json"])
            run(f"model-32x128-{r}", ["dotnet", CLI, "bench", "--engine", "model", "--shape", "distilbert-base", "--batch", "32", "--seq", "128",
                                     "--threads", "2", "--warmup", str(W32), "--iterations", "3", "--json"])
            run(f"bert-1x128-{r}", ["dotnet", CLI, "bench", "--engine", "harness", "--shape", "bert-base", "--batch", "1", "--seq", "128",
                                    "--threads", "2", "--warmup", str(W1), "--iterations", "10", "--json"])
            run(f"bert-32x128-{r}", ["dotnet", CLI, "bench", "--engine", "harness", "--shape", "bert-base", "--batch", "32", "--seq", "128",
                                     "--threads", "2", "--warmup", str(W32), "--iterations", "2", "--json"])
