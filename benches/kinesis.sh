#!/usr/bin/env bash
# The Kinesis API of two builds turn about, in one run: the stream bench's
# HTTP part (PutRecords of 500 records a call, 100 B and 1000 B of data, 4
# keep-alive connections, fsync on; then GetRecords of them all, Limit
# 10000, one connection a shard) against OLD and NEW alternately, RUNS
# times; prints each figure's median and spread and the new/old ratio.
#
#   benches/kinesis.sh OLD [NEW]              # NEW defaults to target/release/osprey
#   RUNS=5 RECORDS=400000 benches/kinesis.sh ./osprey-before
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: benches/kinesis.sh OLD [NEW]}
new=${2:-target/release/osprey}
RUNS=${RUNS:-3}
RECORDS=${RECORDS:-400000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo bench -q -p osprey --bench stream --no-run 2>/dev/null
bench=$(ls -t target/release/deps/stream-* | grep -v '\.d$' | head -1)
echo "kinesis turn about: old=$old new=$new, $RUNS rounds, $RECORDS records, $(nproc) cores, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$RUNS"); do
  for side in old new; do
    bin=$old; [ "$side" = new ] && bin=$new
    "$bench" --osprey "$bin" --only http --rate 0 --records "$RECORDS" > "$work/out" 2>&1 || {
      echo "$side failed:" >&2; tail -5 "$work/out" >&2; exit 1; }
    # one line a figure: "NAME records/s"
    awk -v side="$side" '/over HTTP/ {
        split($0, a, ":"); name = $1 "-" $4; n = a[2]; sub(/^ */, "", n); sub(/ .*/, "", n)
        print name, n >> ("'"$work"'/" name "." side) }' "$work/out"
  done
done
median() { sort -g "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
spread() { sort -g "$1" | awk '{ v[NR] = $1 } END { printf "%.0f..%.0f", v[1], v[NR] }'; }
for f in "$work"/*.old; do
  name=$(basename "$f" .old)
  cut -d' ' -f2 "$f" > "$work/o"; cut -d' ' -f2 "$work/$name.new" > "$work/n"
  printf '%-22s old %8.0f (%s)  new %8.0f (%s) records/s  new/old %.2f\n' "$name" \
    "$(median "$work/o")" "$(spread "$work/o")" "$(median "$work/n")" "$(spread "$work/n")" \
    "$(awk -v a="$(median "$work/o")" -v b="$(median "$work/n")" 'BEGIN { print b / a }')"
done
