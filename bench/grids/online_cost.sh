#!/usr/bin/env bash
# Issue 22's target: wall time (and CPU time) for amplification to reach ACC eval accuracy against
# supervised learning, side by side on one machine, one thread each. Three cells per task, run two
# at a time: supervised (ground truth on a 300,000-question pool, `ida train model --supervised`;
# its time to ACC is read from the held-out history), the adversary strategy and full HCH, both
# `ida experiment --schedule online --until ACC` with a large round and distilled targets.
# Each finished cell's curve is committed as bench/results/online_cost-TASK-CELL.json; a cell whose
# file exists is skipped, so the grid resumes from the repository.
# Usage: bench/grids/online_cost.sh TASK [ACC] [MINUTES] [CYCLES]
#   MINUTES caps supervised training (default 15), CYCLES the experiments (default 12)
set -euo pipefail
cd "$(dirname "$0")/../.."
task=$1
acc=${2:-0.95}
minutes=${3:-15}
cycles=${4:-12}
IDA=".venv/bin/python -m ida_cli"
export IDA_THREADS=1 OMP_NUM_THREADS=1
out=bench/out/online_cost
mkdir -p "$out" bench/results
flags=(--task "$task" --size 8 --seed 11 --budget 1000000 --until "$acc" --eval-questions 200
       --bootstrap 40 --per-round 160 --distill 400 --train-steps 200 --adversary-steps 50 --schedule online
       --max-cycles "$cycles")
cell() {  # name, then the command's arguments
  local name=$1; shift
  local result="bench/results/online_cost-$task-$name.json"
  [ -f "$result" ] && { echo "== $name: done ($result)"; return; }
  echo "== $name"
  "$@" > "$out/$task-$name.json" 2> "$out/$task-$name.log" || true
  .venv/bin/python - "$out/$task-$name.json" "$result" "$name" "$acc" <<'PY'
import json, sys
src, dst, name, acc = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
try:
    got = json.load(open(src))
except (OSError, ValueError):
    sys.exit(f"{name}: no result (see its log)")
if name == "supervised":  # `ida train model --json`: its held-out history
    points = [{"seconds": h["seconds"], "steps": h["step"], "accuracy": h["held_accuracy"]}
              for h in got["metrics"]["history"]]
    at = next((p for p in points if p["accuracy"] >= acc), None)
    row = {"cell": name, "points": points, "seconds_to_acc": at and at["seconds"]}
else:
    at = next((p for p in got if p["accuracy"] >= acc), None)
    keep = ("cycle", "overseer_calls", "labelled", "accuracy", "wall_seconds", "cpu_seconds", "steps")
    row = {"cell": name, "points": [{k: p[k] for k in keep} for p in got],
           "seconds_to_acc": at and at["wall_seconds"], "calls_to_acc": at and at["overseer_calls"]}
row["acc"] = acc
json.dump(row, open(dst, "w"), indent=1)
print(json.dumps({k: v for k, v in row.items() if k != "points"}))
PY
}
sup_db="$out/$task-supervised.duckdb"
if [ ! -f "$sup_db" ]; then
  if [ "$task" = wildcard ]; then n_eval=200; per=8; else n_eval=1000; per=4; fi
  $IDA --db "$sup_db" questions generate --task "$task" --size 8 --count $n_eval --seed 7 --split eval --per-context $per > /dev/null
  $IDA --db "$sup_db" questions generate --task "$task" --size 8 --count 300000 --seed 7 > /dev/null
fi
cell supervised $IDA --db "$sup_db" train model --fresh --supervised --task "$task" --minutes "$minutes" --eval-every 50 --patience 1000 --json &
cell adversary $IDA --db "$out/$task-adversary.duckdb" experiment --strategy adversary --temperature 0.05 \
  --confidence -0.15 "${flags[@]}" --json &
wait
cell full $IDA --db "$out/$task-full.duckdb" experiment --strategy full "${flags[@]}" --json
