#!/usr/bin/env bash
# Window state that grows with the data (issue 18), side by side in one run:
# osprey's `count, p99` against its `count, avg` on the same data, and
# DuckDB's approx_quantile; then approx_count_distinct with a million keys.
# Wall time, CPU time (user + system) and peak RSS (/usr/bin/time -v's
# "Maximum resident set size") of each.
#
# Data (made once by DuckDB, benches/inputs.sh): ROWS rows over one hour, a
# string sensor key of KEYS distinct values at random, tumbling 1-minute
# windows GROUP BY sensor (2M rows and 200,000 keys give about 1.8M result
# rows); then DROWS rows with DKEYS keys for approx_count_distinct.
#
#   benches/aggregate_state.sh              # about 2 minutes on 2 cores
#   ROWS=200000 KEYS=20000 benches/aggregate_state.sh
#   BACKEND=gpu benches/aggregate_state.sh  # osprey on the GPU (lavapipe without one)
#   DUCKDB=0 benches/aggregate_state.sh     # skip DuckDB
#   DUCKDB_QUANTILE=1 benches/aggregate_state.sh
#                                           # also DuckDB's approx_quantile: over 20 GB of
#                                           # memory and minutes at 200k keys, so off by default
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-2000000}
KEYS=${KEYS:-200000}
DROWS=${DROWS:-2000000}
DKEYS=${DKEYS:-1000000}
BACKEND=${BACKEND:-cpu}
DUCKDB=${DUCKDB:-1}
DUCKDB_QUANTILE=${DUCKDB_QUANTILE:-0}
DIR=${DIR:-target/bench-aggregate}
THREADS=${THREADS:-$(nproc)}
OUT=${OUT:-/dev/shm/osprey-bench-aggregate-state.ndjson}
OSPREY=${OSPREY:-target/release/osprey}
if [ "$OSPREY" = target/release/osprey ]; then cargo build --release -p osprey >&2; fi

# shellcheck source=benches/inputs.sh
. "$(dirname "$0")/inputs.sh"
f=$(make_table "$ROWS" "$KEYS" "$DIR")
fd=$(make_table "$DROWS" "$DKEYS" "$DIR")

run() { # label, then the command: one run, its wall/CPU time, peak RSS and rows
    local label=$1; shift
    local t0 t1
    t0=$(date +%s.%N)
    /usr/bin/time -v -o "$DIR/time" "$@" 2> "$DIR/err" || { echo "$label failed:"; tail -3 "$DIR/err"; return 0; }
    t1=$(date +%s.%N)
    local rss user sys
    rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$DIR/time")
    user=$(awk -F': ' '/User time/ { print $2 }' "$DIR/time")
    sys=$(awk -F': ' '/System time/ { print $2 }' "$DIR/time")
    printf "%-28s wall %7.2f s  cpu %7.2f s  peak RSS %6.0f MiB  %8d rows  load %s\n" \
        "$label" "$(echo "$t1 - $t0" | bc)" "$(echo "$user + $sys" | bc)" \
        "$(( rss / 1024 ))" "$(wc -l < "$OUT")" "$(cut -d' ' -f1 /proc/loadavg)"
}

duck() { # label, SQL select list: DuckDB over $2's file, GROUP BY window and sensor
    local label=$1 file=$2 select=$3
    run "$label" python3 -c "
import duckdb
con = duckdb.connect()
con.execute('SET threads = $THREADS')
con.execute('SET enable_progress_bar = false')
con.execute(\"\"\"COPY (SELECT time_bucket(INTERVAL '1 minute', ts) AS window_start, sensor, $select
    FROM '$file' GROUP BY ALL) TO '$OUT' (FORMAT JSON)\"\"\")
"
}

echo "$(date -u +%FT%TZ) $(uname -m) $(nproc) cores; osprey $(git rev-parse --short HEAD) ($BACKEND); duckdb $(python3 -c 'import duckdb; print(duckdb.__version__)'); uptime:$(uptime)"
echo "== $ROWS rows, $KEYS keys, tumbling 1m ($(du -hL "$f" | cut -f1) parquet)"
for agg in "count(*),avg(temp)" "count(*),p99(temp)"; do
    run "osprey $agg" "$OSPREY" aggregate "$f" --window tumbling:1m --group-by sensor \
        --agg "$agg" --backend "$BACKEND" --output "$OUT"
done
if [ "$DUCKDB" = 1 ]; then
    duck "duckdb count,avg" "$f" "count(*), avg(temp)"
fi
if [ "$DUCKDB_QUANTILE" = 1 ]; then
    duck "duckdb count,approx_quantile" "$f" "count(*), approx_quantile(temp, 0.99)"
fi
echo "== $DROWS rows, $DKEYS keys, tumbling 1m, approx_count_distinct ($(du -hL "$fd" | cut -f1) parquet)"
for agg in "count(*),avg(temp)" "count(*),approx_count_distinct(temp)"; do
    run "osprey $agg" "$OSPREY" aggregate "$fd" --window tumbling:1m --group-by sensor \
        --agg "$agg" --backend "$BACKEND" --output "$OUT"
done
if [ "$DUCKDB" = 1 ]; then
    duck "duckdb approx_count_distinct" "$fd" "count(*), approx_count_distinct(temp)"
fi
rm -f "$OUT"
