"""The oracle of cli/tests/it/anomaly.rs: rrcf (PyPI) on the same records.

usage: anomaly_rrcf.py make DATA.ndjson
       anomaly_rrcf.py check DATA.ndjson OURS.ndjson OURS2.ndjson TREES SAMPLE DECAY SHINGLE

`make` writes the test's records: per sensor a sine with noise, and
anomalies injected at known places (spikes, and a level shift), each record
labelled by `truth` (1: injected).

`check` scores the same records with rrcf's trees (rrcf.RCTree's
insert_point, forget_point and codisp), sampled as osprey samples them
(time-decayed reservoir: weight ln(-ln u) - t/decay, the `sample` smallest
kept; score = CoDisp of the point once inserted, averaged over the trees),
from numpy's random numbers, not osprey's. OURS2 is osprey's run with
another seed: how far two runs of one implementation differ. It prints one
JSON object: the AUC of both at ranking the injected records above the
others; the Spearman rank correlation of osprey's and rrcf's score series
and of osprey's two seeds; the ratio of osprey's median score to rrcf's; and
the two-sample Kolmogorov-Smirnov distance between the score distributions,
osprey against rrcf and osprey's two seeds.
"""

import heapq
import json
import math
import sys

import numpy as np
import rrcf

SENSORS = ["a", "b", "c"]
N = 500
T0 = 1764608400


def make(path):
    rng = np.random.default_rng(42)
    with open(path, "w") as f:
        for s, sensor in enumerate(SENSORS):
            truth = np.zeros(N, dtype=int)
            v = np.sin(np.arange(N) * 2 * np.pi / 50 + s) + rng.normal(0, 0.1, N)
            for at in rng.choice(np.arange(100, N), 8, replace=False):
                v[at] += rng.choice([-1, 1]) * rng.uniform(2.5, 4)
                truth[at] = 1
            if sensor == "b":
                # A level shift: 6 records 3 up.
                v[300:306] += 3
                truth[300:306] = 1
            for i in range(N):
                rec = {"ts": T0 + i, "sensor": sensor, "v": round(float(v[i]), 6),
                       "truth": int(truth[i])}
                f.write(json.dumps(rec) + "\n")
    # Interleave the sensors by time, as a stream holds them.
    lines = open(path).read().splitlines()
    lines.sort(key=lambda l: (json.loads(l)["ts"], json.loads(l)["sensor"]))
    open(path, "w").write("\n".join(lines) + "\n")


class Tree:
    """One rrcf tree with osprey's time-decayed reservoir of `sample` points."""

    def __init__(self, rng, sample, decay):
        self.tree = rrcf.RCTree(random_state=rng)
        self.rng = rng
        self.sample = sample
        self.decay = decay
        self.kept = []  # a heap of (-weight, index): the heaviest on top

    def update(self, point, t):
        w = math.log(-math.log(self.rng.uniform(1e-300, 1.0))) - t / self.decay
        keep = len(self.kept) < self.sample or w < -self.kept[0][0]
        if keep and len(self.kept) == self.sample:
            self.tree.forget_point(heapq.heappop(self.kept)[1])
        self.tree.insert_point(point, index=t)
        score = self.tree.codisp(t) if len(self.tree.leaves) > 1 else 0.0
        if keep:
            heapq.heappush(self.kept, (-w, t))
        else:
            self.tree.forget_point(t)
        return score


def rrcf_scores(records, trees, sample, decay, shingle):
    rng = np.random.RandomState(7)
    forests, windows, seqs = {}, {}, {}
    out = []
    for r in records:
        s = r["sensor"]
        if s not in forests:
            forests[s] = [Tree(rng, sample, decay) for _ in range(trees)]
            windows[s], seqs[s] = [], 0
        windows[s] = (windows[s] + [r["v"]])[-shingle:]
        if len(windows[s]) < shingle:
            out.append(None)
            continue
        point = np.array(windows[s])
        t = seqs[s]
        seqs[s] += 1
        out.append(sum(tr.update(point, t) for tr in forests[s]) / trees)
    return out


def auc(scores, truth):
    """The probability that an injected record outscores a normal one."""
    pos = [s for s, t in zip(scores, truth) if t]
    neg = [s for s, t in zip(scores, truth) if not t]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def ranks(x):
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x))
    r[order] = np.arange(len(x))
    # Ties share their mean rank.
    xs = np.asarray(x)[order]
    i = 0
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[i]:
            j += 1
        r[order[i:j + 1]] = (i + j) / 2
        i = j + 1
    return r


def ks(a, b):
    """The largest distance between the empirical distributions of a and b."""
    a, b = np.sort(a), np.sort(b)
    x = np.concatenate([a, b])
    fa = np.searchsorted(a, x, side="right") / len(a)
    fb = np.searchsorted(b, x, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def check(data, ours, ours2, trees, sample, decay, shingle):
    records = [json.loads(l) for l in open(data)]
    rows = [json.loads(l) for l in open(ours)]
    other = [json.loads(l)["ANOMALY_SCORE"] for l in open(ours2)]
    assert len(rows) == len(records), (len(rows), len(records))
    for r, o in zip(records, rows):
        assert (o["sensor"], o["v"]) == (r["sensor"], r["v"]), (o, r)
    theirs = rrcf_scores(records, trees, sample, decay, shingle)
    mine = [o["ANOMALY_SCORE"] for o in rows]
    # Scores from the 50th record of each sensor on: both forests start
    # empty, and so score 0 then small numbers at first.
    warm, seen = [], {}
    for i, r in enumerate(records):
        seen[r["sensor"]] = seen.get(r["sensor"], 0) + 1
        if seen[r["sensor"]] > 50 and theirs[i] is not None:
            warm.append(i)
    assert all((mine[i] is None) == (theirs[i] is None) for i in range(len(records)))
    truth = [records[i]["truth"] for i in warm]
    a, b = [mine[i] for i in warm], [theirs[i] for i in warm]
    a2 = [other[i] for i in warm]
    print(json.dumps({
        "auc_osprey": auc(a, truth),
        "auc_rrcf": auc(b, truth),
        "spearman": float(np.corrcoef(ranks(a), ranks(b))[0, 1]),
        "spearman_seeds": float(np.corrcoef(ranks(a), ranks(a2))[0, 1]),
        "median_ratio": float(np.median(a) / np.median(b)),
        "ks": ks(a, b),
        "ks_seeds": ks(a, a2),
        "points": len(warm),
        "injected": int(sum(truth)),
    }))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        check(sys.argv[2], sys.argv[3], sys.argv[4], *(int(v) for v in sys.argv[5:9]))
