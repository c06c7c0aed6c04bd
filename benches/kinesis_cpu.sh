#!/usr/bin/env bash
# The Kinesis API's server CPU time, two builds turn about: the stream
# bench's HTTP part (as benches/kinesis.sh: PutRecords then GetRecords of
# RECORDS records, 100 B and 1000 B) against OLD and NEW alternately, RUNS
# times, with `perf stat -e task-clock` on each server process; prints each
# run's CPU milliseconds per record size and its records/s. CPU time is
# steadier than throughput on a machine others load.
#
#   RUNS=3 RECORDS=2000000 benches/kinesis_cpu.sh OLD [NEW]   # needs perf
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: benches/kinesis_cpu.sh OLD [NEW]}
new=${2:-target/release/osprey}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo bench -q -p osprey --bench stream --no-run 2>/dev/null
bench=$(ls -t target/release/deps/stream-* | grep -v '\.d$' | head -1)
echo "kinesis CPU turn about: old=$old new=$new, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "${RUNS:-3}"); do
  for bin in "$old" "$new"; do
    "$bench" --osprey "$bin" --only http --rate 0 --records "${RECORDS:-2000000}" >"$work/out" 2>&1 &
    running=$!
    last=
    for size in 100 1000; do
      # The bench starts one server a size: follow each.
      pid=
      for _ in $(seq 400); do
        pid=$(pgrep -n -f "^$bin -q serve --http" || true)
        [ -n "$pid" ] && [ "$pid" != "$last" ] && break
        pid=
        sleep 0.05
      done
      [ -n "$pid" ] || break
      last=$pid
      perf stat -x, -e task-clock -p "$pid" -o "$work/cpu.$size" 2>/dev/null &
      stat=$!
      while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
      kill -INT "$stat" 2>/dev/null || true
      wait "$stat" 2>/dev/null || true
    done
    wait "$running"
    ms() { awk -F, '/task-clock/ { printf "%.0f", $1 }' "$work/cpu.$1"; }
    echo "$bin: CPU ms 100 B $(ms 100), 1000 B $(ms 1000); records/s $(grep -o '[0-9]* records/s' "$work/out" | cut -d' ' -f1 | tr '\n' ' ')"
  done
done
