#!/usr/bin/env bash
# ctest "slurm_run" (label slurm): `metajoule run FILE --slurm` on a one-node Slurm cluster
# (scripts/slurm-local) in a temporary directory. Checks the error outside an allocation, then
# submits a job of 2 tasks (sbatch --ntasks=2) that runs the --slurm dry run and the run itself:
# the meta-learner in the batch script, the 4 agents as one srun step of 2 tasks (2 agents each),
# CURVE keys made for the run. Then checks the run folder (keys 0600 in slurm/keys, the agents'
# log, every agent's events in the ledger) and that its evaluations and events equal those of
# an in-process `metajoule run` of the same file, and prints both wall times and their ratio.
#
# Needs root and the Debian packages slurmctld slurmd slurm-client munge (scripts/setup); fails,
# never skips, without them: exclude it with `ctest -LE slurm`.
#
# usage: slurm_run_test.sh METAJOULE_BINARY SOURCE_DIR
set -euo pipefail
binary="$(realpath "$1")"
source_dir="$2"
slurm_local="$source_dir/scripts/slurm-local"
start_time=$(date +%s.%N)

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || fail "needs root to start slurmd/slurmctld (run as root, or exclude with ctest -LE slurm)"
for name in munged slurmctld slurmd sbatch srun squeue sinfo sqlite3; do
  command -v "$name" >/dev/null || [ -x "/usr/sbin/$name" ] ||
    fail "$name is missing: apt-get install slurmctld slurmd slurm-client munge sqlite3 (scripts/setup)"
done

work="$(mktemp -d /tmp/metajoule-slurm-run-test.XXXXXX)"
export SLURM_LOCAL_DIR="$work/cluster"
# a port pair of its own (slurm_batch takes 27000 + 2k)
export SLURM_LOCAL_PORT=$((29000 + ($$ % 1000) * 2))

cleanup() {
  local status=$?
  if [ "$status" -ne 0 ]; then
    echo "--- job output" >&2
    cat "$work"/job.out >&2 2>/dev/null || true
    echo "--- agents' log" >&2
    tail -n 30 "$work"/out/tiny/*/slurm/agents.log "$work"/out/tiny/.slurm-*/agents.log >&2 2>/dev/null || true
    echo "--- cluster logs" >&2
    tail -n 30 "$work"/cluster/log/*.log >&2 2>/dev/null || true
  fi
  "$slurm_local" stop || true
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

cat >"$work/tiny.toml" <<EOF
[experiment]
name = "tiny"
seed = 4
methods = ["reptile"]
output_dir = "$work/out"
[sim]
threads = 1
[training]
rounds = 2
[agents]
policy = { hidden_sizes = [8] }
[meta]
inner_episodes = 2
[evaluation]
held_out_tasks = 0
[network]
round_timeout_s = 30.0
join_timeout_s = 30.0
[[clusters]]
name = "a"
agents = 4
task = { family = "reach2d" }
EOF
cd "$work"

# outside an allocation: a clear error, exit code 2
set +e
env -u SLURM_JOB_ID -u SLURM_JOB_NODELIST -u SLURM_NODELIST "$binary" run tiny.toml --slurm \
  >"$work/outside.out" 2>&1
outside=$?
set -e
[ "$outside" -eq 2 ] || fail "run --slurm outside an allocation should exit 2, got $outside"
grep -q 'not inside a Slurm allocation.*use salloc/sbatch, or see docs/scale.md' "$work/outside.out" ||
  fail "run --slurm outside an allocation: unexpected message: $(cat "$work/outside.out")"

eval "$("$slurm_local" start)"
[ -n "${SLURM_CONF:-}" ] || fail "scripts/slurm-local start printed no SLURM_CONF"
cluster_up=$(date +%s.%N)

cat >"$work/job.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
"$binary" run tiny.toml --slurm --slurm-dry-run
# a step that cannot start (more tasks than the job has): the agents never join, and the run
# stops when the step ends, well before network.join_timeout_s
set +e
failed_start=\$(date +%s.%N)
"$binary" run tiny.toml --slurm --set network.join_timeout_s=120 --srun-arg=--ntasks=64 \
  >failed.out 2>&1
echo "failed run exit code: \$?"
echo "failed run seconds: \$(awk -v a="\$failed_start" -v b="\$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')"
set -e
start=\$(date +%s.%N)
"$binary" run tiny.toml --slurm
echo "slurm run seconds: \$(awk -v a="\$start" -v b="\$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')"
EOF
chmod +x "$work/job.sh"
sbatch --wait --ntasks=2 --time=00:05:00 --output="$work/job.out" --chdir="$work" "$work/job.sh" \
  >/dev/null || fail "the job failed (exit code $?)"
job_done=$(date +%s.%N)

# the failed launch: exit 1, what happened, and nothing left running
grep -q '^failed run exit code: 1$' "$work/job.out" || fail "the failed launch should exit 1"
grep -q "the agents' srun step ended (exit code [0-9]*) before every agent joined" \
  "$work/failed.out" || fail "the failed launch should name the step: $(cat "$work/failed.out")"
failed_seconds="$(sed -n 's/^failed run seconds: //p' "$work/job.out")"
awk -v s="$failed_seconds" 'BEGIN { exit !(s < 60) }' ||
  fail "the failed launch should stop when its step ends, not after join_timeout_s (took $failed_seconds s)"

# the dry run's plan, then the run's
grep -q '^agents: 2 srun task(s) on 1 node(s)' "$work/job.out" || fail "no plan of 2 tasks"
grep -q '^  task 0: nodes 1-2$' "$work/job.out" || fail "task 0 should host nodes 1-2"
grep -q '^  task 1: nodes 3-4$' "$work/job.out" || fail "task 1 should host nodes 3-4"
grep -q 'dry run: nothing is started' "$work/job.out" || fail "no dry run"
grep -q -- '--slurm-agents 4 --curve-secret' "$work/job.out" || fail "srun line"
grep -q 'serve: tiny (seed 4, 4 agents in 1 clusters) on .* (CURVE)' "$work/job.out" ||
  fail "the server should run with CURVE"
grep -q "CURVE: 4 authorised, 0 refused" "$work/job.out" || fail "4 agents should be authorised"
grep -q "Slurm: agents' srun step exit code 0" "$work/job.out" || fail "the srun step should exit 0"

slurm_folder="$(dirname "$(ls -d "$work"/out/tiny/*/slurm)")"
[ -f "$slurm_folder/ledger.sqlite" ] || fail "no ledger in $slurm_folder"
for file in server.key server.key_secret agents.key agents.key_secret; do
  [ "$(stat -c %a "$slurm_folder/slurm/keys/$file")" = 600 ] || fail "keys/$file should be mode 0600"
