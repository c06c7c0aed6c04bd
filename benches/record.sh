#!/usr/bin/env bash
# Recording cost (issue 16; a benchmark, not a test): the CPU time
# `osprey video put` spends recording one live H.264 stream from the RTSP
# test server, without analysis, as a share of one core.
#
#   benches/record.sh                        # 1920x1080 at 25 fps for 30 s
#   SIZE=1280x720 SECONDS_=20 benches/record.sh
#   PATTERN=snow BITRATE=6000 benches/record.sh   # a real camera's bitrate
#
# The test server (osprey-rtsp-server, x264 ultrafast, a key frame a
# second) runs in its own process, so its encoding is not counted; the
# put's user+system CPU time is read from /proc/PID/stat after a 5 s
# warm-up and again SECONDS_ later. It prints one line BENCHMARKS.md takes,
# with the bitrate the fragments came to.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/video_lib.sh
SIZE=${SIZE:-1920x1080}
FPS=${FPS:-25}
SECONDS_=${SECONDS_:-30}
PORT=${PORT:-28554}
PATTERN=${PATTERN:-ball}
vb_build
work=$(mktemp -d)
trap 'kill $vb_rtsp_pid $put 2>/dev/null || true; rm -rf "$work"' EXIT
vb_rtsp "$PORT" "$SIZE" "$FPS" --pattern "$PATTERN" ${BITRATE:+--bitrate "$BITRATE"}
"$vb_bin/osprey" video put bench "rtsp://127.0.0.1:$PORT/cam0" --data-dir "$work" \
    >"$work/acks" 2>"$work/err" &
put=$!
cpu=$(vb_cpu "$put" 5 "$SECONDS_")
kill -TERM "$put"
wait "$put" || true
# The fragments' media: bytes over seconds, the first (partial GOP) left out.
read -r fragments kbit < <(python3 -c '
import json, sys
acks = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][1:]
size = sum(a["size"] for a in acks); dur = sum(a["duration_ns"] for a in acks) / 1e9
print(len(acks) + 1, round(8 * size / dur / 1000) if dur else 0)' "$work/acks")
awk -v c="$cpu" -v s="$SECONDS_" -v size="$SIZE" -v fps="$FPS" -v f="$fragments" -v k="$kbit" -v p="$PATTERN" \
    'BEGIN { printf "record %s@%s %s: %.2f%% of a core (%.2f s CPU in %d s), %d fragments, %d kbit/s\n", size, fps, p, 100 * c / s, c, s, f, k }'
tail -1 "$work/err"
