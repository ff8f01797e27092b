#!/usr/bin/env bash
# The server load test of issue 15 (docs/server.md, "Load test"): `distilbert serve` against (a) itself with batching
# off (--max-batch-requests 1) and (b) a per-request ONNX Runtime server (bench/DistilBert.OrtServer), on loopback,
# SST-2 sentences in file order, classification on the quickstart student and on a distilbert-base-shaped model.
#
# Usage: tools/loadtest.sh [OUT_DIR] [PHASE...]      (default OUT_DIR /tmp/loadtest; phases: all of them, in order)
#   models    build, make the two models (quickstart student, distilbert-base with random weights) and their ONNX files
#   check     (b) must answer as ours does (same labels, scores within 1e-4) on CHECK_COUNT sentences
#   table     throughput, p50, p99 and the server's CPU time per request at each of CONCURRENCIES, ROUNDS rounds; each
#             run starts its server, warms it for WARMUP s, measures for SECONDS_PER_RUN s, stops it; the servers take
#             turns in a rotated order every run; after the concurrency-1 runs, the bare engine (our pipeline
#             in-process, one sentence at a time, BARE_COUNT sentences, no HTTP)
#   overload  ours with --max-concurrent-requests 64 driven by 256 clients: only 200s and 429s, RSS sampled
#   soak      ours at concurrency 32 for SOAK_SECONDS (600), RSS sampled every 10 s
#   report    the markdown tables from OUT_DIR's JSON files
# Environment: SECONDS_PER_RUN (20), WARMUP (5), ROUNDS (1), CONCURRENCIES ("1 8 32 128"), SOAK_SECONDS (600),
#   CHECK_COUNT (300), BARE_COUNT (300), PORT (18431), STUDENT (a quickstart student folder to reuse instead of distilling one, ~4 min),
#   ONNX_CLI (a DistilBert.Cli.dll that has `export-onnx`; default: ours, once it has the command).
# One server runs at a time; the client and the server share the machine's cores. Every step is bounded by `timeout`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/loadtest}
shift || true
phases=${*:-models check table overload soak report}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-20}
WARMUP=${WARMUP:-5}
ROUNDS=${ROUNDS:-1}
CONCURRENCIES=${CONCURRENCIES:-1 8 32 128}
SOAK_SECONDS=${SOAK_SECONDS:-600}
CHECK_COUNT=${CHECK_COUNT:-300}
BARE_COUNT=${BARE_COUNT:-300}
PORT=${PORT:-18431}
tsv=$root/samples/sst2/validation.tsv
cli=$root/src/DistilBert.Cli/bin/Release/net10.0/DistilBert.Cli.dll
client=$root/bench/DistilBert.LoadClient/bin/Release/net10.0/DistilBert.LoadClient.dll
ort=$root/bench/DistilBert.OrtServer/bin/Release/net10.0/DistilBert.OrtServer.dll
models="student base"
mkdir -p "$out/models" "$out/runs" "$out/logs"
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
load1() { cut -d' ' -f1 /proc/loadavg; }

server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    timeout 30 tail --pid="$server_pid" -f /dev/null || kill -KILL "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap stop_server EXIT

# start_server KIND MODEL [EXTRA SERVE OPTIONS...]; KIND: ours, unbatched, ort. Bounded: it is killed after an hour.
start_server() {
  local kind=$1 model=$2; shift 2
  local folder=$out/models/$model
  case $kind in
    ours)      timeout 3600 dotnet "$cli" serve --model "$model=$folder" --port "$PORT" "$@" > "$out/logs/server-$kind-$model.log" 2>&1 & ;;
    unbatched) timeout 3600 dotnet "$cli" serve --model "$model=$folder" --port "$PORT" --max-batch-requests 1 "$@" > "$out/logs/server-$kind-$model.log" 2>&1 & ;;
    ort)       timeout 3600 dotnet "$ort" serve --model "$folder" --onnx "$out/models/$model.onnx" --port "$PORT" > "$out/logs/server-$kind-$model.log" 2>&1 & ;;
  esac
  server_pid=$!
  for _ in $(seq 1 120); do
    if curl -sf -o /dev/null "http://127.0.0.1:$PORT/health"; then return 0; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then cat "$out/logs/server-$kind-$model.log" >&2; echo "error: the $kind server did not start" >&2; exit 1; fi
    sleep 0.5
  done
  echo "error: the $kind server did not answer /health within 60 s" >&2; exit 1
}

# The server process itself: `timeout` runs dotnet as its child.
server_process() { pgrep -P "$server_pid" -n || echo "$server_pid"; }

run_client() { timeout $(( ${2%.*} + 120 )) dotnet "$client" --url "http://127.0.0.1:$PORT" --tsv "$tsv" "${@:3}" --json "$1"; }

