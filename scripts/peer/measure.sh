#!/bin/bash
# Issue 9's row "end to end vs a Python peer": `pm batch --threads 2` against scripts/peer/pm_peer.py
# on the same generated book, interleaved ROUNDS times, each run under /usr/bin/time -v (wall time,
# peak RSS); the medians and their ratio; then compare.py on the last outputs (margins.csv, units.csv).
#   scripts/peer/measure.sh [PM] [ACCOUNTS] [ROUNDS]
#   (defaults: .build/release/pm, 200000, 3)
# Deliberately keeps its data: the generated book in /tmp/pm-peer-measure/ACCOUNTS is reused by the
# next run (generating 200,000 accounts takes longer than a round), and the last outputs, logs and
# /usr/bin/time reports stay in /tmp/pm-peer-measure for inspection. `rm -rf /tmp/pm-peer-measure`
# reclaims the space (a 200,000-account book is ~110 MB, plus the outputs).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
PM=$(readlink -f "${1:-$root/.build/release/pm}")
N=${2:-200000}
ROUNDS=${3:-3}
PY=${PM_PEER_PYTHON:-python3}
base=/tmp/pm-peer-measure
data="$base/$N"
params="$root/data/params/pm-params.json"
[ -f "$data/positions.csv" ] || "$PM" generate --accounts "$N" --seed 1 --out "$data"

field() { sed -n "s/^[[:space:]]*$1: //p" "$2"; }
wall() {  # "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:01.23" → seconds
  field "Elapsed (wall clock) time (h:mm:ss or m:ss)" "$1" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }'
}
printf "%-6s %-10s %8s %10s %8s %8s\n" round program wall_s peak_MB user_s sys_s
for r in $(seq "$ROUNDS"); do
  /usr/bin/time -v -o "$base/pm.$r.time" "$PM" batch --threads 2 --input "$data" --market "$data/market.json" \
    --params "$params" --out "$base/out-pm" 2>"$base/pm.$r.log"
  /usr/bin/time -v -o "$base/peer.$r.time" "$PY" "$root/scripts/peer/pm_peer.py" --input "$data" \
    --market "$data/market.json" --params "$params" --out "$base/out-peer" --timings 2>"$base/peer.$r.log"
  for prog in pm peer; do
    t="$base/$prog.$r.time"
    printf "%-6s %-10s %8s %10.0f %8s %8s\n" "$r" "$prog" "$(wall "$t")" \
      "$(echo "$(field 'Maximum resident set size (kbytes)' "$t") / 1024" | bc -l)" \
      "$(field 'User time (seconds)' "$t")" "$(field 'System time (seconds)' "$t")"
  done
  sed 's/^/       pm:   /' "$base/pm.$r.log"
  sed 's/^/       peer: /' "$base/peer.$r.log"
done
for prog in pm peer; do
  for r in $(seq "$ROUNDS"); do wall "$base/$prog.$r.time"; echo; done | sort -n | awk -v p="$prog" \
    '{ w[NR] = $1 } END { printf "%s: median wall %.2f s (min %.2f, max %.2f)\n", p, w[int((NR + 1) / 2)], w[1], w[NR] }'
done | tee "$base/medians.txt"
awk '{ m[$1] = $4 } END { printf "peer / pm (medians): %.2f×\n", m["peer:"] / m["pm:"] }' "$base/medians.txt"
"$PY" "$root/scripts/peer/compare.py" "$base/out-pm/margins.csv" "$base/out-peer/margins.csv"
"$PY" "$root/scripts/peer/compare.py" "$base/out-pm/units.csv" "$base/out-peer/units.csv"
