#!/usr/bin/env bash
# The attack table of docs/reliability.md: builds the CLI once into a scratch folder, then runs every fragment in
# tools/attack/ against it. Each fragment makes its hostile inputs in a temp folder and prints one markdown row per
# input: area, input, exit code, first stderr line, seconds, peak RSS. Usage: tools/attack.sh [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$(mktemp -d)}
mkdir -p "$out"
echo "building the CLI into $out/cli ..." >&2
dotnet build "$root/src/DistilBert.Cli" -c Release -o "$out/cli" -v q -nologo >&2
dll="$out/cli/distilbert.dll"
[ -f "$dll" ] || dll="$out/cli/DistilBert.Cli.dll"
echo "| area | hostile input | exit code | first stderr line | seconds | peak RSS MiB |"
echo "| --- | --- | ---: | --- | ---: | ---: |"
for fragment in "$root"/tools/attack/*.sh; do
  (cd "$root" && bash "$fragment" "$dll") || echo "| $(basename "$fragment" .sh) | (fragment failed: exit $?) | | | | |"
done
