#!/usr/bin/env bash
# Issue 8: `ida train model` in one process (2 threads) against torchrun with 2 processes (1 thread
# each, gloo), the same task, data, seed and number of optimizer steps; then `ida eval` on each.
# Usage: bench/grids/ddp.sh [task] [steps]     (default wildcard 300)
set -euo pipefail
cd "$(dirname "$0")/../.."
task=${1:-wildcard}
steps=${2:-300}
IDA=".venv/bin/python -m ida_cli"
mkdir -p bench/out
for mode in single ddp; do
  db="bench/out/ddp-$task-$mode.duckdb"
  rm -rf "$db" "$db.lock" "$db.checkpoints"
  if [ "$task" = wildcard ]; then n_eval=200; per=8; else n_eval=1000; per=4; fi
  $IDA --db "$db" questions generate --task "$task" --size 8 --count $n_eval --seed 7 --split eval --per-context $per >/dev/null
  $IDA --db "$db" questions generate --task "$task" --size 8 --count 100000 --seed 7 >/dev/null
  args=(--db "$db" train model --fresh --supervised --task "$task" --max-steps "$steps" --eval-every 50 --patience 100 --json)
  if [ $mode = single ]; then
    $IDA "${args[@]}" > "bench/out/ddp-$task-$mode.train.json"
  else
    OMP_NUM_THREADS=1 .venv/bin/torchrun --nproc_per_node 2 --master-addr 127.0.0.1 --master-port 29561 \
      -m ida_cli "${args[@]}" > "bench/out/ddp-$task-$mode.train.json" 2>/dev/null
  fi
  $IDA --db "$db" eval --task "$task" --json > "bench/out/ddp-$task-$mode.eval.json"
  .venv/bin/python - "$task" "$mode" <<'PY'
import json, sys
task, mode = sys.argv[1:]
t = json.load(open(f"bench/out/ddp-{task}-{mode}.train.json"))["metrics"]
e = json.load(open(f"bench/out/ddp-{task}-{mode}.eval.json"))
print(f"{task} {mode}: processes {t['processes']}, steps {t['steps']}, {t['seconds']:.0f} s, "
      f"{t['examples_per_s']:.0f} ex/s, held-out {t['held_accuracy']:.3f}, eval {e['accuracy']:.3f}, "
      f"replicas agree {t['replicas_agree']}")
PY
done
