#!/usr/bin/env bash
# Sets up (apt packages) and runs the whole test suite. This is the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"
# The Slurm array + merge on a real single-node cluster (docs/sharding.md): on a full run as root
# (it installs slurm-wlm and munge when missing and starts the daemons); PM_SKIP_SLURM=1 skips it.
if [ $# -eq 0 ] && [ "${PM_SKIP_SLURM:-0}" != 1 ]; then
  if [ "$(id -u)" = 0 ]; then scripts/test-slurm.sh "$(swift build --show-bin-path)/pm"
  else echo "test.sh: Slurm test skipped (needs root)"; fi
fi
