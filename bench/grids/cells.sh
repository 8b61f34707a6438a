# Sourced by the bench/grids scripts that run named `ida experiment` cells: `run NAME FLAGS...`
# runs one with the caller's $out (databases, logs), $res (committed curves) and ${common[@]}
# flags, one thread; a name whose curve is in $res is done and skipped, an unfinished one resumes
# from its database.
IDA=".venv/bin/python -m ida_cli"
export IDA_THREADS=1 OMP_NUM_THREADS=1
run() {  # name, then the experiment's own flags
  local name=$1; shift
  [ -f "$res/$name.json" ] && { echo "== $name: done"; return; }
  echo "== $(date +%T) $name"
  if $IDA --db "$out/$name.duckdb" experiment "${common[@]}" "$@" --json > "$out/$name.json" 2> "$out/$name.log"; then
    cp "$out/$name.json" "$res/$name.json"
    echo "== $(date +%T) $name: finished"
  else
    echo "== $(date +%T) $name: failed, see $out/$name.log"
  fi
}
