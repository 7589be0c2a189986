#!/usr/bin/env bash
# Same bytes every run (docs/formats.md "Reproducibility"): one generated book with orphan rows (ids only
# in balances.csv / positions.csv) is margined by `pm batch` in automatic aggregation (no
# PM_DENSE_THRESHOLD) several ways — repeated, under a concurrent CPU load, at --threads 1 and 2,
# at --block-size 1, 7, 256 and the default, and as N = 2, 3, 5 `--shard` runs joined by
# `pm merge` — and every margins.csv / units.csv must equal the first plain run's byte for byte.
# Usage: scripts/test-determinism.sh PM_BINARY [ACCOUNTS]   (default 8000 accounts)
# Exit 0 when every output is identical, 1 (naming the run and file) otherwise.
set -u
PM=$(realpath "$1"); ACCOUNTS=${2:-8000}
cd "$(dirname "$0")/.."   # the shipped parameters (data/params)
unset PM_DENSE_THRESHOLD
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pm-determinism.XXXXXX") || exit 2
LOAD=()
stop_load() {
  # SIGKILL: a parent may start this script with SIGTERM ignored, which the loops would inherit.
  for p in "${LOAD[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${LOAD[@]}"; do wait "$p" 2>/dev/null; done
  LOAD=()
}
cleanup() {
  stop_load
  rm -rf "$WORK"
}
trap cleanup EXIT
IN=$WORK/in
"$PM" generate --accounts "$ACCOUNTS" --seed 11 --out "$IN" >/dev/null 2>&1 || { echo "test-determinism: generate failed"; exit 2; }
# Orphan rows: ids that accounts.csv does not list, first seen in both row files, interleaved so
# that their first appearances are not in shard order.
sym=$(awk -F, 'NR==2 {print $2}' "$IN/positions.csv")
for k in 1 2 3 4 5 6 7 8 9 10 11 12; do
  if [ $((k % 3)) = 0 ]; then echo "ORPHAN-$k,USDC,100" >>"$IN/balances.csv"; fi
  echo "ORPHAN-$((13 - k)),$sym,1," >>"$IN/positions.csv"
done
MARKET=$IN/market.json
fail=0
batch() { # out, extra args…
  local out=$1; shift
  "$PM" batch --input "$IN" --market "$MARKET" --out "$out" --quiet "$@" >"$out.log" 2>&1
  local s=$?
  if [ $s != 0 ] && [ $s != 3 ]; then echo "test-determinism: pm batch $* failed ($s):"; cat "$out.log"; exit 1; fi
}
same() { # what, folder
  for f in margins.csv units.csv; do
    if ! cmp -s "$WORK/ref/$f" "$2/$f"; then
      echo "test-determinism: $1: $f differs from the first run ($(cmp "$WORK/ref/$f" "$2/$f" 2>&1 | sed -n 1p))"
      fail=1
    fi
  done
}
batch "$WORK/ref" --threads 2
grep -q ORPHAN "$WORK/ref/margins.csv" || { echo "test-determinism: no orphan rows in the reference"; exit 1; }
run=0
variant() { run=$((run + 1)); batch "$WORK/v$run" "$@"; same "pm batch $*${LOADED:+ (under load)}" "$WORK/v$run"; rm -rf "$WORK/v$run"; }
variant --threads 2
variant --threads 1
# A concurrent CPU load (two busy processes): a timing measured now would differ from the first.
for _ in 1 2; do ( trap - TERM; while :; do :; done ) </dev/null >/dev/null 2>&1 & LOAD+=($!); done
LOADED=1
for t in 1 2; do
  for b in 1 7 256; do variant --threads $t --block-size $b; done
  variant --threads $t
done
stop_load
for n in 2 3 5; do
  dirs=()
  for ((i = 0; i < n; i++)); do
    batch "$WORK/s$n-$i" --shard "$i/$n" --threads $((1 + i % 2)) --block-size $((7 + 100 * i))
    dirs+=("$WORK/s$n-$i")
  done
  "$PM" merge "${dirs[@]}" --accounts "$IN/accounts.csv" --out "$WORK/m$n" >"$WORK/m$n.log" 2>&1
  s=$?
  if [ $s != 0 ] && [ $s != 3 ]; then
    echo "test-determinism: pm merge of $n shards failed:"; cat "$WORK/m$n.log"; exit 1
  fi
  same "$n shards merged" "$WORK/m$n"
done
[ $fail = 0 ] && echo "test-determinism: $run runs and 3 merges identical to the first run ($ACCOUNTS accounts, 12 orphan ids)"
exit $fail
