#!/usr/bin/env bash
# Recording cost (issue 16; a benchmark, not a test): the CPU time
# `osprey video put` spends recording one live H.264 stream from the RTSP
# test server, without analysis, as a share of one core.
#
#   benches/record.sh                        # 1920x1080 at 25 fps for 30 s
#   SIZE=1280x720 SECONDS_=20 benches/record.sh
#
# The test server (osprey-rtsp-server, x264 ultrafast, a key frame a
# second) runs in its own process, so its encoding is not counted; the
# put's user+system CPU time is read from /proc/PID/stat after a 5 s
# warm-up and again SECONDS_ later. It prints one line BENCHMARKS.md takes.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-1920x1080}
FPS=${FPS:-25}
SECONDS_=${SECONDS_:-30}
PORT=${PORT:-28554}
cargo build --release -q -p osprey
cargo build --release -q -p osprey-rtsp-server
work=$(mktemp -d)
trap 'kill $server $put 2>/dev/null || true; rm -rf "$work"' EXIT
target/release/osprey-rtsp-server --port "$PORT" --size "$SIZE" --fps "$FPS" >/dev/null 2>&1 &
server=$!
sleep 2
target/release/osprey video put bench "rtsp://127.0.0.1:$PORT/cam0" --data-dir "$work" \
    >"$work/acks" 2>"$work/err" &
put=$!
ticks() { awk '{print $14 + $15}' "/proc/$put/stat"; }
sleep 5
t0=$(ticks)
sleep "$SECONDS_"
t1=$(ticks)
kill -TERM "$put"
wait "$put" || true
hz=$(getconf CLK_TCK)
fragments=$(wc -l <"$work/acks")
awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$SECONDS_" -v size="$SIZE" -v fps="$FPS" -v f="$fragments" \
    'BEGIN { printf "record %s@%s: %.2f%% of a core (%.2f s CPU in %d s), %d fragments\n", size, fps, 100 * d / hz / s, d / hz, s, f }'
tail -1 "$work/err"
