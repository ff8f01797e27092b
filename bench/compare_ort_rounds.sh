#!/bin/sh
# The figures of record in docs/benchmarks.md: ONNX Runtime (the shared/bench ORT harness, from a scratch copy) and
# our DistilBertModel (inference-only) alternating for ROUNDS rounds, order flipped every round, 1x128 and 32x128,
# fp32, 2 threads, at nice -15. Ours at steady state (20 / 3 untimed passes: .NET compiles hot kernels in tiers).
# Usage: BENCH_DIR=/tmp/x/bench CLI=src/DistilBert.Cli/bin/Release/net10.0/DistilBert.Cli.dll sh bench/compare_ort_rounds.sh OUT [ROUNDS]
#        /usr/bin/python3 bench/compare_ort_rounds_table.py OUT
set -e
OUT=$(realpath -m "$1"); ROUNDS=${2:-5}
CLI=$(realpath "${CLI:-src/DistilBert.Cli/bin/Release/net10.0/DistilBert.Cli.dll}")
mkdir -p "$OUT"
# Run from a copy: the runtime maps our DLLs shared, so a build that rewrites the bin folder mid-run would change the
# code under the running process (docs/benchmarks.md, the soak crash).
rm -rf "$OUT/cli"; cp -r "$(dirname "$CLI")" "$OUT/cli"; CLI="$OUT/cli/$(basename "$CLI")"
cd "$BENCH_DIR"
r=1
while [ $r -le "$ROUNDS" ]; do
  for who in first second; do
    if { [ $((r % 2)) = 1 ] && [ $who = first ]; } || { [ $((r % 2)) = 0 ] && [ $who = second ]; }; then
      nice -n -15 dotnet ort/bin/Release/net10.0/ortbench.dll --model models/distilbert.onnx --scenarios 1x128,32x128 \
        --threads 2 --json "$OUT/ort-$r.json" > /dev/null 2>&1
    else
      nice -n -15 dotnet "$CLI" bench --engine model --batch 1 --seq 128 --threads 2 --warmup 20 --iterations 10 --json > "$OUT/model1-$r.json"
      nice -n -15 dotnet "$CLI" bench --engine model --batch 32 --seq 128 --threads 2 --warmup 3 --iterations 3 --json > "$OUT/model32-$r.json"
    fi
  done
  r=$((r + 1))
done
