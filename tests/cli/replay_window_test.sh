#!/usr/bin/env bash
# The replay window (GLFW, GLX) on a virtual X server: a tiny `metajoule run` records episodes,
# then `metajoule replay RUN --agent 1` opens its window under xvfb-run, draws a few frames and
# closes by itself (--max-frames). Usage: replay_window_test.sh METAJOULE_BINARY
set -euo pipefail
metajoule="$1"
frames=20
command -v xvfb-run >/dev/null || { echo "xvfb-run not found: apt-get install xvfb xauth"; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat >"$work/window.toml" <<TOML
[experiment]
name = "window"
methods = ["maml"]
output_dir = "$work/runs"

[training]
rounds = 1

[agents]
policy = { hidden_sizes = [8] }

[meta]
inner_episodes = 2
outer_episodes = 2
eval = { adaptation_steps = 1, episodes = 2 }

[evaluation]
held_out_tasks = 0

[[clusters]]
name = "a"
agents = 1
task = { family = "reach2d" }
TOML
"$metajoule" run "$work/window.toml" >"$work/run.log"
run_folder=$(find "$work/runs/window" -mindepth 1 -maxdepth 1 -type d | head -n 1)

# under ASan (the sanitizer CI build), llvmpipe's LLVM frees with free() what it allocated
# with new(nothrow): the same exception as tests/support/gl_sanitizer_options.h
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}alloc_dealloc_mismatch=0"
export LIBGL_ALWAYS_SOFTWARE=1
out=$(xvfb-run -a -s "-screen 0 1280x720x24" \
  "$metajoule" replay "$run_folder" --agent 1 --max-frames "$frames" --quality fast 2>&1)
echo "$out"
grep -q "window closed after $frames frames drawn" <<<"$out"
