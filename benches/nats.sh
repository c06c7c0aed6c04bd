#!/usr/bin/env bash
# Records/s out to NATS, core and JetStream, 100 B records, the server on
# this machine (nats-server -js, store in a temp dir): osprey's NATS output
# (benches/src/bin/nats_load: send, then wait until flushed / every publish
# acked, the stream's count checked after) against a nats-py publisher doing
# the same as the ceiling (`nats bench` is not in Debian), RUNS rounds each.
#
#   benches/nats.sh
#   RUNS=5 RECORDS=200000 benches/nats.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
RECORDS=${RECORDS:-100000}
server=$(command -v nats-server || echo /usr/sbin/nats-server)
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$server" -a 127.0.0.1 -p "$port" -js -sd "$work" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
cargo build -q --release -p osprey-benches --bin nats_load
load=target/release/nats_load
py=$(cat <<'PY'
import asyncio, sys, time, nats
async def main(port, mode, subject, records):
    records = int(records)
    nc = await nats.connect(f"nats://127.0.0.1:{port}")
    js = nc.jetstream()
    pad = "x" * 72
    start = time.monotonic()
    if mode == "core":
        for n in range(records):
            await nc.publish(subject, f'{{"n":{n:012},"pad":"{pad}"}}'.encode())
        await nc.flush()
    elif mode == "jetstream":
        await js.add_stream(name=subject.replace(".", "_"), subjects=[subject])
        start = time.monotonic()
        for lo in range(0, records, 256):
            await asyncio.gather(*(js.publish(subject, f'{{"n":{n:012},"pad":"{pad}"}}'.encode(),
                headers={"Nats-Msg-Id": str(n)}) for n in range(lo, min(lo + 256, records))))
    else:  # count
        info = await js.stream_info(await js.find_stream_name_by_subject(subject))
        print(info.state.messages)
        await nc.close()
        return
    s = time.monotonic() - start
    print(f"records {records} seconds {s:.3f} records_per_s {records / s:.0f}")
    await nc.close()
asyncio.run(main(*sys.argv[1:]))
PY
)
for _ in $(seq 40); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null && break; sleep 0.1; done
echo "nats: $RUNS rounds, $RECORDS records of 100 B, $(nproc) cores, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), $("$server" --version)"
i=0
for _ in $(seq "$RUNS"); do
  i=$((i + 1))
  echo "core      osprey  $("$load" --url "nats://127.0.0.1:$port/core.o$i" --records "$RECORDS")"
  echo "core      nats-py $(python3 -c "$py" "$port" core "core.p$i" "$RECORDS")"
  echo "jetstream osprey  $("$load" --url "jetstream://127.0.0.1:$port/js.o$i" --records "$RECORDS") stored $(python3 -c "$py" "$port" count "js.o$i" 0)"
  echo "jetstream nats-py $(python3 -c "$py" "$port" jetstream "js.p$i" "$RECORDS") stored $(python3 -c "$py" "$port" count "js.p$i" 0)"
done
