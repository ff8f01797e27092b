#!/usr/bin/env bash
# Publishes tools/golden-check for linux-arm64 (self-contained, JIT) and runs it under qemu-user emulation: the 13
# golden forward cases and the 1760 golden tokenizer cases, on the portable (AdvSimd) kernels. Not run by .ci/run
# (it takes minutes, docs/native.md); run as root on Debian 12 (it installs qemu-user-static and the arm64 C libraries).
# Usage: tools/arm64-golden.sh [WORK_DIR]   (default /tmp/distilbert-arm64)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/distilbert-arm64}
sysroot=$work/sysroot
mkdir -p "$work"

if ! command -v qemu-aarch64-static >/dev/null 2>&1; then
  apt-get update -q && apt-get install -y -q qemu-user-static
fi
# The app brings its own runtime; the arm64 loader, glibc and libstdc++ come from Debian's arm64 packages, unpacked
# into a sysroot that qemu's -L points at (no binfmt registration or chroot needed).
if [ ! -e "$sysroot/lib/ld-linux-aarch64.so.1" ]; then
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -q
  mkdir -p "$work/debs" "$sysroot"
  (cd "$work/debs" && apt-get download libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64)
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$sysroot"; done
fi

dotnet publish "$root/tools/golden-check" -c Release -r linux-arm64 --self-contained -o "$work/app" -v q -nologo
file "$work/app/golden-check"
start=$(date +%s)
qemu-aarch64-static -L "$sysroot" "$work/app/golden-check" "$root/tests/fixtures/golden"
echo "under qemu-aarch64: $(( $(date +%s) - start )) s"
