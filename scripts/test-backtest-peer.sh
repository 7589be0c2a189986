#!/bin/bash
# The coverage backtest's Python peer (scripts/peer/backtest_peer.py) against `pm backtest`:
# 1. the peer's own hand-worked checks (scripts/peer/test_backtest_peer.py, pytest);
# 2. when PM has the `backtest` command: on a generated book (2,000 accounts, seed 19, its synthetic
#    market), `pm batch` for the margins, then `pm backtest` and the peer with the shipped history
#    at h = 1 (the default window) and h = 5 (an explicit window), and once more on the book with
#    an error account and an orphan row added (exit 3 from both pm commands), and on a variant
#    (snapshot 15 minutes before an expiry, minShockedIv raised so it binds); each pair compared
#    with scripts/peer/compare_backtest.py (counts and dates exact, numbers to 1e-9);
# 3. a negative control: the peer on a history with one BTC close moved by 1 part in 10^7 must be
#    caught by compare_backtest.py, so a comparison that cannot fail never passes.
#   scripts/test-backtest-peer.sh [PM]   (default: $PM, else the newer of .build/debug/pm and .build/release/pm)
# History: $PM_HISTORY, else data/history (shipped with `pm backtest`). Python: as scripts/test-peer.sh
# (requirements.txt + pytest, with pip, into a venv at .build/peer-venv where pip may not install).
# Without the `backtest` command (a `pm` that does not list it prints its top-level help and exits 0
# for `pm backtest --help`) it runs step 1, prints "skipped: no pm backtest" and exits 0.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
PM=${1:-${PM:-}}
if [ -z "$PM" ]; then
  PM="$root/.build/debug/pm"
  if [ -x "$root/.build/release/pm" ] && [ "$root/.build/release/pm" -nt "$PM" ]; then PM="$root/.build/release/pm"; fi
fi
PM=$(readlink -f "$PM")
[ -x "$PM" ] || { echo "test-backtest-peer: no pm binary at $PM (swift build first)" >&2; exit 1; }
req="$root/scripts/peer/requirements-backtest.txt"

work=$(mktemp -d "${TMPDIR:-/tmp}/pm-btpeer.XXXXXX")
trap 'rm -rf "$work"' EXIT

PY=${PM_PEER_PYTHON:-python3}
command -v "$PY" >/dev/null || { echo "test-backtest-peer: $PY not found (needs python3 with pip)" >&2; exit 1; }
if ! "$PY" -m pip install -q --disable-pip-version-check -r "$req" >"$work/pip.log" 2>&1; then
  if grep -q externally-managed "$work/pip.log"; then
    venv="$root/.build/peer-venv"
    if [ ! -x "$venv/bin/python" ]; then
      if ! "$PY" -m venv "$venv" >/dev/null 2>&1; then
        rm -rf "$venv"
        [ "$(id -u)" = 0 ] || { echo "test-backtest-peer: python3 -m venv failed (install python3-venv)" >&2; exit 1; }
        ver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv "python$ver-venv" >/dev/null 2>&1 \
          || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv "python$ver-venv" >/dev/null; }
        "$PY" -m venv "$venv"
      fi
    fi
    PY="$venv/bin/python"
    "$PY" -m pip install -q --disable-pip-version-check -r "$req"
  else
    cat "$work/pip.log" >&2
    echo "test-backtest-peer: pip install -r scripts/peer/requirements-backtest.txt failed" >&2; exit 1
  fi
fi

# 1. The peer's hand-worked checks.
"$PY" -m pytest -q -p no:cacheprovider --basetemp="$work/pytest" "$root/scripts/peer/test_backtest_peer.py"

# 2. Only with a pm that has the command.
# grep reads all of its input (not -q, which stops at the first match): under pipefail the
# writer's SIGPIPE would otherwise count as a failure.
if ! "$PM" backtest --help 2>/dev/null | grep 'USAGE: pm backtest' >/dev/null; then
  echo "skipped: no pm backtest"
  exit 0
fi
history=${PM_HISTORY:-$root/data/history}
[ -f "$history/index-daily.csv" ] || { echo "test-backtest-peer: no history at $history (set PM_HISTORY)" >&2; exit 1; }
params="$root/data/params/pm-params.json"

