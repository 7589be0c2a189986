#!/bin/bash
# A real single-node Slurm cluster on this machine (docs/sharding.md): installs Debian's slurm-wlm and
# munge if missing (apt-get, as root), starts munged, slurmctld and slurmd with a configuration of
# its own in a temporary folder (own ports, own munge socket: /etc is not touched), submits the
# shard array and the merge (scripts/slurm/submit.sh) on a generated book, both with --shard on
# the whole input and with pm split, and checks the merged files equal an unsharded run byte for
# byte. Stops the daemons it started (by pid) and removes its folder on any exit.
#   scripts/test-slurm.sh [PM]        (default: the newer of .build/debug/pm and .build/release/pm)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
PM=${1:-}
if [ -z "$PM" ]; then
  PM="$root/.build/debug/pm"
  if [ -x "$root/.build/release/pm" ] && [ "$root/.build/release/pm" -nt "$PM" ]; then PM="$root/.build/release/pm"; fi
fi
PM=$(readlink -f "$PM")
[ -x "$PM" ] || { echo "test-slurm: no pm binary at $PM (swift build first)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "test-slurm: needs root (installs packages, starts slurmd)" >&2; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "test-slurm: installing slurm-wlm and munge"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null; }
fi

# In /tmp, not $TMPDIR: the munge and slurm users must reach it (a private TMPDIR may be mode 700).
work=$(mktemp -d /tmp/pm-slurm.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
  rm -rf "$work"
}
trap cleanup EXIT

host=$(hostname -s)
# munge: a key and a socket of our own, run as the munge user.
mkdir -p "$work/munge" "$work/munge-key"
dd if=/dev/urandom of="$work/munge-key/munge.key" bs=1024 count=1 status=none
chown -R munge:munge "$work/munge" "$work/munge-key"
chmod 755 "$work/munge"; chmod 700 "$work/munge-key"; chmod 400 "$work/munge-key/munge.key"
runuser -u munge -- /usr/sbin/munged --key-file="$work/munge-key/munge.key" --socket="$work/munge/sock" \
  --pid-file="$work/munge/pid" --log-file="$work/munge/log" --seed-file="$work/munge/seed"
for _ in $(seq 50); do [ -s "$work/munge/pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/munge/pid")")

# Free ports for slurmctld and slurmd.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])'; }
cport=$(port); dport=$(port)
mkdir -p "$work/state" "$work/spool" "$work/log"
cat > "$work/slurm.conf" <<CONF
ClusterName=pmtest
SlurmctldHost=$host
SlurmctldPort=$cport
SlurmdPort=$dport
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/sock
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
JobCompType=jobcomp/none
SchedulerType=sched/backfill
NodeName=$host CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=batch Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
# Shards and the unsharded reference must take the same aggregation path to be byte-identical
# (automatic mode measures its BLAS threshold per process): pin it, as docs/sharding.md says.
export PM_DENSE_THRESHOLD="${PM_DENSE_THRESHOLD:-0.75}"
slurmctld -f "$SLURM_CONF"
for _ in $(seq 50); do [ -s "$work/slurmctld.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/slurmctld.pid")")
slurmd -f "$SLURM_CONF" -N "$host"
for _ in $(seq 50); do [ -s "$work/slurmd.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/slurmd.pid")")
# grep reads all of its input (not -q, which stops at the first match): under pipefail the
# writer's SIGPIPE would otherwise count as a failure.
for _ in $(seq 100); do
  sinfo -h -N -o %t 2>/dev/null | grep idle >/dev/null && break
  sleep 0.2
done
sinfo -h -N -o "%N %t" | grep idle >/dev/null || { echo "test-slurm: node not idle"; sinfo; tail -20 "$work"/log/*.log; exit 1; }

# A generated book and its unsharded run. The split flow runs on it as generated; then an error
# row is added and the --shard flow runs (error texts name the file they came from, which for a
# split folder is the split file: byte equality with error rows holds for --shard).
"$PM" generate --accounts 3000 --seed 5 --out "$work/book" >/dev/null 2>&1
reference() { "$PM" batch --input "$work/book" --market "$work/book/market.json" --out "$work/full" --quiet 2>/dev/null || [ $? = 3 ]; }
wait_job() {   # until the job has left the queue; then its state from the controller
  for _ in $(seq 600); do
    [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0
    sleep 0.2
  done
  echo "test-slurm: job $1 still queued"; squeue; return 1
}
status=0
for mode in split shard; do
  extra=(--split)
  if [ $mode = shard ]; then extra=(); printf 'BAD-1,maybe\n' >> "$work/book/accounts.csv"; fi
  reference
  read -r array merge < <("$root/scripts/slurm/submit.sh" --pm "$PM" --input "$work/book" \
      --market "$work/book/market.json" --out "$work/$mode" --shards 3 "${extra[@]}")
  wait_job "$merge"
  for f in margins.csv units.csv; do
    if cmp -s "$work/full/$f" "$work/$mode/merged/$f"; then echo "test-slurm: $mode: merged $f equals the unsharded run"
    else echo "test-slurm: $mode: merged $f DIFFERS (array $array, merge $merge)"; status=1; fi
  done
  for i in 0 1 2; do [ -s "$work/$mode/shard-$i/manifest.json" ] || { echo "test-slurm: $mode: shard $i has no manifest"; status=1; }; done
  if [ $status != 0 ]; then cat "$work/$mode"/*.out 2>/dev/null | tail -20; fi
done
exit $status
