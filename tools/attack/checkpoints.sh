#!/usr/bin/env bash
# Hostile checkpoints and configs against the CLI: one markdown table row per case.
# bash tools/attack/checkpoints.sh path/to/DistilBert.Cli.dll
set -u
CLI=${1:?usage: checkpoints.sh path/to/DistilBert.Cli.dll}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 "$HERE/checkpoints.py" "$WORK/cases" || { echo "| checkpoints | (generating the inputs failed) | - | - | - | - |"; exit 1; }

# run DESCRIPTION ARGS...: the CLI under time and a 60 s timeout, one row
run() {
    local what=$1; shift
    local timing="$WORK/time" err="$WORK/stderr"
    /usr/bin/time -o "$timing" -f '%e %M' timeout 60 dotnet "$CLI" "$@" >/dev/null 2>"$err"
    local code=$?
    local line
    line=$(grep -v '^\s*$' "$err" | head -n 1 | sed "s#$WORK/cases/##g; s/|/\\\\|/g" | cut -c1-100)
    local seconds kb
    read -r seconds kb < <(tail -n 1 "$timing")
    printf '| checkpoints | %s | %s | %s | %s | %s |\n' "$what" "$code" "$line" "$seconds" "$(( ${kb:-0} / 1024 ))"
}

cases="$WORK/cases"
for d in "$cases"/config-*; do
    run "config.json: ${d##*/config-} (embed)" embed --model "$d" "hello world"
done
run "model.safetensors with no tensors (embed)" embed --model "$cases/weights-empty-safetensors" "hello world"
run "model.safetensors without the model's tensors (embed)" embed --model "$cases/weights-unrelated-names" "hello world"
run "NaN in a weight (embed)" embed --model "$cases/weights-nan" "hello world"
run "-Inf in a weight (embed)" embed --model "$cases/weights-inf" "hello world"
run "21 MB pytorch_model.bin, one stored storage per tensor (embed)" embed --model "$cases/bin-21MB-per-tensor-stored" "hello world"
run "21 MB pytorch_model.bin, all tensors in one deflated storage (embed)" embed --model "$cases/bin-21MB-one-deflated-storage" "hello world"
run "1 MB bin: 1,031 tensors viewing the end of one deflated 4 MB storage (embed)" embed --model "$cases/bin-crafted-views-of-deflated-4MB" "hello world"
run "negative storage offset (info)" info "$cases/bin-negative-storage-offset"
run "negative storage offset (embed)" embed --model "$cases/bin-negative-storage-offset" "hello world"
run "data.pkl of 64 MB TUPLE1 opcodes, deflated (info)" info "$cases/bin-pickle-64MB-of-TUPLE1"
run "data.pkl of 8 MB TUPLE1 opcodes, deflated (info)" info "$cases/bin-pickle-8MB-of-TUPLE1"
run "zip entry claims 3 GB inflated from 64 bytes (info)" info "$cases/bin-zip-entry-claims-3GB"
run "zip entry claims 3 GB inflated from 64 bytes (embed)" embed --model "$cases/bin-zip-entry-claims-3GB" "hello world"
