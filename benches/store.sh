#!/usr/bin/env bash
# The stream store's integrity costs (issue 12), end to end through the binary:
#
# 1. Opening a store does not grow with its data: STREAMS streams of SHARDS
#    shards (100 x 16 by default) are timed empty, then after each fill step
#    (GB list, default "1 10"), for a writer (`osprey put s0 < /dev/null`:
#    open every stream and shard, put nothing, close) and a reader
#    (`osprey stream list`). Records of about 1 KB go in with --durability os
#    and 4 MiB segments, so every shard has sealed segments and an active one.
# 2. `osprey stream verify` throughput on one stream of VERIFY_GB (default 1),
#    with the page cache dropped first (cold, as root) and again warm.
#
#   benches/store.sh                      # 100 x 16 shards, 1 then 10 GB; verify 1 GB
#   GB="1" STREAMS=10 benches/store.sh    # smaller
#   OSPREY=/tmp/osprey-old VERIFY_GB=0 benches/store.sh   # another build (open times only;
#                                         # builds before issue 12 rescan every segment)
#
# Data goes to $DIR (default target/bench-store), removed at the start.
set -euo pipefail
cd "$(dirname "$0")/.."
STREAMS=${STREAMS:-100}
SHARDS=${SHARDS:-16}
GB=${GB:-"1 10"}
VERIFY_GB=${VERIFY_GB:-1}
DIR=${DIR:-target/bench-store}
if [ -n "${OSPREY:-}" ]; then
  B=$OSPREY
else
  B=target/release/osprey
  cargo build --release -p osprey >&2
fi
rm -rf "$DIR"; mkdir -p "$DIR"
export OSPREY_SEGMENT_BYTES=$((4 << 20))

# 64 MiB of ~1 KB NDJSON records, made once.
input="$DIR/input.ndjson"
python3 - "$input" <<'PY'
import sys
pad = "x" * 960
with open(sys.argv[1], "w") as f:
    for i in range(64 * 1024):
        f.write('{"k":"device-%d","n":%d,"pad":"%s"}\n' % (i % 997, i, pad))
PY

secs() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null 2>&1; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'; }
open_times() {
  local label=$1 w r
  w=$(secs sh -c "$B put s0 --data-dir $DIR/data < /dev/null")
  r=$(secs $B stream list --data-dir "$DIR/data")
  local bytes; bytes=$(du -sb "$DIR/data" | cut -f1)
  printf '%-8s data %6.2f GB  open+close (writer) %6.3f s  list (reader) %6.3f s\n' \
    "$label" "$(awk -v b="$bytes" 'BEGIN { print b / 1e9 }')" "$w" "$r"
}

for i in $(seq 0 $((STREAMS - 1))); do
  $B stream create "s$i" --shards "$SHARDS" --data-dir "$DIR/data" > /dev/null 2>&1
done
open_times empty
filled=0
for target in $GB; do
  want=$((target * 1000000000))
  i=0
  while [ "$(du -sb "$DIR/data" | cut -f1)" -lt "$want" ]; do
    $B put "s$((i % STREAMS))" --partition-key-field k --durability os \
      --data-dir "$DIR/data" "$input" > /dev/null 2>&1
    i=$((i + 1))
  done
  open_times "${target}GB"
done

# Verify throughput on one stream of VERIFY_GB.
[ "$VERIFY_GB" -gt 0 ] || exit 0
$B stream create v --data-dir "$DIR/data" > /dev/null 2>&1
for _ in $(seq 1 $((VERIFY_GB * 1000 / 67))); do
  $B put v --durability os --data-dir "$DIR/data" "$input" > /dev/null 2>&1
done
sync
if [ "$(id -u)" -eq 0 ]; then echo 3 > /proc/sys/vm/drop_caches; echo "verify (cold cache):" >&2; else echo "verify (not root: page cache not dropped):" >&2; fi
$B stream verify v --data-dir "$DIR/data" > /dev/null
echo "verify (warm cache):" >&2
$B stream verify v --data-dir "$DIR/data" > /dev/null
