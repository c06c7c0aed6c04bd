#!/usr/bin/env bash
# Live cameras: how many 720p25 H.264 RTSP sources one machine analyses in
# real time, against the same streams decoded only.
#
#   benches/live.sh [COUNTS]        (default COUNTS: "1 2 4 6 8")
#
# For each N in COUNTS, a local `osprey-rtsp-server --size 1280x720 --fps
# 25` (live videotestsrc ball pattern, x264 ultrafast; its CPU is reported
# apart) serves the cameras, and each of these runs for SECONDS_PER seconds
# against it, one after the other:
#
#   decode   gst-launch-1.0 with N `rtspsrc location=URL ! decodebin !
#            fpsdisplaysink video-sink=fakesink sync=false` (the ceiling:
#            decode only; fpsdisplaysink counts the frames twice a second)
#   full     osprey analyze with KERNELS on every frame
#   fps5     the same with --fps 5 (Frigate's recommended detect rate)
#
# A run keeps up when every source's frames arrive at the stream's rate (25,
# or 5 with --fps 5; within 5%, measured by the host clock over the run after
# WARMUP seconds), osprey reported no dropped frame (`frames_dropped`
# status records) and, where records carry `ts`, their p99 latency stays
# under MAX_P99_MS (a process that falls behind without dropping shows it
# there first, with its memory growing). The table gives, per run: the slowest source's rate, the
# dropped frames, the process's CPU (% of one core) and peak RSS, each also
# per camera, and (osprey, when its frame records carry `ts`) the
# capture-to-record latency p50/p99: the time a record's line was read here
# minus the frame's capture time. The largest N that keeps up is the answer;
# latency is asked for at N = 4.
#
# Environment:
#   MAX_P99_MS=1000    latency past which a run does not keep up
#   SECONDS_PER=20     seconds each run lasts (WARMUP=4 of them not counted)
#   KERNELS=motion,black,blur,freeze,scene
#   RATES="full 5"     osprey runs: full = every frame, a number = --fps N
#   MODE=one           one: one osprey process with N sources (osprey analyze
#                      cam0=URL cam1=URL ...); procs: N osprey processes with
#                      one source each (for builds without several sources)
#   STREAMS=shared     shared: the server encodes one stream (/cam0, a shared
#                      media) and all N cameras are clients of it, so the
#                      server's encoder costs the same at every N (about a
#                      fifth of a core here); apart: --streams N, N encoders
#                      (on 2 cores they soon take the CPU the clients need)
#   TRANSPORT=tcp      RTSP lower transport for both (tcp or udp)
#   OSPREY=target/release/osprey  SERVER=target/release/osprey-rtsp-server
#   BUILD=1            build both first (0: use the binaries as they are)
#   KEEP=DIR           keep every run's output and timings there
set -euo pipefail
cd "$(dirname "$0")/.."

counts=${1:-1 2 4 6 8}
seconds=${SECONDS_PER:-20}
warmup=${WARMUP:-4}
kernels=${KERNELS:-motion,black,blur,freeze,scene}
rates=${RATES:-full 5}
mode=${MODE:-one}
transport=${TRANSPORT:-tcp}
streams=${STREAMS:-shared}
osprey=${OSPREY:-target/release/osprey}
server=${SERVER:-target/release/osprey-rtsp-server}
reader="python3 benches/live_reader.py"

if [ "${BUILD:-1}" = 1 ]; then
  cargo build --release -q -p osprey -p osprey-rtsp-server
fi
work=$(mktemp -d)
trap 'kill "${server_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# CPU seconds (user + sys) a process has used so far
cpu_of() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}

# starts the server for N cameras; sets server_pid and urls (one a camera)
start_server() {
  local n=$1 port served=$1 i
  [ "$streams" = shared ] && served=1
  port=$(free_port)
  "$server" --port "$port" --streams "$served" --size 1280x720 --fps 25 >"$work/urls" 2>"$work/server.err" &
  server_pid=$!
  for _ in $(seq 100); do
    [ "$(wc -l <"$work/urls")" -ge "$served" ] && break
    sleep 0.1
  done
  mapfile -t urls <"$work/urls"
  if [ "${#urls[@]}" -lt "$served" ]; then
    echo "live.sh: the server did not start: $(cat "$work/server.err")" >&2
    exit 1
  fi
  if [ "$streams" = shared ]; then
    for i in $(seq 1 $((n - 1))); do urls[i]=${urls[0]}; done
  fi
}

stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

