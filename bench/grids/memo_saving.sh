#!/usr/bin/env bash
# Issue 22 item 3: what the memoizing overseer saves. Full HCH on QUESTIONS fresh size-8 questions
# per task, with and without --memo, on two copies of one database per task.
# Usage: bench/grids/memo_saving.sh [QUESTIONS]   (results: bench/results/memo_saving.jsonl)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-100}
IDA=".venv/bin/python -m ida_cli"
out=bench/results/memo_saving.jsonl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: > "$out"
for task in permutation assignments wildcard unionfind shortpath; do
  for memo in --no-memo --memo; do
    db="$work/$task$memo.duckdb"
    $IDA --db "$db" questions generate --task "$task" --size 8 --count "$n" --seed 1 >/dev/null
    $IDA --db "$db" round --questions "$n" $memo --json | .venv/bin/python -c '
import json, sys
d = json.load(sys.stdin)
keep = ("task", "questions", "overseer_calls", "primitive_calls", "memo_hits", "accuracy", "nodes")
print(json.dumps({"memo": sys.argv[1] == "--memo", **{k: d[k] for k in keep}}))' "$memo" >> "$out"
  done
done
cat "$out"
