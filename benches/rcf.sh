#!/usr/bin/env bash
# Anomaly scores (issue 18, RANDOM_CUT_FOREST): records/s of `osprey aggregate
# --anomaly` over one group and over 1,000 groups, at KDA's defaults (100
# trees of 256 points, decay 100000, shingle 1), on 1 thread and on every core.
# Wall time, CPU time (user + system) and peak RSS (/usr/bin/time -v).
#
# Data (NDJSON, made once by Python): ROWS records of a noisy sine, one group
# ("s0"), and the same number over KEYS groups (ROWS / KEYS each: with the
# defaults 200 a group, so most of their samples are still filling).
#
#   benches/rcf.sh                     # about 2 minutes on 2 cores
#   ROWS=20000 KEYS=100 benches/rcf.sh
#   OSPREY=/path/to/osprey benches/rcf.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-200000}
KEYS=${KEYS:-1000}
DIR=${DIR:-target/bench-rcf}
OSPREY=${OSPREY:-target/release/osprey}
if [ "$OSPREY" = target/release/osprey ]; then cargo build --release -p osprey >&2; fi
mkdir -p "$DIR"

make_data() { # file, groups
  [ -s "$1" ] && return 0
  python3 - "$1" "$2" "$ROWS" <<'PY'
import json, math, random, sys
path, groups, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(1)
with open(path, "w") as f:
    for i in range(rows):
        g = i % groups
        v = math.sin(i / groups * 0.2 + g) + random.gauss(0, 0.1)
        f.write(json.dumps({"ts": 1764608400 + i // groups, "sensor": f"s{g}", "v": round(v, 5)}) + "\n")
PY
}

run() { # label, threads, file
  local t0 t1 log
  log=$(mktemp)
  t0=$(date +%s.%N)
  /usr/bin/time -v "$OSPREY" aggregate "$3" --anomaly v --group-by sensor --threads "$2" \
    --output /dev/null 2>"$log"
  t1=$(date +%s.%N)
  python3 - "$1" "$2" "$t0" "$t1" "$ROWS" "$log" <<'PY'
import re, sys
label, threads, t0, t1, rows, log = sys.argv[1:]
text = open(log).read()
wall = float(t1) - float(t0)
cpu = sum(float(re.search(p + r": ([\d.]+)", text).group(1))
          for p in ("User time \(seconds\)", "System time \(seconds\)"))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
print(f"| {label} | {threads} | {int(rows) / wall:,.0f} | {wall:.2f} s | {cpu:.2f} s | {rss:,.0f} MiB |")
PY
  rm -f "$log"
}

one="$DIR/one-$ROWS.ndjson"
many="$DIR/groups-$KEYS-$ROWS.ndjson"
make_data "$one" 1
make_data "$many" "$KEYS"
echo "| groups | threads | records/s | wall | CPU | peak RSS |"
echo "|---|---:|---:|---:|---:|---:|"
for threads in 1 "$(nproc)"; do
  run "1" "$threads" "$one"
  run "$KEYS" "$threads" "$many"
done
