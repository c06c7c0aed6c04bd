#!/usr/bin/env python3
"""PutMedia fragments a second (issue 16; a benchmark, not a test).

Posts FILE (a streamable Matroska with many short fragments) to /putMedia on
CONNS connections at once, each into its own video stream (NAME0..), with a
chunked body as fast as the server takes it (curl -T, one process a
connection), and counts the PERSISTED acknowledgements as they stream back.
Prints one line: fragments persisted, the seconds from the first request to
the last PERSISTED, fragments a second in all and per connection, and the
MB/s of media.

    benches/putmedia.py http://127.0.0.1:4567 FILE CONNS NAME [LABEL]
"""

import os
import subprocess
import sys
import threading
import time


def main():
    endpoint, path, conns, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    label = sys.argv[5] if len(sys.argv) > 5 else os.path.basename(path)
    persisted, errors, last = [0] * conns, [], [0.0] * conns

    def post(i):
        curl = subprocess.Popen(
            ["curl", "-s", "-N", "-X", "POST", "-T", path,
             "-H", "Transfer-Encoding: chunked", "-H", "Expect:",
             "-H", f"x-amzn-stream-name: {name}{i}",
             endpoint + "/putMedia"],
            stdout=subprocess.PIPE, text=True)
        for line in curl.stdout:
            if '"PERSISTED"' in line:
                persisted[i] += 1
                last[i] = time.monotonic()
            elif '"ERROR"' in line:
                errors.append(line.strip())
        curl.wait()

    start = time.monotonic()
    threads = [threading.Thread(target=post, args=(i,)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors or not all(persisted):
        sys.exit(f"putmedia: {persisted} persisted, errors: {errors[:3]}")
    elapsed = max(last) - start
    total = sum(persisted)
    mb = conns * os.path.getsize(path) / 1e6
    print(f"putmedia {label} x{conns}: {total} fragments in {elapsed:.2f} s = "
          f"{total / elapsed:.0f} fragments/s ({total / elapsed / conns:.0f} a connection), "
          f"{mb / elapsed:.1f} MB/s")


if __name__ == "__main__":
    main()
