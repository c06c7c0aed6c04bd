# Inputs the benchmark scripts share, made once and kept under target/:
# source this file, then call the functions. Each prints the path it made.
#
#   make_clip FRAMES    a 1080p25 H.264 clip: testsrc2 then mandelbrot (a hard
#                       cut half way), FRAMES frames, yuv420p, GOP 50
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

# make_camera_clip FRAMES: a 1080p25 clip that looks more like a fixed camera
# than a test pattern does: a still, detailed scene (a fractal frame) with a
# person-sized object walking across it, under temporal sensor-like noise (every
# pixel changes a little every frame, as on a real sensor), H.264 at about a
# camera's bit rate and GOP (CRF 23, GOP 50).
make_camera_clip() {
  local frames=$1 dir=target/bench
  local clip=$dir/camera-1080p-$frames.mp4
  mkdir -p "$dir"
  if [ ! -f "$clip" ]; then
    echo "making $clip ($frames frames)" >&2
    ffmpeg -v error -y \
      -f lavfi -i "mandelbrot=size=1920x1080:rate=25:start_scale=0.5" \
      -f lavfi -i "color=c=0x704030:size=120x300:rate=25" \
      -filter_complex "[0]trim=end_frame=1,loop=loop=-1:size=1,setpts=N/25/TB[bg];[bg][1]overlay=x='mod(t*160,1800)':y=600:shortest=0,noise=alls=4:allf=t,format=yuv420p" \
      -frames:v "$frames" -c:v libx264 -preset fast -crf 23 -g 50 -pix_fmt yuv420p "$clip"
  fi
  echo "$clip"
}