for phase in $phases; do
  case $phase in
  models)
    log "building"
    dotnet build "$root/src/DistilBert.Cli" -c Release -v q -nologo >&2
    dotnet build "$root/bench/DistilBert.LoadClient" -c Release -v q -nologo >&2
    dotnet build "$root/bench/DistilBert.OrtServer" -c Release -v q -nologo >&2
    if [ ! -f "$out/models/student/model.safetensors" ]; then
      if [ -n "${STUDENT:-}" ]; then cp -r "$STUDENT" "$out/models/student"
      else log "distilling the quickstart student"; timeout 1800 dotnet "$cli" quickstart --out "$out/models/student" >&2; fi
    fi
    if [ ! -f "$out/models/base/model.safetensors" ]; then
      log "distilbert-base-shaped classifier, random weights"
      jq -n '{architectures: ["DistilBertForSequenceClassification"], model_type: "distilbert", activation: "gelu",
              dim: 768, hidden_dim: 3072, n_heads: 12, n_layers: 6, vocab_size: 30522, max_position_embeddings: 512,
              sinusoidal_pos_embds: false, pad_token_id: 0, initializer_range: 0.02, dropout: 0.1, attention_dropout: 0.1,
              qa_dropout: 0.1, seq_classif_dropout: 0.2, id2label: {"0": "negative", "1": "positive"},
              label2id: {negative: 0, positive: 1}}' > "$out/models/base-config.json"
      timeout 300 dotnet "$cli" init --config "$out/models/base-config.json" --out "$out/models/base" >&2
      cp "$root/models/sentiment-teacher/vocab.txt" "$root/models/sentiment-teacher/tokenizer_config.json" "$out/models/base/"
    fi
    exporter=${ONNX_CLI:-}
    if [ -z "$exporter" ] && dotnet "$cli" export-onnx --help > /dev/null 2>&1; then exporter=$cli; fi
    for model in $models; do
      [ -f "$out/models/$model.onnx" ] && continue
      if [ -z "$exporter" ]; then
        echo "error: no CLI with export-onnx: set ONNX_CLI to a DistilBert.Cli.dll that has it (or put $model.onnx in $out/models)" >&2
        exit 1
      fi
      log "exporting $model to ONNX with $exporter"
      timeout 600 dotnet "$exporter" export-onnx --model "$out/models/$model" --out "$out/models/$model.onnx" >&2
    done
    ;;
  check)
    for model in $models; do
      log "check: (b) against ours on $CHECK_COUNT sentences, $model"
      # Ours on PORT, (b) on PORT+1, both up for the comparison only.
      start_server ours "$model"; ours_pid=$server_pid
      PORT=$((PORT + 1)) start_server ort "$model"
      timeout 600 dotnet "$client" --url "http://127.0.0.1:$PORT" --tsv "$tsv" --compare-url "http://127.0.0.1:$((PORT + 1))" \
        --count "$CHECK_COUNT" | tee "$out/runs/check-$model.txt"
      stop_server; server_pid=$ours_pid; stop_server
    done
    ;;
  table)
    servers=(ours unbatched ort)
    turn=0
    for round in $(seq 1 "$ROUNDS"); do
      for model in $models; do
        for c in $CONCURRENCIES; do
          for i in 0 1 2; do
            kind=${servers[$(( (turn + i) % 3 ))]}
            start_server "$kind" "$model"
            before=$(load1)
            run_client "$out/runs/table-$model-$kind-c$c-r$round.json" "$((WARMUP + SECONDS_PER_RUN))" \
              --concurrency "$c" --warmup "$WARMUP" --duration "$SECONDS_PER_RUN" --server-pid "$(server_process)" --rss-interval 5 \
              > "$out/logs/client-$model-$kind-c$c-r$round.txt" || true
            after=$(load1)
            jq -c --arg m "$model" --arg k "$kind" --arg b "$before" --arg a "$after" '. + {model: $m, server: $k, load_before: ($b|tonumber), load_after: ($a|tonumber)}' \
              "$out/runs/table-$model-$kind-c$c-r$round.json" > "$out/runs/tmp.json" && mv "$out/runs/tmp.json" "$out/runs/table-$model-$kind-c$c-r$round.json"
            log "$model $kind c=$c round $round: $(jq -r '"\(.requests_per_s|floor) req/s  p50 \(.p50_ms) ms  p99 \(.p99_ms) ms  \(.statuses)"' "$out/runs/table-$model-$kind-c$c-r$round.json")  load $before -> $after"
            stop_server
          done
          if [ "$c" = 1 ]; then
            log "bare engine, $model, round $round"
            timeout 600 dotnet "$ort" bare --model "$out/models/$model" --tsv "$tsv" --count "$BARE_COUNT" --warmup 100 \
              | jq -c --arg b "$(load1)" '. + {load: ($b|tonumber)}' > "$out/runs/bare-$model-r$round.json"
            log "$(cat "$out/runs/bare-$model-r$round.json")"
          fi
          turn=$((turn + 1))
        done
      done
    done
    ;;
  overload)
    for model in $models; do
      log "overload: $model, --max-concurrent-requests 64, 256 clients"
      start_server ours "$model" --max-concurrent-requests 64
      before=$(load1)
      run_client "$out/runs/overload-$model.json" "$((WARMUP + 30))" --concurrency 256 --warmup "$WARMUP" --duration 30 \
        --server-pid "$(server_process)" --rss-interval 2 > "$out/logs/client-overload-$model.txt" && rc=0 || rc=$?
      alive=$(kill -0 "$(server_process)" 2>/dev/null && echo true || echo false)
      jq -c --arg b "$before" --arg a "$(load1)" --argjson rc "$rc" --argjson alive "$alive" \
        '. + {load_before: ($b|tonumber), load_after: ($a|tonumber), client_exit: $rc, server_alive_after: $alive}' \
        "$out/runs/overload-$model.json" > "$out/runs/tmp.json" && mv "$out/runs/tmp.json" "$out/runs/overload-$model.json"
      cat "$out/logs/client-overload-$model.txt" >&2
      stop_server
    done
    ;;
  soak)
    model=${SOAK_MODEL:-base}
    log "soak: $model, concurrency 32, $SOAK_SECONDS s"
    start_server ours "$model"
    before=$(load1)
    run_client "$out/runs/soak-$model.json" "$((WARMUP * 6 + SOAK_SECONDS))" --concurrency 32 --warmup "$((WARMUP * 6))" \
      --duration "$SOAK_SECONDS" --server-pid "$(server_process)" --rss-interval 10 > "$out/logs/client-soak-$model.txt" || true
    jq -c --arg b "$before" --arg a "$(load1)" '. + {load_before: ($b|tonumber), load_after: ($a|tonumber)}' \
      "$out/runs/soak-$model.json" > "$out/runs/tmp.json" && mv "$out/runs/tmp.json" "$out/runs/soak-$model.json"
    cat "$out/logs/client-soak-$model.txt" >&2
    stop_server
    ;;
  report)
    /usr/bin/python3 - "$out" <<'EOF'