done
[ "$(stat -c %a "$slurm_folder/slurm/keys")" = 700 ] || fail "keys/ should be mode 0700"
grep -q 'node 4: reptile round 2' "$slurm_folder/slurm/agents.log" || fail "the agents' log lacks node 4's round 2"
[ "$(grep -c ': dismissed' "$slurm_folder/slurm/agents.log")" -eq 4 ] || fail "4 agents should be dismissed"
# every agent's exit names its Slurm step and task (a failed agent can be traced to them)
[ "$(grep -cE '^([0-9]+: )?agent [0-9]+ \(Slurm step [0-9]+\.[0-9]+, task [01]' "$slurm_folder/slurm/agents.log")" -eq 4 ] ||
  fail "each agent's exit line should name its Slurm step and task"
agents_with_events="$(sqlite3 "$slurm_folder/ledger.sqlite" \
  "SELECT count(DISTINCT node) FROM events WHERE node BETWEEN 1 AND 4 AND phase = 'learn'")"
[ "$agents_with_events" = 4 ] || fail "the ledger should hold learn events of 4 agents, has $agents_with_events"

# the same file in one process
local_start=$(date +%s.%N)
"$binary" run tiny.toml >"$work/local.out"
local_done=$(date +%s.%N)
local_folder="$(sed -n 's/^run folder: //p' "$work/local.out" | head -n1)"
[ -f "$local_folder/ledger.sqlite" ] || fail "no in-process run folder"
evaluations="SELECT round, node, task, method, adapt_step, printf('%.17g', return_value)
             FROM evaluations ORDER BY round, node, adapt_step, task"
events="SELECT round, node, phase, kind, ifnull(link, ''), sim_steps, printf('%.17g', flops),
               bits_on_air, payload_bits, attempts, printf('%.17g', energy_j)
        FROM events ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11"
sqlite3 "$slurm_folder/ledger.sqlite" "$evaluations" >"$work/slurm.evaluations"
sqlite3 "$local_folder/ledger.sqlite" "$evaluations" >"$work/local.evaluations"
sqlite3 "$slurm_folder/ledger.sqlite" "$events" >"$work/slurm.events"
sqlite3 "$local_folder/ledger.sqlite" "$events" >"$work/local.events"
[ -s "$work/slurm.evaluations" ] || fail "the Slurm run recorded no evaluations"
diff "$work/local.evaluations" "$work/slurm.evaluations" >&2 ||
  fail "the Slurm run's evaluations differ from the in-process run's"
diff "$work/local.events" "$work/slurm.events" >&2 ||
  fail "the Slurm run's events differ from the in-process run's"

slurm_seconds="$(sed -n 's/^slurm run seconds: //p' "$work/job.out")"
awk -v a="$start_time" -v b="$cluster_up" -v c="$job_done" -v s="$slurm_seconds" -v f="$failed_seconds" \
  -v l="$(awk -v x="$local_start" -v y="$local_done" 'BEGIN { print y - x }')" 'BEGIN {
  printf "slurm_run: cluster start %.1f s, job (submit to end) %.1f s; run --slurm %.2f s, in-process run %.2f s, ratio %.2f; failed launch stopped after %.2f s\n",
         b - a, c - b, s, l, s / l, f }'
echo "PASS"