# $1 name, $2 book folder, $3 market, $4 expected exit status of the pm commands, then extra
# backtest arguments (the same for pm and the peer).
check() {
  local name=$1 book=$2 market=$3 want=$4; shift 4
  local rc=0
  "$PM" batch --input "$book" --market "$market" --params "$params" --out "$work/$name-batch" 2>"$work/$name-batch.log" || rc=$?
  [ "$rc" = "$want" ] || { cat "$work/$name-batch.log" >&2; echo "test-backtest-peer: pm batch exit $rc (want $want) on $name" >&2; exit 1; }
  rc=0
  "$PM" backtest --input "$book" --market "$market" --params "$params" --history "$history" "$@" \
    --out "$work/$name-pm" 2>"$work/$name-pm.log" || rc=$?
  [ "$rc" = "$want" ] || { cat "$work/$name-pm.log" >&2; echo "test-backtest-peer: pm backtest exit $rc (want $want) on $name" >&2; exit 1; }
  "$PY" "$root/scripts/peer/backtest_peer.py" --input "$book" --market "$market" --params "$params" \
    --history "$history" --margins "$work/$name-batch" "$@" --out "$work/$name-peer" --timings
  echo "test-backtest-peer: $name ($*)"
  "$PY" "$root/scripts/peer/compare_backtest.py" "$work/$name-pm" "$work/$name-peer"
}

"$PM" generate --accounts 2000 --seed 19 --out "$work/gen" 2>/dev/null
check h1 "$work/gen" "$work/gen/market.json" 0 --horizon 1
check h5 "$work/gen" "$work/gen/market.json" 0 --horizon 5 --from 2021-01-01 --to 2025-12-31

# The same book with an account pm cannot margin (an unknown symbol) and an orphan balance row.
mkdir -p "$work/err"
cp "$work/gen/"*.csv "$work/err/"
echo "ERR-1,false" >>"$work/err/accounts.csv"
echo "ERR-1,NOPE-PERP,1," >>"$work/err/positions.csv"
echo "ORPHAN-1,USDT,5" >>"$work/err/balances.csv"
check errors "$work/err" "$work/gen/market.json" 3 --horizon 1 --from 2024-01-01 --to 2024-12-31

# A variant the generated files do not reach: the snapshot 15 minutes before the first option expiry
# (every option of that expiry settles at intrinsic within h = 1) and minShockedIv raised to 0.5
# (BTC) and 0.45 (others), so σ' = max(σ·v, minShockedIv) binds on many options in both directions.
"$PY" - "$work/gen/market.json" "$params" "$work/near-market.json" "$work/floor-params.json" <<'PY'
import datetime, json, sys
m = json.load(open(sys.argv[1]))
first = min(i["expiry"] for i in m["instruments"] if i["kind"] == "option")
t = datetime.datetime.fromisoformat(first.replace("Z", "+00:00")) - datetime.timedelta(minutes=15)
m["time"] = t.strftime("%Y-%m-%dT%H:%M:%S.250Z")
json.dump(m, open(sys.argv[3], "w"))
p = json.load(open(sys.argv[2]))
p["coins"]["default"]["minShockedIv"] = 0.45
p["coins"]["BTC"]["minShockedIv"] = 0.5
json.dump(p, open(sys.argv[4], "w"))
PY
params_shipped=$params; params="$work/floor-params.json"
check near "$work/gen" "$work/near-market.json" 0 --horizon 1 --from 2021-01-01 --to 2023-12-31
params=$params_shipped

# 3. Negative control: the 2024-06-03 BTC close × (1 + 1e-7) must make the peer disagree with pm.
mkdir -p "$work/hist-moved"
cp "$history/"*.csv "$work/hist-moved/"
"$PY" - "$work/hist-moved/index-daily.csv" <<'PY'
import sys
path = sys.argv[1]
lines = open(path).read().split("\n")
head = lines[0].split(",")
d, c, v = head.index("date"), head.index("coin"), head.index("close")
hits = 0
for k, line in enumerate(lines[1:], start=1):
    f = line.split(",")
    if len(f) == len(head) and f[d] == "2024-06-03" and f[c] == "BTC":
        f[v] = repr(float(f[v]) * (1 + 1e-7)); lines[k] = ",".join(f); hits += 1
assert hits == 1, "negative control: no BTC close on 2024-06-03"
open(path, "w").write("\n".join(lines))
PY
"$PY" "$root/scripts/peer/backtest_peer.py" --input "$work/err" --market "$work/gen/market.json" --params "$params" \
  --history "$work/hist-moved" --margins "$work/errors-batch" --horizon 1 --from 2024-01-01 --to 2024-12-31 \
  --out "$work/moved-peer"
if "$PY" "$root/scripts/peer/compare_backtest.py" "$work/errors-pm" "$work/moved-peer" >/dev/null 2>&1; then
  echo "test-backtest-peer: FAIL: compare_backtest.py did not catch a BTC close moved by 1e-7" >&2; exit 1
fi
echo "test-backtest-peer: negative control caught (one BTC close × (1 + 1e-7) disagrees)"
echo "test-backtest-peer: 4 comparisons passed, 0 failed"
