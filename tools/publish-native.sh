#!/usr/bin/env bash
# Builds `distilbert` as one self-contained native executable (NativeAOT, no .NET needed to run it), see docs/native.md.
# Usage: tools/publish-native.sh [--avx512] [--out DIR]   (default DIR: artifacts/native)
#   default   IlcInstructionSet=x86-64-v3: AVX2 + FMA kernels, runs on any x86-64 CPU from 2015 on
#   --avx512  IlcInstructionSet=x86-64-v4: the AVX-512 kernels; refuses to start on a CPU without AVX-512
# NativeAOT needs clang and zlib's headers (Debian: apt-get install -y clang zlib1g-dev) besides the .NET 10 SDK.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/artifacts/native
isa=x86-64-v3
while [ $# -gt 0 ]; do
  case $1 in
    --avx512) isa=x86-64-v4 ;;
    --out) out=$2; shift ;;
    *) echo "error: unknown argument '$1' (usage: tools/publish-native.sh [--avx512] [--out DIR])" >&2; exit 1 ;;
  esac
  shift
done
case $(uname -m) in
  x86_64) rid=linux-x64 ;;
  aarch64) rid=linux-arm64; isa= ;;
  *) echo "error: no NativeAOT target for $(uname -m)" >&2; exit 1 ;;
esac
dotnet publish "$root/src/DistilBert.Cli" -c Release -r "$rid" -p:PublishAot=true ${isa:+-p:IlcInstructionSet=$isa} \
  -o "$out" -nologo -v q
# the native binary takes the command's name; the shipped defaults (sentiment teacher, SST-2 samples) sit beside it
mv -f "$out/DistilBert.Cli" "$out/distilbert"
rm -f "$out"/*.dbg
ls -l "$out/distilbert"
"$out/distilbert" --version >/dev/null
