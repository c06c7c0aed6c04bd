-- SESSION with a key.
-- plan:
-- time: t
-- window: session gap 30s
-- keys: k
-- aggs: #0 sum(v)
-- columns: window_start = start, window_end = end, k = key k, sum_v = #0
SELECT k, SUM(v) FROM s GROUP BY k, SESSION(t, INTERVAL '30' SECOND)
