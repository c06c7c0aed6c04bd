#!/usr/bin/env python3
"""The ceiling of benches/broker.sh: a Python publisher (paho-mqtt 2.x).

  broker_client.py pub HOST PORT TOPIC QOS COUNT   # COUNT 100 B messages as
      fast as paho publishes them; prints "COUNT SECONDS"
"""
import sys
import threading
import time

import paho.mqtt.client as mqtt


def client(name):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name)
    c.max_inflight_messages_set(100)
    c.max_queued_messages_set(0)
    return c


def pub(host, port, topic, qos, count):
    c = client(f"bench-pub-{time.monotonic_ns()}")
    connected = threading.Event()
    c.on_connect = lambda *_: connected.set()
    c.connect(host, port)
    c.loop_start()
    connected.wait(10)
    payload = b'{"i":0,"pad":"' + b"x" * 84 + b'"}'
    start = time.monotonic()
    infos = [c.publish(topic, payload, qos) for _ in range(count)]
    for info in infos:
        info.wait_for_publish()
    span = time.monotonic() - start
    c.loop_stop()
    print(f"{count} {span:.3f}", flush=True)


if __name__ == "__main__":
    mode, host, port, topic, qos, count = sys.argv[1:7]
    {"pub": pub}[mode](host, int(port), topic, int(qos), int(count))
