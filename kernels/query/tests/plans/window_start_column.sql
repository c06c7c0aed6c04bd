-- window_start and window_end as plain columns.
-- plan:
-- time: ts
-- window: tumble 5m
-- keys: (none)
-- aggs: #0 count(*)
-- columns: window_end = end, n = #0, window_start = start
SELECT window_end, COUNT(*) AS n, window_start FROM input GROUP BY TUMBLE(ts, INTERVAL '5' MINUTE)
