-- aggregate.rs: a window of 60 seconds is one minute.
-- plan:
-- time: ts
-- window: tumble 1m
-- keys: k
-- aggs: #0 count(*), #1 avg(v), #2 max(v)
-- columns: window_start = start, window_end = end, k = key k, n = #0, mean = #1, top = #2
SELECT k, COUNT(*) AS n, AVG(v) AS mean, MAX(v) AS top FROM input GROUP BY k, TUMBLE(ts, INTERVAL '60' SECOND)
