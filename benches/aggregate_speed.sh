#!/usr/bin/env bash
# Issue 18's speed goals side by side in one run: `osprey aggregate` against
# DuckDB (2 threads) on the same files, turn about, RUNS times each:
#
#   - 10M Parquet rows (DuckDB-written, timestamps with time zone), 10,000
#     and 1,000,000 string keys, 1-minute tumbling windows,
#     count/sum/min/max/avg of two columns (goal: at most 0.7x DuckDB's wall
#     time; at 1M keys also at most half its peak memory);
#   - the first 4M of the 10,000-key rows as NDJSON (DuckDB's read_json).
#
# Both write NDJSON rows to /dev/shm; each output is removed before the next
# run (truncating a 1.5 GB file cost the next run a second of system time).
# Prints one line a run (wall, user+sys CPU, peak RSS), then per case the
# medians and osprey/DuckDB ratios. With OLD=PATH an older osprey build runs
# too, and its rows are compared with the new build's byte for byte.
#
#   benches/aggregate_speed.sh
#   OLD=/tmp/osprey-old RUNS=5 CASES="10000 ndjson" benches/aggregate_speed.sh
#
# About 4 minutes with RUNS=3 on 2 cores; the tables (720 MB) are made once
# under target/bench-aggregate by DuckDB (benches/inputs.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
CASES=${CASES:-10000 1000000 ndjson}
NEW=${NEW:-target/release/osprey}
OLD=${OLD:-}
DIR=${DIR:-target/bench-aggregate}
# shellcheck source=benches/inputs.sh
. "$(dirname "$0")/inputs.sh"
AGG="count(*),sum(temp),min(temp),max(temp),avg(temp),sum(humidity),min(humidity),max(humidity),avg(humidity)"
SQL_AGG="count(*), sum(temp), min(temp), max(temp), avg(temp), sum(humidity), min(humidity), max(humidity), avg(humidity)"
work=$(mktemp -d /dev/shm/osprey-aggspeed.XXXXXX)
trap 'rm -rf "$work"' EXIT

input_of() {
  case $1 in
    ndjson)
      local t nd=$DIR/rows4m_keys10000.ndjson
      t=$(make_table 10000000 10000 "$DIR")
      if [ ! -f "$nd" ]; then
        python3 -c "
import duckdb
con = duckdb.connect(); con.execute('SET enable_progress_bar = false')
con.execute(\"COPY (SELECT * FROM read_parquet('$t') LIMIT 4000000) TO '$nd' (FORMAT JSON)\")"
      fi
      echo "$nd" ;;
    *) make_table 10000000 "$1" "$DIR" ;;
  esac
}

# one run: CASE SIDE CMD...; prints and records "wall cpu rss_mib"
run_one() {
  local case=$1 side=$2 t0 t1; shift 2
  rm -f "$work"/*.ndjson
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S %M" -o "$work/time" "$@" > /dev/null 2> "$work/err" || {
    echo "$side failed on $case:" >&2; tail -5 "$work/err" >&2; exit 1; }
  t1=$(date +%s.%N)
  read -r user sys rss < "$work/time"
  local line
  line=$(awk -v a="$t0" -v b="$t1" -v u="$user" -v s="$sys" -v r="$rss" \
    'BEGIN { printf "%.2f %.2f %.0f", b - a, u + s, r / 1024 }')
  echo "$line" >> "$work/$case.$side"
  echo "$case $side: wall ${line% * *} s, cpu $(echo "$line" | cut -d' ' -f2) s, rss ${line##* } MiB"
}

osprey_run() {
  local case=$1 side=$2 bin=$3 file=$4
  run_one "$case" "$side" "$bin" aggregate "$file" --time-field ts --window tumbling:1m \
    --group-by sensor --agg "$AGG" --backend cpu -o "$work/$side.ndjson"
  if [ -n "$OLD" ]; then mv "$work/$side.ndjson" "$work/$case.$side.rows"; fi
}

duckdb_run() {
  local case=$1 file=$2 from
  case $file in
    *.parquet) from="read_parquet('$file')" ;;
    *) from="read_json('$file', format='newline_delimited')" ;;
  esac
  run_one "$case" duckdb python3 -c "
import duckdb
con = duckdb.connect(); con.execute('SET threads = 2'); con.execute('SET enable_progress_bar = false')
con.execute('''COPY (SELECT time_bucket(INTERVAL '1 minute', ts::TIMESTAMPTZ) AS window_start,
  time_bucket(INTERVAL '1 minute', ts::TIMESTAMPTZ) + INTERVAL '1 minute' AS window_end, sensor,
  $SQL_AGG FROM $from GROUP BY ALL) TO '$work/duckdb.ndjson' (FORMAT JSON)''')"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for case in $CASES; do
  file=$(input_of "$case")
  cat "$file" > /dev/null
  for _ in $(seq "$RUNS"); do
    [ -n "$OLD" ] && osprey_run "$case" old "$OLD" "$file"
    osprey_run "$case" new "$NEW" "$file"
    duckdb_run "$case" "$file"
  done
  if [ -n "$OLD" ]; then
    if cmp -s "$work/$case.old.rows" "$work/$case.new.rows"; then
      echo "$case: old and new rows are the same bytes"
    else
      echo "$case: old and new rows DIFFER" >&2
    fi
  fi
done

echo
printf '%-8s %-7s %8s %8s %9s %12s %12s\n' case side wall cpu rss_mib "wall/duckdb" "rss/duckdb"
for case in $CASES; do
  dw=$(cut -d' ' -f1 "$work/$case.duckdb" | median)
  dr=$(cut -d' ' -f3 "$work/$case.duckdb" | median)
  for side in old new duckdb; do
    [ -f "$work/$case.$side" ] || continue
    w=$(cut -d' ' -f1 "$work/$case.$side" | median)
    c=$(cut -d' ' -f2 "$work/$case.$side" | median)
    r=$(cut -d' ' -f3 "$work/$case.$side" | median)
    awk -v k="$case" -v s="$side" -v w="$w" -v c="$c" -v r="$r" -v dw="$dw" -v dr="$dr" \
      'BEGIN { printf "%-8s %-7s %8.2f %8.2f %9.0f %12.2f %12.2f\n", k, s, w, c, r, w / dw, r / dr }'
  done
done
