#!/usr/bin/env python3
"""HLS live latency (issue 16; a benchmark, not a test).

Polls the LIVE media playlist of a KVS endpoint (GetHLSStreamingSessionURL,
PlaybackMode LIVE) every POLL seconds for SECONDS and, for each segment that
appears, takes the wall-clock time it first appeared minus its
EXT-X-PROGRAM-DATE-TIME (the producer time of its first frame) and minus the
segment's end (that time plus its EXTINF). Prints one line with the medians
and p95s BENCHMARKS.md takes.

    benches/hls_latency.py http://127.0.0.1:4567 STREAM SECONDS [LABEL]
"""

import datetime
import json
import re
import statistics
import sys
import time
import urllib.parse
import urllib.request

POLL = 0.05


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as answer:
        return json.load(answer)


def get(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read().decode()


def segments(playlist):
    """(fragment number, producer start in s, duration in s) a segment."""
    out, pdt, dur = [], None, None
    for line in playlist.splitlines():
        if line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            text = line.split(":", 1)[1].replace("Z", "+00:00")
            pdt = datetime.datetime.fromisoformat(text).timestamp()
        elif line.startswith("#EXTINF:"):
            dur = float(line.split(":", 1)[1].split(",")[0])
        elif line and not line.startswith("#"):
            number = re.search(r"FragmentNumber=(\d+)", line)
            if number and pdt is not None and dur is not None:
                out.append((int(number.group(1)), pdt, dur))
            pdt, dur = None, None
    return out


def p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main():
    endpoint, stream, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    label = sys.argv[4] if len(sys.argv) > 4 else stream
    session = post(
        endpoint + "/getHLSStreamingSessionURL",
        {"StreamName": stream, "PlaybackMode": "LIVE"},
    )
    master_url = session["HLSStreamingSessionURL"]
    media = next(
        line for line in get(master_url).splitlines() if line and not line.startswith("#")
    )
    media_url = urllib.parse.urljoin(master_url, media)
    seen, first_poll = {}, True
    end = time.time() + seconds
    while time.time() < end:
        playlist = get(media_url)
        now = time.time()
        for number, pdt, dur in segments(playlist):
            # The segments already there at the first poll appeared earlier.
            if number not in seen:
                seen[number] = None if first_poll else (now - pdt, now - pdt - dur, dur)
        first_poll = False
        time.sleep(POLL)
    rows = [v for v in seen.values() if v is not None]
    if len(rows) < 2:
        sys.exit(f"hls_latency: only {len(rows)} new segments in {seconds:.0f} s")
    first = [r[0] for r in rows]
    after_end = [r[1] for r in rows]
    durs = [r[2] for r in rows]
    print(
        f"hls {label}: {len(rows)} segments (median {statistics.median(durs):.2f} s long), "
        f"appear after first frame median {statistics.median(first):.2f} s "
        f"p95 {p95(first):.2f} s (min {min(first):.2f}, max {max(first):.2f}); "
        f"after segment end median {statistics.median(after_end):.2f} s p95 {p95(after_end):.2f} s"
    )


if __name__ == "__main__":
    main()
