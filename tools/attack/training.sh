#!/usr/bin/env bash
# Attack fragment: training runs, checkpoints, resume and model-folder writing.
# Usage: tools/attack/training.sh path/to/DistilBert.Cli.dll
# Builds nothing. Generates each hostile input into a temp folder, runs the CLI on it under /usr/bin/time and
# timeout 60, and prints one markdown row per input:
# | area | hostile input | exit code | first stderr line | seconds | peak RSS MiB |
# Rows whose last column group is a verdict (leftovers, kill -9 drill) put it in the stderr column after "→".
set -u
CLI=${1:?usage: $0 path/to/DistilBert.Cli.dll}
CLI=$(cd "$(dirname "$CLI")" && pwd)/$(basename "$CLI")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VOCAB=$ROOT/tests/fixtures/golden/tokenizer/vocab.txt
TRAIN=$ROOT/samples/sst2/distill-train.tsv
DEV=$ROOT/samples/sst2/validation.tsv
AREA=training
WORK=$(mktemp -d "${TMPDIR:-/tmp}/atr-XXXXXX") # short: error lines start with the path of the file at fault
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

# Runs the CLI; sets CODE, ERR (first stderr line, trimmed), SECS, RSS.
run() {
  /usr/bin/time -f '%e %M' -o "$WORK/time.txt" timeout 60 dotnet "$CLI" "$@" >"$WORK/out.txt" 2>"$WORK/err.txt"
  CODE=$?
  ERR=$(head -n 1 "$WORK/err.txt" | tr -d '\r|' | cut -c1-100)
  if [ -s "$WORK/time.txt" ] && read -r SECS KB < <(tail -n 1 "$WORK/time.txt") && [[ "$KB" =~ ^[0-9]+$ ]]; then
    RSS=$((KB / 1024))
  else
    SECS=-; RSS=-
  fi
}

row() { # $1 = description, [$2 = verdict]
  local text=$ERR
  [ -n "${2:-}" ] && text="${ERR:-(no stderr)} → $2"
  printf '| %s | %s | %s | %s | %s | %s |\n' "$AREA" "$1" "$CODE" "$text" "$SECS" "$RSS"
}

# ---- setup: a tiny model and one finished run with checkpoints and an evaluation -------------------------------
echo '{"model_type":"distilbert","dim":16,"n_layers":1,"n_heads":2,"hidden_dim":32,"vocab_size":30522,"max_position_embeddings":64,"architectures":["DistilBertForMaskedLM"]}' > tiny.json
dotnet "$CLI" init --config tiny.json --out tiny --seed 1 >/dev/null || { echo "setup failed: init" >&2; exit 1; }
cp "$VOCAB" tiny/
TRAIN_ARGS=(train classify --model tiny --train "$TRAIN" --limit 64 --eval "$DEV" --eval-limit 16 --eval-every 4
  --epochs 1 --batch-size 8 --max-length 24 --save-every 2 --seed 3 --plain)
dotnet "$CLI" "${TRAIN_ARGS[@]}" --out base >/dev/null 2>&1 || { echo "setup failed: train" >&2; exit 1; }

# A copy of the finished run with trainer_state.json edited by a Python expression on `s` (the parsed JSON).
state_case() { # $1 = description, $2 = python statement
  rm -rf r && cp -r base r
  python3 - r/checkpoint/trainer_state.json "$2" <<'EOF'
import json, sys
path, code = sys.argv[1], sys.argv[2]
s = json.load(open(path))
exec(code)
open(path, "w").write(json.dumps(s, indent=2, allow_nan=True))
EOF
  run "${TRAIN_ARGS[@]}" --out r --resume
  row "trainer_state.json: $1"
}

