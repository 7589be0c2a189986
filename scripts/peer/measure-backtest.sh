#!/bin/bash
# The coverage backtest's speed goal (pm ≥ 20× the Python peer at 1M accounts): `pm backtest
# --threads 2` against `pm batch` + scripts/peer/backtest_peer.py (the peer needs the margins, so
# its time includes the batch that makes them, shown apart) on the same generated book with the
# shipped history, side by side in one run, each under /usr/bin/time -v (wall time, peak RSS,
# user + sys CPU); then compare_backtest.py on the two outputs.
#   scripts/peer/measure-backtest.sh [PM] [ACCOUNTS] [HORIZON]
#   (defaults: .build/release/pm, 1000000, 1; history: $PM_HISTORY, else data/history)
# Keeps its data in $PM_MEASURE_DIR, else /tmp/pm-btpeer-measure (the generated book is reused by the next run with the
# same ACCOUNTS; a 1M-account book is ~550 MB). `rm -rf /tmp/pm-btpeer-measure` reclaims it.
# Without the `backtest` command in PM it times the peer alone (and says so).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
PM=$(readlink -f "${1:-$root/.build/release/pm}")
N=${2:-1000000}
H=${3:-1}
PY=${PM_PEER_PYTHON:-python3}
history=${PM_HISTORY:-$root/data/history}
base=${PM_MEASURE_DIR:-/tmp/pm-btpeer-measure}
data="$base/$N"
params="$root/data/params/pm-params.json"
[ -x "$PM" ] || { echo "measure-backtest: no pm at $PM" >&2; exit 1; }
[ -f "$history/index-daily.csv" ] || { echo "measure-backtest: no history at $history (set PM_HISTORY)" >&2; exit 1; }
[ -f "$data/positions.csv" ] || "$PM" generate --accounts "$N" --seed 1 --out "$data" >/dev/null
has_backtest=1
# grep reads all of its input (not -q, which stops at the first match): under pipefail the
# writer's SIGPIPE would otherwise count as a failure.
"$PM" backtest --help 2>/dev/null | grep 'USAGE: pm backtest' >/dev/null || has_backtest=0

field() { sed -n "s/^[[:space:]]*$1: //p" "$2"; }
wall() {  # "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:01.23" → seconds
  field "Elapsed (wall clock) time (h:mm:ss or m:ss)" "$1" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }'
}
cpu() { echo "$(field 'User time (seconds)' "$1") + $(field 'System time (seconds)' "$1")" | bc -l; }
mb() { echo "$(field 'Maximum resident set size (kbytes)' "$1") / 1024" | bc; }
run() {  # $1 name, then the command
  local name=$1; shift
  rc=0
  /usr/bin/time -v -o "$base/$name.time" "$@" 2>"$base/$name.log" || rc=$?
  [ "$rc" = 0 ] || { cat "$base/$name.log" >&2; echo "measure-backtest: $name exit $rc" >&2; exit 1; }
  printf "%-14s %8s %10s %10s\n" "$name" "$(wall "$base/$name.time")" "$(mb "$base/$name.time")" "$(printf %.2f "$(cpu "$base/$name.time")")"
}

echo "measure-backtest: $N accounts, horizon $H, history $history, load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-14s %8s %10s %10s\n" program wall_s peak_MB cpu_s
if [ "$has_backtest" = 1 ]; then
  run pm-backtest "$PM" backtest --threads 2 --input "$data" --market "$data/market.json" --params "$params" \
    --history "$history" --horizon "$H" --out "$base/out-pm"
else
  echo "(no pm backtest in $PM: the peer alone)"
fi
run pm-batch "$PM" batch --threads 2 --input "$data" --market "$data/market.json" --params "$params" --out "$base/batch"
run peer "$PY" "$root/scripts/peer/backtest_peer.py" --input "$data" --market "$data/market.json" --params "$params" \
  --history "$history" --horizon "$H" --margins "$base/batch" --out "$base/out-peer" --timings
sed 's/^/    /' "$base/peer.log"
if [ "$has_backtest" = 1 ]; then
  awk -v p="$(wall "$base/pm-backtest.time")" -v b="$(wall "$base/pm-batch.time")" -v q="$(wall "$base/peer.time")" \
    'BEGIN { printf "peer / pm backtest (wall): %.1f× (peer alone), %.1f× (batch + peer)\n", q / p, (b + q) / p }'
  awk -v p="$(cpu "$base/pm-backtest.time")" -v b="$(cpu "$base/pm-batch.time")" -v q="$(cpu "$base/peer.time")" \
    'BEGIN { printf "peer / pm backtest (CPU):  %.1f× (peer alone), %.1f× (batch + peer)\n", q / p, (b + q) / p }'
  "$PY" "$root/scripts/peer/compare_backtest.py" "$base/out-pm" "$base/out-peer"
fi
