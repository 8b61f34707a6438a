#!/usr/bin/env bash
# Seventeenth session: what the online engine needs to reach 95% on unionfind. Supervised cells at
# 640, 1,280, 6,400 and 51,200 ground-truth questions a cycle (200 steps a cycle), and the
# adversary strategy at 1,280 questions a cycle after a 160-question full-HCH first round. One
# thread each, seed 1; each finished run's curve (`ida experiment --json`) is committed as
# bench/results/unionfind-data-s17/NAME.json and skipped on a rerun; an unfinished one resumes
# from its database in bench/out/unionfind-data. adversary-per1280.json ran on the code before
# this session's cheaper rounds (b768c6c, 4ca6f19); adversary-per1280-cheaper-rounds.json is the
# same cell run again after them (copied by hand), which is what this script now runs.
# adversary-per640 (eighteenth session) was stopped after cycle 9 at the session's end; its curve so
# far is adversary-per640-stopped.json, and `bench/grids/unionfind_data.sh adversary-per640` runs it.
# Usage: bench/grids/unionfind_data.sh [NAME ...]  (default: all; two at a time with & and wait)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=bench/grids/cells.sh
source bench/grids/cells.sh
out=bench/out/unionfind-data
res=bench/results/unionfind-data-s17
mkdir -p "$out" "$res"
common=(--task unionfind --size 8 --seed 1 --train-steps 200 --adversary-steps 50 --eval-questions 200 --until 0.95)
declare -A cells=(
  [supervised-per640]="--strategy supervised --per-round 640 --max-cycles 25 --budget 100000"
  [supervised-per1280]="--strategy supervised --per-round 1280 --max-cycles 14 --budget 1000000"
  [supervised-per6400]="--strategy supervised --per-round 6400 --max-cycles 12 --budget 1000000"
  [supervised-per51200]="--strategy supervised --per-round 51200 --max-cycles 6 --budget 10000000"
  [adversary-per1280]="--strategy adversary --per-round 1280 --bootstrap 160 --max-cycles 14 --budget 100000 --temperature 0.05 --confidence -0.15"
  [adversary-per640]="--strategy adversary --per-round 640 --bootstrap 160 --max-cycles 14 --budget 100000 --temperature 0.05 --confidence -0.15"
)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(supervised-per6400 adversary-per1280 supervised-per1280 supervised-per640 supervised-per51200)
for name in "${names[@]}"; do
  # shellcheck disable=SC2086
  run "$name" ${cells[$name]}
done
