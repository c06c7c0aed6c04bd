#!/usr/bin/env python3
"""Reads one live benchmark run's output on stdin, line by line, as it comes.

Used by benches/live.sh; not a tool of its own.

  live_reader.py osprey WARMUP_S   NDJSON records of `osprey analyze` (frame,
                                   event and status records, several sources)
  live_reader.py gst WARMUP_S      `gst-launch-1.0 -v` lines of N
                                   fpsdisplaysinks named s0, s1, ... (their
                                   `rendered` count, twice a second)

Each line is stamped with the host clock when it is read. Per source it
counts frames and measures their rate between the first and the last frame
after WARMUP_S seconds (the start-up and the first key frame left out). For
osprey it also sums the `dropped` counts of `frames_dropped` status records
and, where frame records carry `ts` (the capture time), the capture-to-record
latency: the time the line was read minus its `ts`.

Prints one JSON object: {"sources": {name: {"frames", "rate"}}, "dropped",
"latency_ms": {"n", "p50", "p99", "max"} or null}.
"""

import json
import re
import sys
import time
from datetime import datetime


def parse_ts(text):
    """RFC 3339 UTC with milliseconds, as osprey writes it."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def percentile(values, q):
    values = sorted(values)
    if not values:
        return None
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[k]


def main():
    kind, warmup = sys.argv[1], float(sys.argv[2])
    start = time.time()
    seen = {}  # source -> [frames after warm-up, first time, last time]
    dropped = 0
    latencies = []
    sink = re.compile(r"GstFPSDisplaySink:(s\d+): last-message = rendered: (\d+)")
    rendered = {}  # sink -> [(time, rendered count)] after warm-up
    for line in sys.stdin:
        now = time.time()
        if kind == "gst":
            m = sink.search(line)
            if m and now - start >= warmup:
                rendered.setdefault(m.group(1), []).append((now, int(m.group(2))))
            continue
        else:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("kind") == "status":
                dropped += int(rec.get("dropped") or 0)
                continue
            if rec.get("kind") != "frame":
                continue
            source, ts = rec.get("source", "?"), rec.get("ts")
        if now - start < warmup:
            seen.setdefault(source, [0, None, None])
            continue
        s = seen.setdefault(source, [0, None, None])
        s[0] += 1
        s[1] = now if s[1] is None else s[1]
        s[2] = now
        if ts is not None:
            latencies.append((now - parse_ts(ts)) * 1000.0)
    for name, marks in rendered.items():
        (t0, r0), (t1, r1) = marks[0], marks[-1]
        # As [frames, first, last] with frames - 1 spanning first..last.
        seen[name] = [r1 - r0 + 1, t0, t1]
    sources = {}
    for name, (frames, first, last) in sorted(seen.items()):
        span = (last - first) if first is not None else 0.0
        rate = (frames - 1) / span if span > 0 else 0.0
        sources[name] = {"frames": frames, "rate": round(rate, 2)}
    latency = None
    if latencies:
        latency = {
            "n": len(latencies),
            "p50": round(percentile(latencies, 0.50), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "max": round(max(latencies), 1),
        }
    print(json.dumps({"sources": sources, "dropped": dropped, "latency_ms": latency}))


if __name__ == "__main__":
    main()
