#!/usr/bin/env bash
# ctest "slurm_batch" (label slurm): starts a one-node Slurm cluster (scripts/slurm-local) in a
# temporary directory, runs a three-cell sweep of a tiny experiment with
# `metajoule batch --slurm --wait`, checks cells.csv and the merged table, checks that a second
# invocation submits nothing, and stops the cluster.
#
# It needs root and the Debian packages slurmctld slurmd slurm-client munge (scripts/setup). When
# it cannot run it FAILS, never skips, so that CI cannot pass it silently; exclude it with
# `ctest -LE slurm` on machines that cannot run it.
#
# usage: slurm_batch_test.sh METAJOULE_BINARY SOURCE_DIR
set -euo pipefail
binary="$1"
source_dir="$2"
slurm_local="$source_dir/scripts/slurm-local"
start_time=$(date +%s.%N)

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || fail "needs root to start slurmd/slurmctld (run as root, or exclude with ctest -LE slurm)"
for name in munged slurmctld slurmd sbatch squeue sinfo; do
  command -v "$name" >/dev/null || [ -x "/usr/sbin/$name" ] ||
    fail "$name is missing: apt-get install slurmctld slurmd slurm-client munge (scripts/setup)"
done

work="$(mktemp -d /tmp/metajoule-slurm-test.XXXXXX)"
export SLURM_LOCAL_DIR="$work/cluster"
# a port pair of its own, so that parallel test runs and a running scripts/slurm-local coexist
export SLURM_LOCAL_PORT=$((27000 + ($$ % 1000) * 2))

cleanup() {
  local status=$?
  if [ "$status" -ne 0 ]; then
    echo "--- cluster logs" >&2
    tail -n 30 "$work"/cluster/log/*.log >&2 2>/dev/null || true
    echo "--- batch logs" >&2
    tail -n 30 "$work"/out/slurm-trial/logs/* >&2 2>/dev/null || true
  fi
  "$slurm_local" stop || true
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

eval "$("$slurm_local" start)"
[ -n "${SLURM_CONF:-}" ] || fail "scripts/slurm-local start printed no SLURM_CONF"
cluster_up=$(date +%s.%N)

cat >"$work/tiny.toml" <<'EOF'
[experiment]
name = "tiny"
methods = ["random", "scratch"]
[sim]
threads = 1
[rollout]
episodes = 1
[training]
rounds = 1
[agents]
episodes_per_update = 2
policy = { hidden_sizes = [8] }
[[clusters]]
name = "a"
agents = 2
task = { family = "nav2d" }
EOF
cat >"$work/sweep.toml" <<EOF
[sweep]
name = "slurm-trial"
base = "tiny.toml"
workers = 2
output_dir = "$work/out"
[grid]
"experiment.seed" = [1, 2, 3]
[slurm]
time = "00:05:00"
EOF

cd "$work"
"$binary" batch sweep.toml --slurm --wait | tee "$work/batch.out"
batch_done=$(date +%s.%N)

folder="$work/out/slurm-trial"
[ "$(head -n1 "$folder/cells.csv")" = "cell,status,run_folder,overrides" ] || fail "cells.csv header"
[ "$(tail -n +2 "$folder/cells.csv" | wc -l)" -eq 3 ] || fail "cells.csv should have 3 rows"
[ "$(tail -n +2 "$folder/cells.csv" | cut -d, -f2 | sort -u)" = "done" ] || fail "every cell should be done"
for cell in c0000 c0001 c0002; do
  run_folder="$(grep "^$cell," "$folder/cells.csv" | cut -d, -f3)"
  [ -f "$folder/$run_folder/ledger.sqlite" ] || fail "$cell: no ledger in $run_folder"
  [ -s "$folder/logs/$cell.log" ] || fail "$cell: no log"
done
grep -q -- '--array=0-2%2' "$folder/batch.sbatch" || fail "batch.sbatch should hold --array=0-2%2"
[ "$(ls "$folder"/logs/slurm-*_*.out | wc -l)" -eq 3 ] || fail "3 Slurm task outputs expected"
# summary.csv: a header and 3 cells x 2 methods
[ "$(head -n1 "$folder/summary.csv")" = "cell,overrides,method,run,return,total_j,compute_j,uplink_j,downlink_j,sidelink_j,gco2e" ] ||
  fail "summary.csv header"
[ "$(tail -n +2 "$folder/summary.csv" | wc -l)" -eq 6 ] || fail "summary.csv should have 6 rows"
grep -q '^c0002,experiment.seed=3,scratch,tiny,' "$folder/summary.csv" || fail "summary.csv lacks c0002 scratch"
grep -q 'batch slurm-trial: 3 done, 0 failed' "$work/batch.out" || fail "the batch should report 3 done"

# resumable: nothing left to submit
"$binary" batch sweep.toml --slurm --wait | grep -q 'nothing to submit' || fail "a second --slurm run should submit nothing"

awk -v a="$start_time" -v b="$cluster_up" -v c="$batch_done" -v d="$(date +%s.%N)" 'BEGIN {
  printf "slurm_batch: cluster start %.1f s, 3-cell array (submit, wait, merge) %.1f s, total %.1f s\n",
         b - a, c - b, d - a }'
echo "PASS"
