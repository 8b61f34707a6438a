#!/usr/bin/env bash
# Issue 22's target on one task: full HCH and supervised, side by side (one thread each), each until
# 95% eval accuracy, with 1,280 questions a cycle (PER_ROUND) and the online schedule's defaults otherwise.
# Accuracy at a given step does not depend on the load (fixed --train-steps); the seconds do, so
# compare the CPU seconds, and the wall seconds only when nothing else ran. Finished curves are
# committed as bench/results/reach95/TASK-STRATEGY[-root4]-seedK.json and skipped on a rerun; an
# unfinished run resumes from its database in bench/out/reach95.
# Then: ida report bench/results/reach95 --level 0.9 --level 0.95
# Usage: bench/grids/reach95.sh TASK [SEED ...]   (default seed: 1; ROOT_WEIGHT=4 for full HCH's
# root weight, the setting that lifted unionfind to 95%: bench/results/root-weight-s21;
# PER_CONTEXT=N for N training questions a context instead of 8; PER_ROUND=N for N questions a
# cycle instead of 1,280; STEP_SHARE=S for full HCH's --step-share instead of the default;
# ONLY=supervised or ONLY=full for one of the two)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=bench/grids/cells.sh
source bench/grids/cells.sh
task=${1:?usage: bench/grids/reach95.sh TASK [SEED ...]}
shift
out=bench/out/reach95
res=bench/results/reach95
mkdir -p "$out" "$res"
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=(1)
weight=${ROOT_WEIGHT:-1}
per_context=${PER_CONTEXT:-8}
per_round=${PER_ROUND:-1280}
share=${STEP_SHARE:-}
only=${ONLY:-}
suffix=""
ctx=""
[ "$weight" != 1 ] && suffix="-root$weight"
full_share=()
[ -n "$share" ] && { suffix="$suffix-ss$share"; full_share=(--step-share "$share"); }
[ "$per_context" != 8 ] && ctx="-ctx$per_context"
[ "$per_round" != 1280 ] && ctx="$ctx-r$per_round"
for seed in "${seeds[@]}"; do
  common=(--task "$task" --size 8 --seed "$seed" --budget 50000000 --train-steps 200 --adversary-steps 50
    --eval-questions 200 --per-round "$per_round" --max-cycles 40 --until 0.95 --per-context "$per_context")
  [ "$only" != full ] && run "$task-supervised$ctx-seed$seed" --strategy supervised &
  [ "$only" != supervised ] && run "$task-full$suffix$ctx-seed$seed" --strategy full --root-weight "$weight" "${full_share[@]}" &
  wait
done
