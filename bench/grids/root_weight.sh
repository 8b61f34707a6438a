#!/usr/bin/env bash
# Twenty-first session, issue 22: `--root-weight 4` against the default (1) on unionfind full HCH,
# the setting where full HCH stalled below 95% (1,280 trees a cycle; bench/topics/experiments.md,
# "What full HCH on unionfind trains on"). Each seed's pair runs side by side, one thread each;
# accuracy at a given step does not depend on the load (fixed --train-steps), the seconds do. Each
# finished run's curve is committed as bench/results/root-weight-s21/unionfind-full[-root4]-seedK.json
# and skipped on a rerun; an unfinished one resumes from its database in bench/out/root-weight.
# Then: ida report bench/results/root-weight-s21 --level 0.9 --level 0.95
# Usage: bench/grids/root_weight.sh [SEED ...]  (default: 2 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=bench/grids/cells.sh
source bench/grids/cells.sh
out=bench/out/root-weight
res=bench/results/root-weight-s21
mkdir -p "$out" "$res"
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=(2 3)
for seed in "${seeds[@]}"; do
  common=(--task unionfind --strategy full --size 8 --seed "$seed" --budget 2000000 --train-steps 200
    --adversary-steps 50 --eval-questions 200 --per-round 1280 --max-cycles 14 --until 0.95)
  run "unionfind-full-seed$seed" &
  run "unionfind-full-root4-seed$seed" --root-weight 4 &
  wait
done
