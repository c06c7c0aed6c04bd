-- p99 and the other named percentiles.
-- plan:
-- time: ts
-- window: tumble 1m
-- keys: (none)
-- aggs: #0 approx_percentile(v, 0.5), #1 approx_percentile(v, 0.9), #2 approx_percentile(v, 0.99)
-- columns: window_start = start, window_end = end, p50_v = #0, p90_v = #1, tail = #2
SELECT p50(v), p90(v), p99(v) AS tail FROM input GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
