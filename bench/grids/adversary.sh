#!/usr/bin/env bash
# Adversary quality (issue 4): per task at size 8, amplified data from scripted full-HCH rounds,
# ML trained on it for a few minutes (so that it still makes errors), the adversary trained on ML
# as it now is, then `ida eval`: AUROC of −S for ML's errors on eval-split nodes with ground truth,
# beside the AUROC of ML's own confidence (the uncertainty baseline) on the same nodes.
# Usage: bench/grids/adversary.sh [task ...]   (MODEL_MINUTES, ADV_MINUTES, QUESTIONS to change the budget)
set -euo pipefail
cd "$(dirname "$0")/../.."
IDA=".venv/bin/python -m ida_cli"
mkdir -p bench/out
tasks=("$@")
[ ${#tasks[@]} -eq 0 ] && tasks=(wildcard permutation unionfind shortpath assignments)
for task in "${tasks[@]}"; do
  db="bench/out/adversary-$task.duckdb"
  if [ ! -f "$db" ]; then
    if [ "$task" = wildcard ]; then n_eval=200; else n_eval=400; fi
    $IDA --db "$db" questions generate --task "$task" --size 8 --count $n_eval --seed 11 --split eval --per-context 8
    $IDA --db "$db" questions generate --task "$task" --size 8 --count 4000 --seed 11
    $IDA --db "$db" round --task "$task" --strategy full --questions "${QUESTIONS:-1500}" --seed 11 --json > /dev/null
  fi
  $IDA --db "$db" train model --fresh --task "$task" --minutes "${MODEL_MINUTES:-3}" --eval-every 100 --patience 1000 \
    --json > "bench/out/adversary-$task.model.json"
  $IDA --db "$db" train adversary --task "$task" --minutes "${ADV_MINUTES:-2}" --json \
    > "bench/out/adversary-$task.adv.json"
  $IDA --db "$db" eval --task "$task" --json > "bench/out/adversary-$task.eval.json"
  .venv/bin/python - "$task" <<'PY'
import json, sys
t = sys.argv[1]
e = json.load(open(f"bench/out/adversary-{t}.eval.json"))
a = json.load(open(f"bench/out/adversary-{t}.adv.json"))["metrics"]
print(f"{t}: ML eval accuracy {e['accuracy']:.3f}; eval nodes {e.get('adversary_nodes')} "
      f"({e.get('ml_node_error_rate', 0):.1%} wrong): adversary AUROC {e.get('adversary_auroc')}, "
      f"ML confidence AUROC {e.get('uncertainty_auroc')}, calibration error {e.get('adversary_calibration_error')}; "
      f"held-out training nodes: AUROC {a['auroc']} vs {a['auroc_uncertainty']}")
PY
done
