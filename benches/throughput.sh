#!/usr/bin/env bash
# File throughput on the CPU, turn about: GStreamer decode-only of a clip and
# `osprey analyze --backend cpu` with the stats+scene kernels and with all of
# them, each run once a round, RUNS rounds, so that every ratio is taken
# between runs seconds apart on a shared, noisy machine.
#
#   benches/throughput.sh [FRAMES] [CLIP_KIND]   (defaults: 600 frames, camera)
#
# CLIP_KIND `camera`: benches/inputs.sh make_camera_clip (a still detailed
# scene, a walking object, sensor noise, CRF 23); `pattern`: make_clip
# (testsrc2 then mandelbrot).
#
# Environment:
#   RUNS=5                     rounds
#   BINS="new=target/release/osprey"
#                              osprey builds to compare, LABEL=PATH each
#                              (e.g. BINS="old=/tmp/osprey-old new=target/release/osprey")
#   SUITES="ss all"            kernel sets: ss = stats,scene; all = every kernel
#   DECODE_THREADS="0"         avdec_h264 max-threads values for the decode-only
#                              runs (0 = GStreamer's automatic choice)
#   NICE=-20                   run every measured command at this nice value
#                              (root only below 0): on a shared machine the
#                              measured process then wins the cores from
#                              builds running beside it, and the figures
#                              approach those of a quiet machine
#   KEEP=FILE                  keep the raw measurements (one run a line)
#
# For each command: median wall seconds (min to max), frames/s, median CPU
# seconds (user + sys) and cores used, median peak RSS, and the median over
# rounds of the frame rate against decode-only of the same round. For osprey
# runs, `wall/ideal` is the wall time over (CPU seconds / cores): 1.00 means
# every core was busy for the whole run (the issue's target is <= 1.10).
set -euo pipefail
cd "$(dirname "$0")/.."

frames=${1:-600}
kind=${2:-camera}
runs=${RUNS:-5}
bins=${BINS:-new=target/release/osprey}
suites=${SUITES:-ss all}
decode_threads=${DECODE_THREADS:-0}
cores=$(nproc)
# shellcheck source=benches/inputs.sh
. "$(dirname "$0")/inputs.sh"

case "$kind" in
  camera) clip=$(make_camera_clip "$frames") ;;
  pattern) clip=$(make_clip "$frames") ;;
  *)
    echo "throughput.sh: unknown clip kind '$kind' (camera or pattern)" >&2
    exit 2
    ;;
esac

raw=$(mktemp)
trap 'rm -f "$raw" "$raw.t"' EXIT

# one run: LABEL COMMAND...; appends "round label wall cpu rss_kib" to $raw
measure() {
  local label=$1 round=$2
  shift 2
  /usr/bin/time -o "$raw.t" -f "%e %U %S %M" nice -n "${NICE:-0}" "$@" >/dev/null 2>&1
  read -r wall user sys rss <"$raw.t"
  echo "$round $label $wall $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }') $rss" >>"$raw"
}

kernels_of() {
  case "$1" in
    ss) echo stats,scene ;;
    all) echo stats,scene,motion,black,freeze,blur ;;
    *) echo "$1" ;;
  esac
}

echo "clip: $clip ($frames frames), $cores cores, $runs rounds, load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq "$runs"); do
  for t in $decode_threads; do
    measure "decode(threads=$t)" "$round" gst-launch-1.0 -q filesrc location="$clip" ! qtdemux ! h264parse ! avdec_h264 max-threads="$t" ! fakesink sync=false
  done
  for b in $bins; do
    for s in $suites; do
      measure "${b%%=*}:$s" "$round" "${b#*=}" analyze "$clip" --backend cpu --kernels "$(kernels_of "$s")" --output /dev/null
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
[ -n "${KEEP:-}" ] && cp "$raw" "$KEEP"

base="decode(threads=${decode_threads%% *})"
awk -v frames="$frames" -v cores="$cores" -v base="$base" '
function median(list,   n, a, i, j, t) {
  n = split(list, a, " ")
  for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function minmax(list,   n, a, i, lo, hi) {
  n = split(list, a, " "); lo = hi = a[1]
  for (i = 2; i <= n; i++) { if (a[i] + 0 < lo + 0) lo = a[i]; if (a[i] + 0 > hi + 0) hi = a[i] }
  return sprintf("%.2f to %.2f", lo, hi)
}
{
  if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 }
  wall[$2] = wall[$2] " " $3; cpu[$2] = cpu[$2] " " $4; rss[$2] = rss[$2] " " $5
  w[$1, $2] = $3; rounds[$1] = 1
}
END {
  printf "%-22s %18s %9s %8s %6s %8s %10s %11s\n", "command", "wall s (min to max)", "frames/s", "CPU s", "cores", "RSS MiB", "wall/ideal", "vs decode"
  for (i = 1; i <= n; i++) {
    l = order[i]; mw = median(wall[l]); mc = median(cpu[l])
    ratios = ""
    for (r in rounds) if ((r, base) in w && (r, l) in w) ratios = ratios " " w[r, base] / w[r, l]
    printf "%-22s %5.2f (%s) %9.1f %8.2f %6.2f %8.0f %10.2f %11.3f\n", l, mw, minmax(wall[l]), frames / mw, mc, mc / mw, median(rss[l]) / 1024, mw / (mc / cores), median(ratios)
  }
}' "$raw"