import glob, json, os, statistics, sys
out = sys.argv[1]
runs = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, "runs", "table-*.json")))]
bares = {m: [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, "runs", f"bare-{m}-r*.json")))] for m in ("student", "base")}
bare = {m: {k: statistics.median(b[k] for b in bs) for k in ("p50_ms", "p99_ms")} for m, bs in bares.items() if bs}
names = {"ours": "ours (batching)", "unbatched": "(a) ours, batching off", "ort": "(b) ONNX Runtime per request"}
for model in ("student", "base"):
    mine = [r for r in runs if r["model"] == model]
    if not mine: continue
    print(f"\n{model} (medians over the rounds)" + (f" — bare engine, one sentence in-process: p50 (median over rounds) {bare[model]['p50_ms']:.2f} ms, p99 {bare[model]['p99_ms']:.2f} ms" if model in bare else ""))
    print("\n| server | concurrency | requests/s | p50 ms | p99 ms | server CPU ms / request | statuses | load 1-min (before → after) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for c in sorted({r["concurrency"] for r in mine}):
        for kind in ("ours", "unbatched", "ort"):
            rs = [r for r in mine if r["concurrency"] == c and r["server"] == kind]
            if not rs: continue
            med = lambda k: statistics.median(r[k] for r in rs)
            loads = "; ".join(f"{r['load_before']:.0f} → {r['load_after']:.0f}" for r in rs)
            statuses = ", ".join(f"{k}: {sum(r['statuses'].get(k, 0) for r in rs)}" for k in sorted({k for r in rs for k in r["statuses"]}))
            print(f"| {names[kind]} | {c} | {med('requests_per_s'):.0f} | {med('p50_ms'):.2f} | {med('p99_ms'):.2f} | {med('server_cpu_ms_per_request'):.2f} | {statuses} | {loads} |")
    by = {(r["server"], r["concurrency"]): statistics.median(x["requests_per_s"] for x in mine if x["server"] == r["server"] and x["concurrency"] == r["concurrency"]) for r in mine}
    if ("ours", 32) in by and ("ort", 32) in by:
        print(f"\nconcurrency 32: ours / (b) = {by[('ours', 32)] / by[('ort', 32)]:.2f}×, ours / (a) = {by[('ours', 32)] / by[('unbatched', 32)]:.2f}×")
    p50 = [r["p50_ms"] for r in mine if r["server"] == "ours" and r["concurrency"] == 1]
    if p50 and model in bare:
        print(f"concurrency 1: ours p50 / bare p50 = {statistics.median(p50) / bare[model]['p50_ms']:.2f}×")
for path in sorted(glob.glob(os.path.join(out, "runs", "overload-*.json")) + glob.glob(os.path.join(out, "runs", "soak-*.json"))):
    r = json.load(open(path))
    rss = [s[1] for s in r["rss_mb"]]
    print(f"\n{os.path.basename(path)}: {r['requests']} requests in {r['seconds']:.0f} s ({r['requests_per_s']:.0f}/s), statuses {r['statuses']}, "
          f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms; RSS MB first {rss[0]:.1f}, max {max(rss):.1f}, last {rss[-1]:.1f} "
          f"({(rss[-1] / rss[0] - 1) * 100:+.1f} % last vs first, {len(rss)} samples); load {r['load_before']:.0f} → {r['load_after']:.0f}"
          + (f"; client exit {r['client_exit']}, server alive after: {r['server_alive_after']}" if "client_exit" in r else ""))
EOF
    ;;
  *) echo "error: unknown phase '$phase'" >&2; exit 2 ;;
  esac
done
