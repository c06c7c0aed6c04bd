#!/usr/bin/env bash
# Video streams (issue 16; a benchmark, not a test): the figures
# BENCHMARKS.md's "Video streams" section takes, one line each.
#
#   benches/video.sh              # everything, about 9 minutes
#   QUICK=1 benches/video.sh      # a smoke run, about 2 minutes
#   PARTS="hls putmedia" benches/video.sh   # some of: hls putmedia analyze record
#
# hls:      HLS live latency. `osprey serve --http` on a data directory; a
#           live producer (GStreamer: videotestsrc is-live, x264 zerolatency,
#           a key frame every 1 s / 2 s, matroskamux streamable) posting
#           PutMedia through curl, 320x240 at 25 fps; benches/hls_latency.py
#           polls the LIVE playlist every 50 ms and takes, per new segment,
#           when it appeared minus its EXT-X-PROGRAM-DATE-TIME and minus its end.
# putmedia: PutMedia fragments a second: streamable Matroska files with a key
#           frame (a cluster, a fragment) every 0.32 s (320x240) and 0.48 s
#           (1920x1080, snow at 6 Mbit/s), posted chunked as fast as the server takes them on 1,
#           2 and 4 connections (benches/putmedia.py counts PERSISTED acks).
# analyze:  `osprey analyze rtsp://...` with and without `--record`, turn
#           about, the analyser's CPU time over the same window of each run.
# record:   recording alone (benches/record.sh) at 1920x1080 on a busy
#           pattern (snow) at a camera's bitrate, 6 Mbit/s.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/video_lib.sh
QUICK=${QUICK:-0}
PARTS=${PARTS:-hls putmedia analyze record}
PORT=${PORT:-28700}
if [ "$QUICK" = 1 ]; then
    HLS_S=8 CLIP_S=20 BIG_S=4 TURNS=1 RUN_S=8 REC_S=8
else
    HLS_S=50 CLIP_S=300 BIG_S=40 TURNS=3 RUN_S=20 REC_S=30
fi
vb_build
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
echo "# $(date -u +%FT%TZ) load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"

# An encoded clip: SIZE, SECONDS at 25 fps, a key frame every KEYINT frames,
# PATTERN at BITRATE kbit/s.
clip() {
    local size=$1 secs=$2 keyint=$3 pattern=$4 bitrate=$5 out=$6
    gst-launch-1.0 -q videotestsrc num-buffers=$((25 * secs)) pattern="$pattern" \
        ! "video/x-raw,width=${size%x*},height=${size#*x},framerate=25/1" \
        ! x264enc speed-preset=ultrafast tune=zerolatency key-int-max="$keyint" bitrate="$bitrate" \
        ! h264parse ! video/x-h264,stream-format=avc,alignment=au \
        ! matroskamux streamable=true min-cluster-duration=0 ! filesink location="$out"
}

hls() {
    local frag=$1 dir=$work/hls$1 port=$((PORT + $1)) producer
    vb_serve "$dir" "$port"
    pids+=("$vb_serve_pid")
    vb_create "$port" live
    (vb_live_mkv 320x240 25 $((25 * frag)) | curl -s -N -X POST -T - -H "Expect:" \
        -H "x-amzn-stream-name: live" "http://127.0.0.1:$port/putMedia" >"$dir.acks") &
    producer=$!
    sleep $((2 * frag + 2))
    python3 benches/hls_latency.py "http://127.0.0.1:$port" live "$HLS_S" "${frag}s-fragments"
    # The producer's pipeline ends when curl's stdin closes with the server.
    stop "$vb_serve_pid"
    wait "$producer" 2>/dev/null || true
}

putmedia() {
    local dir=$work/pm port=$((PORT + 10)) n file
    clip 320x240 "$CLIP_S" 8 ball 2048 "$work/small.mkv"
    clip 1920x1080 "$BIG_S" 12 snow 6000 "$work/big.mkv"
    vb_serve "$dir" "$port"
    pids+=("$vb_serve_pid")
    for t in $(seq "$TURNS"); do
        for file in small big; do
            for n in 1 2 4; do
                for i in $(seq 0 $((n - 1))); do vb_create "$port" "$file$t-$n-$i"; done
                python3 benches/putmedia.py "http://127.0.0.1:$port" "$work/$file.mkv" "$n" \
                    "$file$t-$n-" "$file.mkv($(du -k "$work/$file.mkv" | cut -f1) KiB)"
            done
        done
    done
    stop "$vb_serve_pid"
}

# One analyze run: prints its CPU seconds over RUN_S after a 5 s warm-up.
analyze_once() {
    local url=$1
    shift
    "$vb_bin/osprey" analyze "$url" --data-dir "$work/an" -o /dev/null -q "$@" 2>>"$work/an.err" &
    local pid=$!
    vb_cpu "$pid" 5 "$RUN_S"
    stop "$pid"
}

analyze() {
    local port=$((PORT + 20)) i plain rec
    vb_rtsp "$port" 1280x720 25 --pattern snow --bitrate 4000
    pids+=("$vb_rtsp_pid")
    for i in $(seq "$TURNS"); do
        plain=$(analyze_once "rtsp://127.0.0.1:$port/cam0")
        rec=$(analyze_once "rtsp://127.0.0.1:$port/cam0" --record "rec$i")
        awk -v p="$plain" -v r="$rec" -v s="$RUN_S" -v i="$i" 'BEGIN {
            printf "analyze 1280x720@25 snow 4 Mbit/s, turn %d: without --record %.2f s CPU in %d s (%.1f%% of a core), with %.2f s (%.1f%%), ratio %.3f\n",
                i, p, s, 100 * p / s, r, 100 * r / s, r / p }'
    done
    stop "$vb_rtsp_pid"
}

record() {
    for _ in $(seq "$TURNS"); do
        PATTERN=snow BITRATE=6000 SECONDS_=$REC_S PORT=$((PORT + 30)) benches/record.sh
    done
}

for part in $PARTS; do
    case $part in
        hls) hls 1; hls 2 ;;
        putmedia | analyze | record) "$part" ;;
        *) echo "unknown part $part" >&2; exit 2 ;;
    esac
done
echo "# $(date -u +%FT%TZ) load average $(cut -d' ' -f1-3 /proc/loadavg)"
