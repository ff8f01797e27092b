#!/usr/bin/env bash
# Wall time of one-shot commands, run in alternation (round r runs every command once) so a machine whose load drifts
# affects all alike; prints each command's median and min over the rounds. Used for docs/startup.md and docs/native.md.
# Usage: tools/startup-bench.sh ROUNDS 'label=command' ['label=command' ...]
set -euo pipefail
rounds=$1; shift
declare -A times
for r in $(seq 1 "$rounds"); do
  for spec in "$@"; do
    label=${spec%%=*}; cmd=${spec#*=}
    start=$(date +%s%N)
    bash -c "$cmd" >/dev/null 2>&1 || { echo "error: '$cmd' failed" >&2; exit 1; }
    times[$label]+="$(( ($(date +%s%N) - start) / 1000000 )) "
  done
done
for spec in "$@"; do
  label=${spec%%=*}
  sorted=$(tr ' ' '\n' <<<"${times[$label]}" | grep . | sort -n)
  n=$(wc -l <<<"$sorted")
  median=$(sed -n "$(( (n + 1) / 2 ))p" <<<"$sorted")
  printf '%-28s median %6d ms  min %6d ms  (%d runs)\n' "$label" "$median" "$(head -1 <<<"$sorted")" "$n"
done
