#!/usr/bin/env bash
# Two code versions continue one long online experiment side by side (one thread each, each on its
# own copy of the database, from its own checkout of the commit) until cycle STOP begins; then
# bench/perf/late_cycle.py compares their later model phases (the first of a process reads cold).
# Usage: bench/perf/late_cycle.sh DB OLD_COMMIT NEW_COMMIT STOP -- EXPERIMENT FLAGS...
# The flags are the experiment's own (an unfinished run resumes only with the flags it began with).
set -euo pipefail
cd "$(dirname "$0")/../.."
db=${1:?usage: late_cycle.sh DB OLD NEW STOP -- FLAGS}; old=$2; new=$3; stop=$4; shift 4
[ "${1:-}" = "--" ] && shift
here=$(pwd)
work=$(mktemp -d /tmp/late-cycle.XXXX)
for way in old new; do
  commit=${!way}
  git worktree add --detach "$work/src-$way" "$commit" > /dev/null
  cp "$db" "$work/$way.duckdb"
  cp -r "$db.checkpoints" "$work/$way.duckdb.checkpoints"
  (cd "$work/src-$way" && IDA_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/time -v "$here/.venv/bin/python" -m ida_cli \
    --db "$work/$way.duckdb" experiment "$@" > /dev/null 2> "$work/$way.log") &
done
while pgrep -f "$work/(old|new).duckdb experiment" > /dev/null; do
  for way in old new; do
    # the Python process only: /usr/bin/time then still writes its peak memory into the log
    grep -q "^cycle $stop: round" "$work/$way.log" && pkill -f "^$here/.venv/bin/python -m ida_cli --db $work/$way.duckdb" || true
  done
  sleep 5
done
wait || true
.venv/bin/python -m bench.perf.late_cycle "$work/old.log" "$work/new.log" --label "$(basename "$db") $old..$new to cycle $stop"
for way in old new; do git worktree remove --force "$work/src-$way"; done
echo "logs and copies in $work (remove when done)"
