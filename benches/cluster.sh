#!/usr/bin/env bash
# Cluster mode (`osprey serve --cluster`) on one nats-server with JetStream
# on this machine (store in a temp dir):
#
# - query throughput with 1, 2 and 3 workers: RECORDS records of a 6-shard
#   stream, put first with `osprey put --cluster` (its rate is printed too),
#   then W workers started on a query over it (1 s tumbling windows, GROUP BY
#   the partition key, count and sum); the time from their start until every
#   record is in a written window (the rows' counts add up to RECORDS),
#   as records/s aggregated over all workers. The order of W alternates
#   from round to round (1 2 3, then 3 2 1).
# - failover: 3 workers on a stream fed at RATE records/s (wall-clock
#   timestamps, 1 s windows); one worker SIGKILLed after 4 s; for each shard
#   it held, the time from the kill until a row of that shard's keys is
#   written again (its windows move again), the largest of them printed
#   with the lease time and renewal interval it is bounded by.
#
# Lease 2 s, renewal 0.5 s (as the test). Every worker is a separate process
# on the same 2-core machine as the server and the feeder: the trend is the
# figure, not the absolute rate. About 1.5 min a round with the defaults.
#
#   benches/cluster.sh
#   RUNS=3 RECORDS=300000 benches/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-2}
RECORDS=${RECORDS:-200000}
RATE=${RATE:-2000}
OSPREY=${OSPREY:-target/release/osprey}
[ -x "$OSPREY" ] || cargo build -q --release -p osprey
OSPREY=$(realpath "$OSPREY")
server=$(command -v nats-server || echo /usr/sbin/nats-server)
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="nats://127.0.0.1:$port"
"$server" -a 127.0.0.1 -p "$port" -js -sd "$work/js" >/dev/null 2>&1 &
nats_pid=$!
workers=()
cleanup() {
  for p in "${workers[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  kill "$nats_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null && break; sleep 0.1; done

cat > "$work/bench.py" <<'PY'
import datetime, hashlib, json, os, sys, time
def stamp(ms):
    t = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")
def counted(path):
    try:
        with open(path) as f:
            return sum(json.loads(l)["n"] for l in f if l.strip())
    except FileNotFoundError:
        return 0
cmd = sys.argv[1]
if cmd == "gen":  # gen N FILE: N records 1 ms apart over 48 devices, then sentinels
    n, path = int(sys.argv[2]), sys.argv[3]
    base = 1_700_000_000_000
    with open(path, "w") as f:
        for i in range(n):
            f.write('{"ts":"%s","device":"d%d","value":%d}\n' % (stamp(base + i), i % 48, i % 7))
        for d in range(48):
            f.write('{"ts":"%s","device":"d%d","value":0}\n' % (stamp(base + n + 600_000), d))
elif cmd == "wait":  # wait OUT N START: seconds from START until the rows count N
    out, n, start = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    deadline = time.time() + 600
    while counted(out) < n:
        if time.time() > deadline:
            sys.exit("timed out at %d of %d" % (counted(out), n))
        time.sleep(0.05)
    print("%.3f" % (time.time() - start))
elif cmd == "feed":  # feed URL STREAM RATE SECONDS: wall-clock records through put --cluster's stdin
    import subprocess
    url, stream, rate, seconds = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    put = subprocess.Popen([os.environ["OSPREY"], "put", "--cluster", url, stream,
                            "--partition-key-field", "device"], stdin=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
    start, i = time.time(), 0
    while time.time() - start < seconds:
        now = time.time()
        due = int((now - start) * rate)
        lines = "".join('{"ts":"%s","device":"d%d","value":1}\n' % (stamp(int(now * 1000)), j % 48)
                        for j in range(i, due))
        put.stdin.write(lines.encode()); put.stdin.flush()
        i = due
        time.sleep(0.01)
    put.stdin.close(); put.wait()
elif cmd == "gap":  # gap OUT KILLED_AT SHARDS KEYS...: per killed shard, kill -> next row
    out, killed, shards = sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    held = set(sys.argv[5:])
    step = ((1 << 128) - 1) // shards
    def shard_of(key):
        h = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
        return "shardId-%012d" % min(h // step, shards - 1)
    # Arrival times come from the monitor's log: "<wall> <line>".
    first = {}
    with open(out) as f:
        for l in f:
            at, row = l.split(" ", 1)
            s = shard_of(json.loads(row)["device"])
            if s in held and float(at) > killed and s not in first:
                first[s] = float(at)
    gaps = [first.get(s, float("inf")) - killed for s in held]
    print("%.2f" % max(gaps) if gaps else "none")
elif cmd == "tail":  # tail FILE LOG: appends each new line of FILE to LOG with its arrival time
    path, log = sys.argv[2], sys.argv[3]
    pos = 0
    with open(log, "a") as out:
        while True:
            try:
                with open(path) as f:
                    f.seek(pos)
                    chunk = f.read()
                    done = chunk.rfind("\n") + 1
                    pos += len(chunk[:done].encode())
                    for l in chunk[:done].splitlines():
                        out.write("%.3f %s\n" % (time.time(), l))
                    out.flush()
            except FileNotFoundError:
                pass
            time.sleep(0.02)
elif cmd == "holder":  # holder URL GROUP STREAM SHARDS WORKER: the shards WORKER holds
    import asyncio, nats
    url, group, stream, shards, worker = sys.argv[2:7]
    async def run():
        nc = await nats.connect(url)
        kv = await nc.jetstream().key_value("osprey_leases")
        out = []
        for i in range(int(shards)):
            shard = "shardId-%012d" % i
            try:
                e = await kv.get("%s.%s.%s" % (group, stream, shard))
                if json.loads(e.value)["worker"] == worker:
                    out.append(shard)
            except Exception:
                pass
        await nc.close()
        print(" ".join(out))
    asyncio.run(run())
PY
export OSPREY

# write_config DIR STREAM [QUERY_OUT]: a worker's config, with the query
# over STREAM appending to QUERY_OUT when given.
write_config() {
  mkdir -p "$1"
  {
    printf 'data_dir = "data"\nbackend = "cpu"\n[http]\nlisten = "127.0.0.1:0"\n'
    printf '[cluster]\nurl = "%s"\nlease_seconds = 2\nrenew_seconds = 0.5\n' "$url"
    printf '[[streams]]\nname = "%s"\nshards = 6\n' "$2"
    if [ -n "${3:-}" ]; then
      printf '[[queries]]\nname = "q_%s"\ninput = "%s"\noutput = "%s"\n' "$2" "$2" "$3"
      printf 'flags = ["--window", "tumbling:1s", "--group-by", "device", "--agg", "count(*) as n, sum(value) as total"]\n'
    fi
  } > "$1/osprey.toml"
}

# start DIR ID: starts worker ID in DIR, waits until it serves; its pid
# is appended to workers.
start() {
  (cd "$1" && exec "$OSPREY" serve --config osprey.toml --worker-id "$2" 2>err.log >/dev/null) &
  workers+=($!)
  for _ in $(seq 200); do grep -q "serving on" "$1/err.log" 2>/dev/null && return; sleep 0.05; done
  echo "worker $2 did not start: $(cat "$1/err.log")" >&2
  exit 1
}

stop_all() {
  for p in "${workers[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait "${workers[@]}" 2>/dev/null || true
  workers=()
}

echo "cluster: $RUNS rounds, $RECORDS records a throughput run, $(nproc) cores, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), $("$server" --version)"
python3 "$work/bench.py" gen "$RECORDS" "$work/input.ndjson"
# The sentinels close every window before theirs; their own stays open.
total=$RECORDS
for run in $(seq "$RUNS"); do
  order="1 2 3"
  [ $((run % 2)) -eq 0 ] && order="3 2 1"
  for w in $order; do
    s="r${run}w${w}"
    d="$work/$s"
    # The stream made by a worker without the query; then the records put.
    write_config "$d/make" "$s"
    start "$d/make" make
    stop_all
    t0=$(date +%s.%N)
    "$OSPREY" put --cluster "$url" "$s" "$work/input.ndjson" --partition-key-field device 2>/dev/null
    put_s=$(python3 -c "import time; print('%.3f' % (time.time() - $t0))")
    for i in $(seq "$w"); do write_config "$d/w$i" "$s" "$d/rows.ndjson"; done
    t0=$(python3 -c 'import time; print(time.time())')
    for i in $(seq "$w"); do start "$d/w$i" "w$i"; done
    secs=$(python3 "$work/bench.py" wait "$d/rows.ndjson" "$total" "$t0")
    stop_all
    echo "throughput workers $w seconds $secs records_per_s $(python3 -c "print('%.0f' % ($total / $secs))") (put --cluster: $(python3 -c "print('%.0f' % ($total / $put_s))") records/s)"
  done
  # Failover: 3 workers, a steady feed, one killed after 4 s.
  s="f${run}"
  d="$work/$s"
  for i in 1 2 3; do write_config "$d/w$i" "$s" "$d/rows.ndjson"; done
  for i in 1 2 3; do start "$d/w$i" "w$i"; done
  python3 "$work/bench.py" tail "$d/rows.ndjson" "$d/arrivals.log" &
  tail_pid=$!
  python3 "$work/bench.py" feed "$url" "$s" "$RATE" 12 &
  feed_pid=$!
  sleep 4
  held=$(python3 "$work/bench.py" holder "$url" "q_$s" "$s" 6 w2)
  killed=$(python3 -c 'import time; print(time.time())')
  kill -9 "${workers[1]}"
  wait "$feed_pid"
  sleep 4
  kill "$tail_pid" 2>/dev/null || true
  stop_all
  gap=$(python3 "$work/bench.py" gap "$d/arrivals.log" "$killed" 6 $held)
  echo "failover killed w2 holding [$held]: its shards' windows moved again after ${gap} s (lease 2 s, renewal 0.5 s, windows 1 s)"
done
