# Inputs the benchmark scripts share, made once and kept under target/:
# source this file, then call the functions. Each prints the path it made.
#
#   make_clip FRAMES    a 1080p25 H.264 clip: testsrc2 then mandelbrot (a hard
#                       cut half way), FRAMES frames, yuv420p, GOP 50
#   make_camera_clip FRAMES     the camera-like scene, 1080p25 MP4
#   make_camera_stream WxH FPS SECONDS
#                       the camera-like scene as an H.264 elementary stream
#                       for osprey-rtsp-server --clip
#   make_table ROWS KEYS DIR
#                       a Parquet table written by DuckDB: ROWS rows over one
#                       hour (ts, timestamp with time zone), a string sensor
#                       key of KEYS distinct values assigned at random, two f64

make_clip() {
  local frames=$1 dir=target/bench
  local clip=$dir/clip-1080p-$frames.mp4
  mkdir -p "$dir"
  if [ ! -f "$clip" ]; then
    local half=$((frames / 2))
    echo "making $clip ($frames frames)" >&2
    ffmpeg -v error -y \
      -f lavfi -i "testsrc2=size=1920x1080:rate=25" \
      -f lavfi -i "mandelbrot=size=1920x1080:rate=25" \
      -filter_complex "[0]trim=end_frame=$half,setpts=PTS-STARTPTS[a];[1]trim=end_frame=$((frames - half)),setpts=PTS-STARTPTS[b];[a][b]concat=n=2:v=1,format=yuv420p" \
      -c:v libx264 -preset fast -g 50 -pix_fmt yuv420p "$clip"
  fi
  echo "$clip"
}

make_table() {
  local rows=$1 keys=$2 dir=$3
  mkdir -p "$dir"
  python3 - "$dir" "$rows" "$keys" <<'PY'
import os, sys, duckdb
d, rows, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
path = f"{d}/rows{rows}_keys{k}.parquet"
if not os.path.exists(path):
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    con.execute(f"""COPY (
        SELECT TIMESTAMPTZ '2025-12-01 17:00:00+00' + to_microseconds((i * 3600000000 // {rows})::BIGINT) AS ts,
               's' || lpad(CAST(floor(random() * {k})::BIGINT AS VARCHAR), 7, '0') AS sensor,
               20 + 5 * random() AS temp,
               random() * 100 AS humidity
        FROM range({rows}) t(i)
    ) TO '{path}' (FORMAT PARQUET, COMPRESSION SNAPPY, ROW_GROUP_SIZE 1000000)""")
    print(f"wrote {path}", file=sys.stderr)
print(path)
PY
}

# camera_scene W H FPS: the ffmpeg inputs and filter graph of a scene that
# looks more like a fixed camera than a test pattern does: a still, detailed
# scene (a fractal frame) with a person-sized object walking across it, under
# temporal sensor-like noise (every pixel changes a little every frame, as on a
# real sensor). Sets the array scene_args.
camera_scene() {
  local w=$1 h=$2 fps=$3
  local bw=$((w / 16)) bh=$((h * 5 / 18))
  scene_args=(
    -f lavfi -i "mandelbrot=size=${w}x${h}:rate=$fps:start_scale=0.5"
    -f lavfi -i "color=c=0x704030:size=${bw}x${bh}:rate=$fps"
    -filter_complex "[0]trim=end_frame=1,loop=loop=-1:size=1,setpts=N/$fps/TB[bg];[bg][1]overlay=x='mod(t*$((w / 12)),$((w - bw)))':y=$((h * 5 / 9)):shortest=0,noise=alls=4:allf=t,format=yuv420p"
  )
}

# make_camera_clip FRAMES: the camera scene at 1080p25, H.264 at about a
# camera's bit rate and GOP (CRF 23, GOP 50), in MP4.
make_camera_clip() {
  local frames=$1 dir=target/bench
  local clip=$dir/camera-1080p-$frames.mp4
  mkdir -p "$dir"
  if [ ! -f "$clip" ]; then
    echo "making $clip ($frames frames)" >&2
    camera_scene 1920 1080 25
    ffmpeg -v error -y "${scene_args[@]}" \
      -frames:v "$frames" -c:v libx264 -preset fast -crf 23 -g 50 -pix_fmt yuv420p "$clip"
  fi
  echo "$clip"
}

# make_camera_stream WxH FPS SECONDS: the camera scene as a camera sends it,
# for `osprey-rtsp-server --clip` to loop: an H.264 elementary stream (Annex
# B), no B-frames, a key frame a second, 4 Mbit/s at most.
make_camera_stream() {
  local size=$1 fps=$2 seconds=$3 dir=target/bench
  local clip=$dir/camera-$size-$fps-${seconds}s.h264
  mkdir -p "$dir"
  if [ ! -f "$clip" ]; then
    echo "making $clip" >&2
    camera_scene "${size%x*}" "${size#*x}" "$fps"
    ffmpeg -v error -y "${scene_args[@]}" \
      -frames:v "$((fps * seconds))" -c:v libx264 -preset fast -bf 0 -g "$fps" \
      -b:v 4M -maxrate 4M -bufsize 2M -pix_fmt yuv420p -f h264 "$clip.tmp"
    mv "$clip.tmp" "$clip"
  fi
  echo "$clip"
}
