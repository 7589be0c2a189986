#!/usr/bin/env bash
# The C kernels (CKernels/) on their own: CKernels/tests/kernels_test.c checks every code path
# against the scalar reference (black76_ref.c) and the text kernels against plain loops. Built
# natively (clang: the AVX2/AVX-512 paths too) and for aarch64 with Debian's cross compiler, run
# there under qemu-user (only the scalar paths exist on aarch64; timings under qemu mean nothing).
# Installs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user with apt when missing (as root).
# scripts/test.sh runs this in a full run; PM_SKIP_ARM64=1 skips it there.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Only the computation sources: the kernels have no other dependency than libm.
sources=(CKernels/*.c CKernels/tests/kernels_test.c)
# Contraction off, as the kernels' own `#pragma STDC FP_CONTRACT OFF` asks: gcc ignores that
# pragma (and contracts by default), clang honours it; the flag makes both round the same way.
flags=(-O2 -std=gnu11 -ffp-contract=off -Wall -Wno-unknown-pragmas -ICKernels/include -ICKernels)

cc=clang
command -v "$cc" >/dev/null || cc=cc
echo "test-arm64.sh: native ($(uname -m), $cc)"
"$cc" "${flags[@]}" "${sources[@]}" -lm -o "$out/kernels_test"
"$out/kernels_test"

if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null \
   || [ ! -d /usr/aarch64-linux-gnu/lib ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test-arm64.sh: needs gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user (apt, as root)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user >/dev/null \
    || { apt-get update -qq && apt-get install -y -qq gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user >/dev/null; }
fi
echo "test-arm64.sh: aarch64 (aarch64-linux-gnu-gcc, qemu-aarch64)"
aarch64-linux-gnu-gcc "${flags[@]}" "${sources[@]}" -lm -o "$out/kernels_test.arm64"
qemu-aarch64 -L /usr/aarch64-linux-gnu "$out/kernels_test.arm64"