# decode only: N rtspsrc ! decodebin ! fakesink in one gst-launch-1.0
run_decode() {
  local n=$1 tag=$2 pipeline=() i=0
  for url in "${urls[@]}"; do
    pipeline+=(rtspsrc location="$url" protocols="$transport" ! decodebin ! fpsdisplaysink name="s$i" video-sink=fakesink text-overlay=false sync=false)
    i=$((i + 1))
  done
  timeout -s INT "$seconds" /usr/bin/time -o "$work/$tag.time" -f "%e %U %S %M" \
    stdbuf -oL gst-launch-1.0 -v -e "${pipeline[@]}" 2>"$work/$tag.err" |
    $reader gst "$warmup" >"$work/$tag.json" || true
}

# osprey: MODE=one, one process with every source; MODE=procs, one each
run_osprey() {
  local n=$1 tag=$2 rate=$3 extra=() i
  [ "$rate" != full ] && extra=(--fps "$rate")
  if [ "$mode" = one ]; then
    local sources=()
    for i in $(seq 0 $((n - 1))); do sources+=("cam$i=${urls[$i]}"); done
    timeout -s INT "$seconds" /usr/bin/time -o "$work/$tag.time" -f "%e %U %S %M" \
      "$osprey" analyze "${sources[@]}" --backend cpu --kernels "$kernels" \
      --rtsp-transport "$transport" "${extra[@]}" --output - 2>"$work/$tag.err" |
      $reader osprey "$warmup" >"$work/$tag.json" || true
  else
    # One process a source, their records merged into one pipe.
    for i in $(seq 0 $((n - 1))); do
      timeout -s INT "$seconds" /usr/bin/time -o "$work/$tag.time.$i" -f "%e %U %S %M" \
        "$osprey" analyze "${urls[$i]}" --source "cam$i" --backend cpu \
        --kernels "$kernels" "${extra[@]}" --output - 2>"$work/$tag.err.$i" &
    done | $reader osprey "$warmup" >"$work/$tag.json" || true
    # Sum the processes: wall (the longest), user, sys, RSS.
    cat "$work/$tag.time".* | awk '$1 ~ /^[0-9.]+$/ && NF == 4 { if ($1 > w) w = $1; u += $2; s += $3; m += $4 } END { print w, u, s, m }' >"$work/$tag.time"
  fi
}

# one table row from a run's reader output and timings
report() {
  local n=$1 tag=$2 label=$3 want=$4 server_cpu=$5
  python3 - "$work/$tag.json" "$work/$tag.time" "$n" "$label" "$want" "$server_cpu" "${MAX_P99_MS:-1000}" <<'PY'
import json, sys
res, (wall, user, sys_, rss), n, label, want, server_cpu, max_p99 = (
    json.load(open(sys.argv[1])), open(sys.argv[2]).read().strip().splitlines()[-1].split()[:4],
    int(sys.argv[3]), sys.argv[4], float(sys.argv[5]), sys.argv[6], float(sys.argv[7]))
rates = [s["rate"] for s in res["sources"].values()]
slowest = min(rates) if len(rates) == n else 0.0
dropped = res["dropped"]
lat = res["latency_ms"]
ok = (len(rates) == n and slowest >= 0.95 * want and dropped == 0
      and (lat is None or lat["p99"] <= max_p99))
cpu = (float(user) + float(sys_)) / float(wall) * 100
rss = int(rss) / 1024
lat = f'{lat["p50"]:.0f}/{lat["p99"]:.0f}' if lat else "n/a"
print(f"{n:>3} {label:<8} {slowest:>7.2f} {dropped:>7} {cpu:>6.0f}% {cpu / n:>6.1f}% "
      f"{rss:>7.0f} {rss / n:>7.0f} {float(server_cpu):>6.0f}% {lat:>11} {'yes' if ok else 'NO':>4}")
PY
}

echo "$(nproc) cores, $seconds s a run ($warmup s warm-up), kernels $kernels, mode $mode, streams $streams, transport $transport"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%3s %-8s %7s %7s %7s %7s %7s %7s %7s %11s %4s\n' N run "min fps" dropped CPU "CPU/cam" "RSS MiB" "RSS/cam" server "p50/p99 ms" "keeps up"
for n in $counts; do
  start_server "$n"
  sleep 1
  runs=(decode)
  for r in $rates; do runs+=("$r"); done
  for r in "${runs[@]}"; do
    tag="n$n-$r"
    before=$(cpu_of "$server_pid")
    t0=$(date +%s.%N)
    if [ "$r" = decode ]; then
      run_decode "$n" "$tag"
      want=25 label=decode
    else
      run_osprey "$n" "$tag" "$r"
      if [ "$r" = full ]; then want=25 label=full; else want=$r label="fps$r"; fi
    fi
    t1=$(date +%s.%N)
    server_cpu=$(awk -v a="$before" -v b="$(cpu_of "$server_pid")" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", (b - a) / (t1 - t0) * 100 }')
    report "$n" "$tag" "$label" "$want" "$server_cpu"
  done
  stop_server
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${KEEP:-}" ]; then
  mkdir -p "$KEEP"
  cp -r "$work"/. "$KEEP"/
fi
