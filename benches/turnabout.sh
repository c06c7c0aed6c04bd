#!/usr/bin/env bash
# Two builds of osprey turn about, in one run: the workloads issue 13 named
# (analysis of a 1080p clip on the CPU with every kernel, aggregation of 10M
# Parquet rows in tumbling and hopping windows, TCP put throughput), each run
# RUNS times alternating old and new, reporting the median and the spread
# (min..max) of wall and CPU time, and the new/old ratio of the medians. The
# outputs of the two builds are compared byte for byte (`cmp`): a
# restructuring must not change a record.
#
#   benches/turnabout.sh OLD [NEW]          # NEW defaults to target/release/osprey
#   GPU=1 benches/turnabout.sh OLD      # also hopping windows on the GPU backend
#   ONLY="agg-hop-gpu tcp-put" GPU=1 benches/turnabout.sh OLD   # only these workloads
#   RUNS=5 FRAMES=600 ROWS=10000000 KEYS=10000 TCP_RECORDS=2000000 benches/turnabout.sh /tmp/osprey-old
#
# OLD is a binary built from an earlier commit, e.g.
#   git worktree add /tmp/old REV && CARGO_TARGET_DIR=target/old cargo build \
#     --release -p osprey --manifest-path /tmp/old/Cargo.toml
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: benches/turnabout.sh OLD [NEW]}
new=${2:-target/release/osprey}
RUNS=${RUNS:-3}
FRAMES=${FRAMES:-600}
ROWS=${ROWS:-10000000}
KEYS=${KEYS:-10000}
# shellcheck source=benches/inputs.sh
. "$(dirname "$0")/inputs.sh"
clip=$(make_clip "$FRAMES")
camera=$(make_camera_clip "$FRAMES")
table=$(make_table "$ROWS" "$KEYS" target/bench-aggregate)
work=$(mktemp -d /dev/shm/osprey-turnabout.XXXXXX)
trap 'rm -rf "$work"' EXIT
AGG="count(*),sum(temp),min(temp),max(temp),avg(temp),sum(humidity),min(humidity),max(humidity),avg(humidity)"

# one run: LABEL SIDE OUTFILE CMD...; appends "wall cpu rss_kib" to $work/LABEL.SIDE
run_one() {
  local label=$1 side=$2 out=$3; shift 3
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S %M" -o "$work/time" "$@" > "$out" 2> "$work/err" || {
    echo "$label ($side) failed:" >&2; tail -5 "$work/err" >&2; exit 1; }
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" '{ printf "%.3f %.3f %d\n", b - a, $1 + $2, $3 }' "$work/time" >> "$work/$label.$side"
}

# median and spread of column COL of FILE
stat_of() {
  sort -g -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { printf "%.2f (%.2f..%.2f)", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
median_of() { sort -g -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'; }

workload() { # LABEL then the osprey arguments with @OUT@ for the output file
  local label=$1; shift
  case " ${ONLY:-$label} " in *" $label "*) ;; *) return 0 ;; esac
  for _ in $(seq "$RUNS"); do
    for side in old new; do
      local bin=$old; [ "$side" = new ] && bin=$new
      local args=("${@//@OUT@/$work/$label.$side.out}")
      run_one "$label" "$side" /dev/null "$bin" "${args[@]}"
    done
  done
  local same="identical"
  cmp -s "$work/$label.old.out" "$work/$label.new.out" || same="DIFFER"
  printf '%-22s old %-22s new %-22s new/old %.3f  cpu old %s new %s  output %s\n' "$label" \
    "$(stat_of "$work/$label.old" 1)" "$(stat_of "$work/$label.new" 1)" \
    "$(awk -v a="$(median_of "$work/$label.old" 1)" -v b="$(median_of "$work/$label.new" 1)" 'BEGIN { print b / a }')" \
    "$(stat_of "$work/$label.old" 2)" "$(stat_of "$work/$label.new" 2)" "$same"
  [ "$same" = identical ] || { diff <(head -c 2000 "$work/$label.old.out") <(head -c 2000 "$work/$label.new.out") | head -5 >&2; }
}

echo "turn about: old=$old new=$new, $RUNS runs each alternating, $(nproc) cores, $(date -u +%F)"
echo "wall seconds: median (min..max); cpu = user+system seconds"
workload analyze-testsrc analyze "$clip" --backend cpu --kernels stats,scene,motion,black,freeze,blur --output @OUT@
workload analyze-camera analyze "$camera" --backend cpu --kernels stats,scene,motion,black,freeze,blur --output @OUT@
workload agg-tumbling-1m aggregate "$table" --window tumbling:1m --group-by sensor --agg "$AGG" --backend cpu --batch-rows 1048576 --output @OUT@
workload agg-hop-10s-1m aggregate "$table" --window hop:10s,1m --group-by sensor --agg "$AGG" --backend cpu --batch-rows 1048576 --output @OUT@
if [ -n "${GPU:-}" ]; then
  workload agg-tumbling-gpu aggregate "$table" --window tumbling:1m --group-by sensor --agg "$AGG" --backend gpu --batch-rows 1048576 --output @OUT@
  workload agg-hop-gpu aggregate "$table" --window hop:10s,1m --group-by sensor --agg "$AGG" --backend gpu --batch-rows 1048576 --output @OUT@
fi

# TCP put throughput: the stream bench's TCP part against each binary in turn.
case " ${ONLY:-tcp-put} " in *" tcp-put "*) ;; *) exit 0 ;; esac
cargo bench -q -p osprey --bench stream --no-run 2>/dev/null
bench=$(ls -t target/release/deps/stream-* | grep -v '\.d$' | head -1)
for _ in $(seq "$RUNS"); do
  for side in old new; do
    bin=$old; [ "$side" = new ] && bin=$new
    echo "tcp put ($side):" "$("$bench" --osprey "$bin" --only tcp --rate 0 --records "${TCP_RECORDS:-2000000}" 2>&1 | grep -i 'records/s' | tr '\n' ' ')"
  done
done
