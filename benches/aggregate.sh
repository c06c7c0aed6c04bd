#!/usr/bin/env bash
# Window aggregation, end to end, side by side in one run: osprey's CPU
# backend, osprey's GPU backend (lavapipe where there is no GPU) and DuckDB,
# each reading the same Parquet file and writing its result rows as NDJSON.
#
# Data (generated once by DuckDB into $DIR): ROWS rows, a timestamp spread
# evenly over one hour, a string sensor key (1, 10,000 or 1,000,000 distinct
# values, assigned at random) and two f64 values; tumbling 1-minute windows,
# GROUP BY sensor, count/sum/min/max/avg of both values.
#
#   benches/aggregate.sh                 # 10M rows; 1, 10k and 1M keys
#   ROWS=1000000 KEYS="10000" benches/aggregate.sh
#   BACKENDS="cpu" benches/aggregate.sh  # skip the GPU
#   REPEATS=5 benches/aggregate.sh       # runs of each (default 3, 1 for 1M keys)
#   THREADS=1 benches/aggregate.sh       # osprey's --threads and DuckDB's threads (default: nproc)
#   SCALING="1 2" BACKENDS=cpu benches/aggregate.sh
#                                        # also osprey's CPU backend at each of these --threads
#   EXTRA="old=/tmp/osprey-old" BACKENDS=cpu benches/aggregate.sh
#                                        # also time other osprey binaries (LABEL=PATH ...,
#                                        # CPU backend), e.g. a build of an older commit
#
# Each line gives wall time (best and median) and CPU time (user + system, of
# the best run and the median): on a shared machine CPU time is the steadier
# of the two.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-10000000}
KEYS=${KEYS:-"1 10000 1000000"}
BACKENDS=${BACKENDS:-"cpu gpu"}
DIR=${DIR:-target/bench-aggregate}
THREADS=${THREADS:-$(nproc)}
# Results go to tmpfs (both tools write the same bytes there): on a shared disk
# the page cache's writeback stalls would time the disk, not the aggregation.
OUT=${OUT:-/dev/shm/osprey-bench-aggregate.ndjson}
mkdir -p "$DIR"
EXTRA=${EXTRA:-}
SCALING=${SCALING:-}
cargo build --release -p osprey >&2
OSPREY=target/release/osprey

# shellcheck source=benches/inputs.sh
. "$(dirname "$0")/inputs.sh"
for k in $KEYS; do make_table "$ROWS" "$k" "$DIR" > /dev/null; done

AGG="count(*),sum(temp),min(temp),max(temp),avg(temp),sum(humidity),min(humidity),max(humidity),avg(humidity)"
timed() { # label, then the command; runs it REPEAT times, prints the best and median
    local label=$1; shift
    local runs=() t0 t1 cpu
    for _ in $(seq "$REPEAT"); do
        t0=$(date +%s.%N)
        /usr/bin/time -f "%M %U %S" -o "$DIR/mem" "$@" 2> "$DIR/err"
        t1=$(date +%s.%N)
        cpu=$(awk '{ print $2 + $3 }' "$DIR/mem")
        runs+=("$(echo "$t1 - $t0" | bc) $cpu")
    done
    local sorted best median cpus cbest cmedian
    sorted=$(printf "%s\n" "${runs[@]}" | sort -n)
    best=$(echo "$sorted" | head -1 | cut -d' ' -f1)
    median=$(echo "$sorted" | sed -n "$(( (REPEAT + 1) / 2 ))p" | cut -d' ' -f1)
    cpus=$(printf "%s\n" "${runs[@]}" | cut -d' ' -f2 | sort -n)
    cbest=$(echo "$cpus" | head -1)
    cmedian=$(echo "$cpus" | sed -n "$(( (REPEAT + 1) / 2 ))p")
    printf "%-12s wall best %7.2f s median %7.2f s  cpu best %7.2f s median %7.2f s (of %d) %6.0f MiB %9d rows  load %s\n" \
        "$label" "$best" "$median" "$cbest" "$cmedian" "$REPEAT" \
        "$(( $(cut -d' ' -f1 "$DIR/mem") / 1024 ))" "$(wc -l < "$OUT")" "$(cut -d' ' -f1 /proc/loadavg)"
}

echo "rows=$ROWS threads=$THREADS $(uname -m) $(nproc) cores; osprey $(git rev-parse --short HEAD); duckdb $(python3 -c 'import duckdb; print(duckdb.__version__)')"
for k in $KEYS; do
    f="$DIR/rows${ROWS}_keys${k}.parquet"
    # Three runs each where a run is short; this machine is shared and noisy.
    if [ "$k" -le 10000 ]; then REPEAT=${REPEATS:-3}; else REPEAT=${REPEATS:-1}; fi
    echo "== $k keys ($(du -hL "$f" | cut -f1) parquet)"
    for b in $BACKENDS; do
        timed "osprey-$b" "$OSPREY" aggregate "$f" --window tumbling:1m --group-by sensor --agg "$AGG" \
            --backend "$b" --batch-rows 1048576 --threads "$THREADS" --output "$OUT"
        tail -1 "$DIR/err" | sed 's/^/    /'
    done
    for t in $SCALING; do
        timed "osprey-cpu-t$t" "$OSPREY" aggregate "$f" --window tumbling:1m --group-by sensor --agg "$AGG" \
            --backend cpu --batch-rows 1048576 --threads "$t" --output "$OUT"
        tail -1 "$DIR/err" | sed 's/^/    /'
    done
    for extra in $EXTRA; do
        timed "${extra%%=*}-cpu" "${extra#*=}" aggregate "$f" --window tumbling:1m --group-by sensor --agg "$AGG" \
            --backend cpu --batch-rows 1048576 --output "$OUT"
        tail -1 "$DIR/err" | sed 's/^/    /'
    done
    timed duckdb python3 -c "
import duckdb, sys
con = duckdb.connect()
con.execute('SET threads = $THREADS')
con.execute('SET enable_progress_bar = false')
con.execute(\"\"\"COPY (SELECT time_bucket(INTERVAL '1 minute', ts) AS window_start,
    time_bucket(INTERVAL '1 minute', ts) + INTERVAL '1 minute' AS window_end, sensor,
    count(*) AS count, sum(temp), min(temp), max(temp), avg(temp),
    sum(humidity), min(humidity), max(humidity), avg(humidity)
    FROM '$f' GROUP BY ALL) TO '$OUT' (FORMAT JSON)\"\"\")
"
done
rm -f "$OUT"
