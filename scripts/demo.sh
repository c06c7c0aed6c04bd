#!/usr/bin/env bash
# The osprey demo, offline: installs what osprey needs (scripts/setup.sh),
# builds the release binary, writes a test clip with hard cuts to
# target/demo/demo.mp4 if there is none, and analyses it. The NDJSON records
# go to target/demo/demo.ndjson; the first frame records and every scene-cut
# event are printed, then osprey's summary line (on stderr).
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
grep '"kind":"frame"' "$records" | head -n 3
echo "demo: scene cuts" >&2
grep '"kind":"event"' "$records" || echo "(none)"
echo "demo: $(wc -l < "$records") records in $records" >&2
