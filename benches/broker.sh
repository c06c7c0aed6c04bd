#!/usr/bin/env bash
# Records/s out to a message broker: `osprey deliver STREAM --to URL` of a
# stream of COUNT 100 B records to an independent subscriber (mosquitto_sub)
# on the same machine, against a Python paho publisher (benches/
# broker_client.py) as the ceiling. The broker runs on a free port of
# 127.0.0.1 in a temporary folder.
#
#   benches/broker.sh               # MQTT (mosquitto) at QoS 0 and 1, 200,000 records
#   COUNT=50000 QOS="1" benches/broker.sh
#
# Each line: what, records, seconds at the subscriber (first message to
# last), records/s. To add a broker (NATS, JetStream): a start_BROKER like
# start_mosquitto, a case_ for its subscriber, its publisher in
# broker_client.py, and a loop like the MQTT one below.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-200000}
QOS=${QOS:-"0 1"}
PATH="$PATH:/usr/sbin"
# OSPREY=PATH runs that binary instead of building one.
if [ -z "${OSPREY:-}" ]; then
  cargo build --release -p osprey >&2
  OSPREY=$PWD/target/release/osprey
fi
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_mosquitto() {
  MQTT_PORT=$(free_port)
  cat > "$WORK/mosquitto.conf" <<CONF
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
max_queued_messages 0
max_inflight_messages 100
log_dest file $WORK/mosquitto.log
log_type subscribe
# As root it would drop to user mosquitto, which cannot write into $WORK.
user root
CONF
  mosquitto -c "$WORK/mosquitto.conf" 2>/dev/null &
  PIDS+=($!)
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$MQTT_PORT") 2>/dev/null && return; sleep 0.05; done
  echo "mosquitto did not start" >&2; exit 1
}

# The stream: COUNT records of 100 bytes.
DATA="$WORK/data"
"$OSPREY" stream create bench --shards 1 --data-dir "$DATA" >/dev/null 2>&1
python3 -c "
import sys
for i in range($COUNT):
    head = '{\"i\":%d,\"pad\":\"' % i
    sys.stdout.write(head + 'x' * (100 - len(head) - 2) + '\"}\n')
" > "$WORK/records.ndjson"
"$OSPREY" put bench "$WORK/records.ndjson" --data-dir "$DATA" --durability os >/dev/null 2>&1

# case_ LABEL TOPIC QOS PRODUCER...: starts mosquitto_sub on TOPIC (the
# independent subscriber: a C client, so that it is not the bottleneck),
# waits until the broker logs its subscription, runs the producer, waits for
# COUNT messages (60 s at most) and prints the span from the first message
# to the last as the subscriber stamped them (%U).
N=0
case_() {
  local label=$1 topic=$2 qos=$3; shift 3
  N=$((N + 1))
  local id="bench-sub-$N" stamps="$WORK/stamps.$N"
  timeout 120 mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -i "$id" -q "$qos" -t "$topic" \
    -C "$COUNT" -W 60 -F '%U' > "$stamps" &
  local sub=$!
  for _ in $(seq 200); do grep -q "$id $qos $topic" "$WORK/mosquitto.log" && break; sleep 0.05; done
  "$@" >/dev/null 2>"$WORK/producer.log" || { cat "$WORK/producer.log" >&2; exit 1; }
  wait "$sub" || true
  python3 - "$stamps" "$COUNT" "$label" <<'PY'
import sys
stamps = [float(l) for l in open(sys.argv[1]) if l.strip()]
count, label = int(sys.argv[2]), sys.argv[3]
span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
rate = len(stamps) / span if span > 0 else 0
missing = "" if len(stamps) == count else f"  (MISSING {count - len(stamps)})"
print(f"{label:44s} {len(stamps):>8} records {span:7.3f} s {rate:>10,.0f} records/s{missing}")
PY
}

start_mosquitto
for q in $QOS; do
  case_ "mqtt qos $q: python paho publisher (ceiling)" "bench/ceiling" "$q" \
    python3 benches/broker_client.py pub 127.0.0.1 "$MQTT_PORT" bench/ceiling "$q" "$COUNT"
  case_ "mqtt qos $q: osprey deliver --to mqtt://" "bench/bench/records" "$q" \
    "$OSPREY" deliver bench --data-dir "$DATA" --consumer "mqtt$q" --buffer-seconds 0.1 \
    --to "mqtt://127.0.0.1:$MQTT_PORT/bench?qos=$q"
done
