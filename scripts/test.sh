#!/usr/bin/env bash
# Sets up (apt packages) and runs the whole test suite. This is the README's test command.
# With arguments (e.g. --filter X) only `swift test` runs; a full run adds the Slurm and fuzz steps.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step's wall time, so a slow CI run shows where its minutes went.
START=$SECONDS; LAST=$SECONDS
step() { echo "test.sh: [$((SECONDS - START)) s, +$((SECONDS - LAST)) s] $*" >&2; LAST=$SECONDS; }
trap 'step "end (status $?)"' EXIT
scripts/setup.sh
step "setup"
swift build --build-tests
step "debug build"
# With arguments: only the suite (under a private TMPDIR: it fails if the run leaves anything in
# the temporary directory).
if [ $# -gt 0 ]; then scripts/test-tmpclean.sh "$@"; step "suite"; exit 0; fi
# The fuzz binary is one single-threaded compile (scripts/fuzz.sh): built in the background from
# here on, it uses the core the steps below leave idle (the peers, Slurm, qemu and the argument
# fuzzer run mostly on one). It is waited for, and its log shown on failure, before the fuzz step.
fuzz_build=
if [ "${PM_FUZZ_SECONDS:-7}" != 0 ]; then
  mkdir -p .build-fuzz
  # Its own process group (setsid), so that the trap below stops the compiler with it.
  PM_FUZZ_BUILD_ONLY=1 setsid -w scripts/fuzz.sh >.build-fuzz/build.log 2>&1 &
  fuzz_build=$!
  trap 'exit_status=$?; [ -z "$fuzz_build" ] || kill -- -"$fuzz_build" 2>/dev/null; step "end (status $exit_status)"' EXIT
fi
# The whole suite runs once (scripts/suite-split.sh): here, without a sanitizer, only what the
# AddressSanitizer step leaves out (`plain_only`: the end-to-end refusal and format suites, the
# determinism suite and the kill test); everything else under AddressSanitizer in the sanitizer
# step below. With PM_SKIP_SANITIZERS=1 all of it runs here.
. scripts/suite-split.sh
if [ "${PM_SKIP_SANITIZERS:-0}" = 1 ]; then scripts/test-tmpclean.sh
else scripts/test-tmpclean.sh --filter "$plain_only"; fi
step "suite"
# Same bytes every run (docs/formats.md "Reproducibility"), on a larger book than the suite's DeterminismTests.
scripts/test-determinism.sh "$(swift build --show-bin-path)/pm" 20000
step "determinism"
# The Slurm array + merge on a real single-node cluster (docs/sharding.md): on a full run as root
# (it installs slurm-wlm and munge when missing and starts the daemons); PM_SKIP_SLURM=1 skips it.
if [ "${PM_SKIP_SLURM:-0}" != 1 ]; then
  if [ "$(id -u)" = 0 ]; then scripts/test-slurm.sh "$(swift build --show-bin-path)/pm"
  else echo "test.sh: Slurm test skipped (needs root)"; fi
  step "slurm"
fi
# The C kernels natively and for aarch64 under qemu-user (scripts/test-arm64.sh); PM_SKIP_ARM64=1 skips it.
[ "${PM_SKIP_ARM64:-0}" = 1 ] || { scripts/test-arm64.sh; step "arm64"; }
[ "${PM_SKIP_PEER:-0}" = 1 ] || { scripts/test-peer.sh "$(swift build --show-bin-path)/pm"; step "peer"; }  # the Python peer agrees with pm batch (scripts/peer)
[ "${PM_SKIP_PEER:-0}" = 1 ] || { scripts/test-backtest-peer.sh "$(swift build --show-bin-path)/pm"; step "backtest peer"; }  # the backtest's Python peer agrees with pm backtest (scripts/peer)
# Sanitizers: UnitTests, FaultTests and the engine-reaching end-to-end suites under AddressSanitizer,
# the threaded tests under ThreadSanitizer
# (scripts/test-sanitizers.sh); PM_SKIP_SANITIZERS=1 skips them.
[ "${PM_SKIP_SANITIZERS:-0}" = 1 ] || { scripts/test-sanitizers.sh; step "sanitizers"; }
# Every command's arguments, hostile, against the AddressSanitizer binary when it was built
# (Fuzz/README.md "Arguments"); PM_FUZZ_ARGV_SECONDS (default 60, 0 skips).
if [ "${PM_FUZZ_ARGV_SECONDS:-60}" != 0 ]; then
  argv_pm=.build-asan/debug/pm
  [ -x "$argv_pm" ] || argv_pm="$(swift build --show-bin-path)/pm"
  python3 Fuzz/argv/fuzz-argv.py "$argv_pm" --seconds "${PM_FUZZ_ARGV_SECONDS:-60}" --seed "${PM_FUZZ_SEED:-1}"
  step "argv fuzzer"
fi
# Fuzzing (Fuzz/README.md): every target briefly, about a minute in all plus the build.
# PM_FUZZ_SECONDS per target (0 skips); a fixed libFuzzer seed keeps CI runs comparable.
if [ -n "$fuzz_build" ]; then
  if ! wait "$fuzz_build"; then fuzz_build=; cat .build-fuzz/build.log >&2; echo "test.sh: fuzz build failed" >&2; exit 1; fi
  fuzz_build=
  step "fuzz build (rest of the background build)"
  # Each target is one single-threaded process: two lists at once, one per core.
  read -ra targets <<<"$(PM_FUZZ_LIST=1 scripts/fuzz.sh)"
  half=(); other=()
  for i in "${!targets[@]}"; do if [ $((i % 2)) = 0 ]; then half+=("${targets[i]}"); else other+=("${targets[i]}"); fi; done
  export PM_FUZZ_SEED=${PM_FUZZ_SEED:-1}
  scripts/fuzz.sh "${PM_FUZZ_SECONDS:-7}" "${half[@]}" & first=$!
  rc=0
  scripts/fuzz.sh "${PM_FUZZ_SECONDS:-7}" "${other[@]}" || rc=1
  wait "$first" || rc=1
  step "fuzz (${#targets[@]} targets)"
  [ $rc = 0 ] || exit 1
fi
