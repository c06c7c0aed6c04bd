#!/usr/bin/env bash
# The osprey demo, offline: installs what osprey needs (scripts/setup.sh),
# builds the release binary, writes a test clip with hard cuts to
# target/demo/demo.mp4 if there is none, and analyses it. The NDJSON records
# go to target/demo/demo.ndjson; the first frame records and every scene-cut
# event are printed, then osprey's summary line (on stderr); then the same
# records go into a stream of the embedded store and are aggregated per
# second of the clip (frames, largest scene score, mean luma). Last, a live
# test source is analysed for 4 s and stopped with SIGTERM.
#
#   OSPREY_BACKEND=cpu ./scripts/demo.sh    # auto (default), gpu or cpu
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
cargo build --release -p osprey

bin=target/release/osprey
clip=target/demo/demo.mp4
records=target/demo/demo.ndjson
mkdir -p target/demo

if [ ! -s "$clip" ]; then
  echo "demo: writing a 6 s test clip with a hard cut every 2 s to $clip" >&2
  "$bin" generate "$clip" --width 640 --height 360 --fps 25 --frames 150 --cut-every 50
fi

echo "demo: GPU adapters" >&2
"$bin" devices

echo "demo: osprey analyze $clip --backend ${OSPREY_BACKEND:-auto} --output $records" >&2
"$bin" analyze "$clip" --backend "${OSPREY_BACKEND:-auto}" --output "$records"

echo "demo: the first frame records" >&2
grep -m 3 '"kind":"frame"' "$records"
echo "demo: scene cuts" >&2
grep '"kind":"event"' "$records" || echo "(none)"
echo "demo: $(wc -l < "$records") records in $records" >&2

# The frame records are telemetry like any other: put them into a stream of
# the embedded store and aggregate them per second of the clip.
data=target/demo/osprey-data
rm -rf "$data"
"$bin" stream create frames --data-dir "$data" > /dev/null
echo "demo: osprey analyze $clip --output stream:frames, then osprey aggregate stream:frames" >&2
"$bin" analyze "$clip" --backend "${OSPREY_BACKEND:-auto}" --output stream:frames --data-dir "$data"
"$bin" aggregate stream:frames --data-dir "$data" --backend "${OSPREY_BACKEND:-auto}" \
  --schema "pts:timestamp,source:string,kind:string,scene.score:f64,stats.y_avg:f64" \
  --time-format epoch_s \
  --sql "SELECT source, COUNT(*) AS frames, MAX(scene.score) AS max_scene, AVG(stats.y_avg) AS mean_luma
         FROM input WHERE kind = 'frame' GROUP BY source, TUMBLE(pts, INTERVAL '1' SECOND)"

# A live source: a videotestsrc "camera" (test:ball) analysed for 4 s, then
# stopped with SIGTERM as a supervisor would: its records carry the wall-clock
# `ts`, a `source_up` status record says what was negotiated, and the run
# closes its open events and exits 0 (timeout itself answers 124).
live=target/demo/live.ndjson
echo "demo: osprey analyze 'cam=test:ball?width=320&height=240&fps=10' for 4 s, then SIGTERM" >&2
status=0
timeout -s TERM 4 "$bin" analyze 'cam=test:ball?width=320&height=240&fps=10' \
  --backend "${OSPREY_BACKEND:-auto}" --kernels stats,motion --output "$live" || status=$?
if [ "$status" -ne 124 ] && [ "$status" -ne 0 ]; then
  echo "demo: the live run failed with exit $status" >&2
  exit 1
fi
grep -m 1 '"kind":"status"' "$live"
grep -m 2 '"kind":"frame"' "$live"
echo "demo: $(grep -c '"kind":"frame"' "$live") frame records from the live source in $live" >&2
