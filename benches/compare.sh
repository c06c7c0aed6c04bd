#!/usr/bin/env bash
# Whole-workload comparison, side by side in one run: osprey analyze against
# GStreamer decode-only of the same file and against the ffmpeg filter chain
# that computes the same figures. Prints wall time, frames/s and ratios.
#
#   benches/compare.sh [FRAMES] [BACKEND] [SUITE]   (defaults: 600 frames, cpu, all)
#
# SUITE `all`: every kernel (stats,scene,motion,black,freeze,blur) against
# `ffmpeg -vf signalstats,scdet,blurdetect,blackdetect,freezedetect`; ffmpeg
# has no motion detector, so osprey does strictly more work there.
# SUITE `basic`: stats,scene against `ffmpeg -vf signalstats,scdet`.
#
# The clip is a generated 1080p25 H.264 file (testsrc2 and mandelbrot with hard
# cuts), made once under target/bench/. Each command runs RUNS times (default 3)
# and the median is reported; the machines are shared and noisy, so read the
# ratios, not the absolute figures.
set -euo pipefail
cd "$(dirname "$0")/.."

frames=${1:-600}
backend=${2:-cpu}
suite=${3:-all}
case "$suite" in
  all)
    kernels=stats,scene,motion,black,freeze,blur
    filters=signalstats,scdet,blurdetect,blackdetect,freezedetect
    ;;
  basic)
    kernels=stats,scene
    filters=signalstats,scdet
    ;;
  *)
    echo "compare.sh: unknown suite '$suite' (all or basic)" >&2
    exit 2
    ;;
esac
runs=${RUNS:-3}
# shellcheck source=benches/inputs.sh
. "$(dirname "$0")/inputs.sh"

./scripts/setup.sh
cargo build --release -q -p osprey
osprey=target/release/osprey
clip=$(make_clip "$frames")
uri="file://$(realpath "$clip")"

# median wall seconds of RUNS runs of a command
time_it() {
  local times=()
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
  done
  printf '%s\n' "${times[@]}" | sort -g | sed -n "$(((runs + 1) / 2))p"
}

decode=$(time_it gst-launch-1.0 -q uridecodebin uri="$uri" ! fakesink sync=false)
osp=$(time_it "$osprey" analyze "$clip" --backend "$backend" --kernels "$kernels" --output /dev/null)
ff=$(time_it ffmpeg -v error -i "$clip" -vf "$filters" -f null -)

fps() { awk -v n="$frames" -v t="$1" 'BEGIN { printf "%.1f", n / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b / a }'; }
echo "clip: $clip, $frames frames 1920x1080, $(nproc) cores, median of $runs runs"
printf '%-44s %8s %9s %s\n' "command" "seconds" "frames/s" "frame rate vs decode-only"
printf '%-44s %8.2f %9s %s\n' "gst-launch uridecodebin ! fakesink (decode)" "$decode" "$(fps "$decode")" "1.000"
printf '%-44s %8.2f %9s %s\n' "osprey analyze --backend $backend ($suite)" "$osp" "$(fps "$osp")" "$(ratio "$osp" "$decode")"
printf '%-44s %8.2f %9s %s\n' "ffmpeg -vf $filters" "$ff" "$(fps "$ff")" "$(ratio "$ff" "$decode")"
echo "osprey vs ffmpeg: $(ratio "$osp" "$ff")x the frame rate"
