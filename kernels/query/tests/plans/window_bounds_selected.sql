-- The bounds selected by name and by TUMBLE_START/TUMBLE_END, renamed, in the order given.
-- plan:
-- time: ts
-- window: tumble 1h
-- keys: k
-- aggs: #0 count(*)
-- columns: ends = end, k = key k, starts = start, n = #0
SELECT TUMBLE_END(ts, INTERVAL '1' HOUR) AS ends, k, TUMBLE_START(ts, INTERVAL '1' HOUR) AS starts, COUNT(*) AS n
FROM input GROUP BY TUMBLE(ts, INTERVAL '1' HOUR), k
