# Shared pieces of the video benchmarks (issue 16), sourced by
# benches/record.sh and benches/video.sh; not run on its own.
#
#   vb_build                  the release binaries the benches run
#   vb_rtsp PORT SIZE FPS [ARGS]  starts osprey-rtsp-server (pid in $vb_rtsp_pid)
#   vb_ticks PID              user+system CPU ticks of PID from /proc
#   vb_cpu PID WARM SECONDS   CPU seconds PID spends in SECONDS after WARM s
#   vb_serve DIR PORT         starts osprey serve --http (pid in $vb_serve_pid)
#   vb_create PORT NAME       creates video stream NAME through the KVS API
#   vb_live_mkv SIZE FPS KEYINT [BITRATE]  a live x264 stream as streamable
#                             Matroska on stdout, as a PutMedia producer sends

vb_bin=target/release

vb_build() {
    cargo build --release -q -p osprey
    cargo build --release -q -p osprey-rtsp-server
}

vb_rtsp() {
    local port=$1 size=$2 fps=$3
    shift 3
    "$vb_bin/osprey-rtsp-server" --port "$port" --size "$size" --fps "$fps" "$@" >/dev/null 2>&1 &
    vb_rtsp_pid=$!
    sleep 2
}

vb_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

vb_cpu() {
    local pid=$1 warm=$2 secs=$3 t0 t1
    sleep "$warm"
    t0=$(vb_ticks "$pid")
    sleep "$secs"
    t1=$(vb_ticks "$pid")
    awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f\n", d / hz }'
}

vb_serve() {
    local dir=$1 port=$2 i
    "$vb_bin/osprey" serve --http "127.0.0.1:$port" --data-dir "$dir" -q >>"$dir.serve.log" 2>&1 &
    vb_serve_pid=$!
    for i in $(seq 50); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
        sleep 0.1
    done
    echo "osprey serve did not answer on port $port" >&2
    return 1
}

vb_create() {
    curl -sf -X POST "http://127.0.0.1:$1/createStream" \
        -d "{\"StreamName\":\"$2\",\"DataRetentionInHours\":1}" >/dev/null
}

vb_live_mkv() {
    local size=$1 fps=$2 keyint=$3 bitrate=${4:-2048}
    gst-launch-1.0 -q videotestsrc is-live=true pattern=ball \
        ! "video/x-raw,width=${size%x*},height=${size#*x},framerate=$fps/1" \
        ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max="$keyint" bitrate="$bitrate" \
        ! h264parse ! video/x-h264,stream-format=avc,alignment=au \
        ! matroskamux streamable=true min-cluster-duration=0 ! fdsink fd=1
}