state_case "global_step 999999" 's["global_step"] = 999999'
state_case "global_step -5" 's["global_step"] = -5'
state_case "global_step 3 (epoch/batch say 8)" 's["global_step"] = 3'
state_case "epoch 2147483647" 's["epoch"] = 2147483647'
state_case "batch_in_epoch 2147483647" 's["batch_in_epoch"] = 2147483647'
# Non-finite numbers as this program writes them ("NaN" strings) and as Python writes them (bare NaN).
state_case "training_seconds \"NaN\"" 's["training_seconds"] = "NaN"'
state_case "training_seconds bare NaN" 's["training_seconds"] = float("nan")'
state_case "best_metric \"Infinity\"" 's["best_metric"] = "Infinity"'
state_case "evaluations[0].epoch \"-Infinity\"" 's["evaluations"][0]["epoch"] = "-Infinity"'
state_case "best_step on no evaluation" 's["best_step"] = 1'
state_case "evaluations[0].main_metric unknown" 's["evaluations"][0]["main_metric"] = "nope"'
state_case "evaluations[0].step 10^6" 's["evaluations"][0]["step"] = 10**6'
state_case "options.learning_rate \"NaN\"" 's["options"]["learning_rate"] = "NaN"'
state_case "options.beta2 1.5" 's["options"]["beta2"] = 1.5'
state_case "stopped_early true, finished false" 's["stopped_early"] = True; s["finished"] = False'
state_case "examples_seen 10^12" 's["examples_seen"] = 10**12'
state_case "options removed" 'del s["options"]'
state_case "global_step removed" 'del s["global_step"]'
state_case "dropout_random_state -1" 's["dropout_random_state"] = -1'

rm -rf r && cp -r base r
sed -i '0,/{/s//{"global_step": 5,/' r/checkpoint/trainer_state.json
run "${TRAIN_ARGS[@]}" --out r --resume; row "trainer_state.json: duplicate global_step key"

rm -rf r && cp -r base r
truncate -s 100M r/checkpoint/trainer_state.json
run "${TRAIN_ARGS[@]}" --out r --resume; row "trainer_state.json: 100 MB (sparse)"

rm -rf r && cp -r base r
head -c 200 base/checkpoint/trainer_state.json > r/checkpoint/trainer_state.json
run "${TRAIN_ARGS[@]}" --out r --resume; row "trainer_state.json: cut at 200 bytes"

rm -rf r && cp -r base r
run "${TRAIN_ARGS[@]}" --out r --resume --max-steps 2; row "--resume --max-steps 2 on a run at step 8"

# optimizer.safetensors edited tensor by tensor (stdlib safetensors reader/writer).
optimizer_case() { # $1 = description, $2 = python statement on `t` (name -> [dtype, shape, bytes])
  rm -rf r && cp -r base r
  python3 - r/checkpoint/optimizer.safetensors "$2" <<'EOF'
import json, struct, sys
path, code = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n]); data = raw[8 + n:]
t = {k: [v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]] for k, v in header.items() if k != "__metadata__"}
exec(code)
out, body, off = {}, b"", 0
for k, (dt, shape, b) in sorted(t.items()):
    out[k] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(b)]}; body += b; off += len(b)
h = json.dumps(out).encode(); h += b" " * (-len(h) % 8)
open(path, "wb").write(struct.pack("<Q", len(h)) + h + body)
EOF
  run "${TRAIN_ARGS[@]}" --out r --resume
  row "optimizer.safetensors: $1"
}

optimizer_case "exp_avg.classifier.bias 3 elements (param has 2)" 't["exp_avg.classifier.bias"] = ["F32", [3], struct.pack("<3f", 0, 0, 0)]'
optimizer_case "exp_avg_sq.classifier.bias NaN" 't["exp_avg_sq.classifier.bias"][2] = struct.pack("<2f", float("nan"), 0)'
optimizer_case "exp_avg_sq.classifier.bias -1" 't["exp_avg_sq.classifier.bias"][2] = struct.pack("<2f", -1, 0)'
optimizer_case "step.classifier.bias 0" 't["step.classifier.bias"][2] = struct.pack("<q", 0)'
optimizer_case "step.classifier.bias 2^62" 't["step.classifier.bias"][2] = struct.pack("<q", 2**62)'
optimizer_case "tensor for an unknown parameter" 't["exp_avg.no.such.param"] = ["F32", [1], struct.pack("<f", 0)]'

