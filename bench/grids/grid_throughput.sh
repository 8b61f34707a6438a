#!/usr/bin/env bash
# Issue 23: does `ida grid --workers 2` complete cells faster than `--workers 1` on this machine (one
# torch thread a worker)? The same small grid (wildcard, full HCH and supervised, seeds 1-3, two
# short online cycles a cell) from scratch in each setting, run one after the other in this
# script; cells per hour of each and their ratio go to bench/results/grid_throughput.json.
# Usage: bench/grids/grid_throughput.sh   (needs both cores free: stop other grids first)
set -euo pipefail
cd "$(dirname "$0")/../.."
IDA=".venv/bin/python -m ida_cli"
out=bench/out/grid_throughput
rm -rf "$out"
mkdir -p "$out"
flags=(--tasks wildcard --strategies full,supervised --seeds 1-3 --set per_round=40 --set budget=4000
  --set max_cycles=2 --set train_steps=150 --set adversary_steps=20 --set eval_questions=100)
declare -A seconds
for workers in 1 2; do
  start=$(date +%s%N)
  $IDA grid "${flags[@]}" --workers "$workers" --threads 1 --results "$out/w$workers/results" \
    --work "$out/w$workers/work" --json > "$out/w$workers.json"
  seconds[$workers]=$(( ($(date +%s%N) - start) / 1000000 ))e-3
  echo "workers $workers: ${seconds[$workers]} s"
done
.venv/bin/python - "${seconds[1]}" "${seconds[2]}" <<'PY'
import json, sys
one, two = float(sys.argv[1]), float(sys.argv[2])
cells = 6
doc = {"cells": cells, "seconds": {"workers1": round(one, 1), "workers2": round(two, 1)},
       "cells_per_hour": {"workers1": round(cells * 3600 / one, 1), "workers2": round(cells * 3600 / two, 1)},
       "ratio": round(one / two, 3)}
open("bench/results/grid_throughput.json", "w").write(json.dumps(doc, indent=1) + "\n")
print(json.dumps(doc))
PY
