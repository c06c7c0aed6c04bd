"""Feeds a cluster stream at a steady rate straight into JetStream, as
osprey routes records: subject osprey.<stream>.<shard>, the shard whose
MD5 hash-key range (the store's even split) holds the partition key, the
key in the Osprey-Partition-Key header. Writes the same records, in order,
to a file for the single-machine run; sentinels at the end (one per
device, a minute later) close every window.

usage: cluster_feed.py URL STREAM SHARDS RATE SECONDS OUT"""

import asyncio
import datetime
import hashlib
import json
import sys
import time

import nats


def main():
    url, stream, shards = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rate, seconds, out = int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
    step = ((1 << 128) - 1) // shards

    def shard_of(key):
        h = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
        return "shardId-%012d" % min(h // step, shards - 1)

    def stamp(ms):
        t = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
        return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    async def run():
        nc = await nats.connect(url)
        js = nc.jetstream()
        base = 1_700_000_000_000
        devices = ["d%d" % i for i in range(12)]
        n = int(rate * seconds)
        records = [
            {"ts": stamp(base + i * 1000 // rate), "device": devices[i % 12], "value": i % 7}
            for i in range(n)
        ]
        end = base + n * 1000 // rate + 60_000
        records += [{"ts": stamp(end), "device": d, "value": 0} for d in devices]
        started = time.monotonic()
        with open(out, "w") as f:
            for i, r in enumerate(records):
                line = json.dumps(r)
                subject = "osprey.%s.%s" % (stream, shard_of(r["device"]))
                await js.publish(subject, line.encode(), headers={"Osprey-Partition-Key": r["device"]})
                f.write(line + "\n")
                wait = started + (i + 1) / rate - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
        await nc.close()
        print(len(records))

    asyncio.run(run())


if __name__ == "__main__":
    main()
