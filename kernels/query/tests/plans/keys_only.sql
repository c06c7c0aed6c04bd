-- Keys without aggregates: one row a group and window.
-- plan:
-- time: ts
-- window: tumble 1m
-- keys: a, b
-- aggs: (none)
-- columns: window_start = start, window_end = end, a = key a, b = key b
SELECT a, b FROM input GROUP BY a, b, TUMBLE(ts, INTERVAL '1' MINUTE)