# ---- --out overlapping an input model folder ------------------------------------------------------------------
cp -r tiny model
ln -s model model-link
SMALL=(--train "$DEV" --limit 8 --plain)
run train classify --model model "${SMALL[@]}" --out model; row "train classify --out = --model"
run train classify --model model "${SMALL[@]}" --out model/run; row "train classify --out inside --model"
run train classify --model model "${SMALL[@]}" --out .; row "train classify --out containing --model"
run train classify --model model "${SMALL[@]}" --out model-link; row "train classify --out = symlink to --model"
run distill --teacher tiny --student model --corpus "$ROOT/samples/reviews.txt" --out model --plain; row "distill --out = --student"
run distill-task classify --teacher model --init-from-teacher --train "$DEV" --out model/ --plain; row "distill-task --out = --teacher/"
run init-student --teacher model --out model; row "init-student --out = --teacher"
run quickstart --teacher model --out model-link; row "quickstart --out = symlink to --teacher"
run init --config model/config.json --out model; row "init --out holding --config"
cmp -s tiny/model.safetensors model/model.safetensors && same=untouched || same=CHANGED
CODE=-; ERR=; SECS=-; RSS=-; row "the input model after the 9 attempts above" "model.safetensors $same"

# ---- stale temporaries of a killed writer vs a live writer's -------------------------------------------------
rm -rf r && cp -r base r
sh -c 'exit 0' & dead=$!; wait $dead
sleep 30 & live=$!
mkdir -p "r/.checkpoint.tmp-$dead-0123456789abcdef0123456789abcdef/model"
head -c 1000 /dev/zero > "r/.model.safetensors.tmp-$dead-fedcba9876543210fedcba9876543210"
mkdir -p "r/.checkpoint.tmp-$live-00112233445566778899aabbccddeeff"
touch r/.checkpoint.tmp-not-ours
run "${TRAIN_ARGS[@]}" --out r --resume
stale=$(ls -a r | grep -c "tmp-$dead-"); kept=$(ls -a r | grep -c "tmp-$live-\|tmp-not-ours")
kill "$live" 2>/dev/null; wait "$live" 2>/dev/null
row "2 leftovers of a dead pid, 1 of a live pid, 1 foreign name; --resume" "dead pid's left: $stale, live/foreign kept: $kept of 2"

# ---- kill -9 mid-write at random points, then --resume: same bytes as an uninterrupted run --------------------
KILL_ARGS=(train classify --model tiny --train "$TRAIN" --limit 160 --eval "$DEV" --eval-limit 16 --eval-every 5
  --epochs 2 --batch-size 8 --max-length 24 --lr 1e-3 --save-every 2 --seed 5 --plain)
dotnet "$CLI" "${KILL_ARGS[@]}" --out straight >/dev/null 2>&1
rm -rf killed; kills=0; leftovers=0
for attempt in 1 2 3 4 5 6; do
  resume=(); [ -f killed/checkpoint/trainer_state.json ] && resume=(--resume)
  target=$((RANDOM % 38 + 1))
  dotnet "$CLI" "${KILL_ARGS[@]}" --out killed "${resume[@]}" >/dev/null 2>&1 & pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    lines=$(cat killed/metrics.jsonl 2>/dev/null | wc -l)
    if [ "$lines" -ge "$target" ] && ls -a killed 2>/dev/null | grep -q "\.tmp-$pid-"; then
      kill -9 "$pid"; kills=$((kills + 1)); break
    fi
  done
  wait "$pid" 2>/dev/null
  leftovers=$((leftovers + $(find killed -name '*.tmp-*' 2>/dev/null | wc -l)))
  [ "$kills" -ge 2 ] && [ "$leftovers" -gt 0 ] && break
done
resume=(); [ -f killed/checkpoint/trainer_state.json ] && resume=(--resume)
run "${KILL_ARGS[@]}" --out killed "${resume[@]}"
cmp -s straight/model.safetensors killed/model.safetensors && verdict="identical model" || verdict="MODEL DIFFERS"
row "train classify: $kills× kill -9 mid-write ($leftovers temporaries left), then --resume" \
  "$verdict, $(find killed -name '*.tmp-*' | wc -l) temporaries after"
