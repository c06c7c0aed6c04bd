"""Prints the lease history of the given keys of the osprey_leases bucket
as JSON: {key: [{"rev", "worker", "checkpoint", "at_ms"}, ...]}.

usage: cluster_leases.py URL KEY..."""

import asyncio
import json
import sys

import nats


async def run():
    nc = await nats.connect(sys.argv[1])
    kv = await nc.jetstream().key_value("osprey_leases")
    out = {}
    for key in sys.argv[2:]:
        out[key] = [dict(json.loads(e.value), rev=e.revision) for e in await kv.history(key)]
    await nc.close()
    print(json.dumps(out))


asyncio.run(run())
