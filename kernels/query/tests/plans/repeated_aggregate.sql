-- The same aggregate twice is one aggregate under two names.
-- plan:
-- time: ts
-- window: tumble 1d
-- keys: (none)
-- aggs: #0 avg(temp), #1 count(*)
-- columns: window_start = start, window_end = end, avg_temp = #0, again = #0, count = #1
SELECT AVG(temp), AVG(temp) AS again, COUNT(*) FROM input GROUP BY TUMBLE(ts, INTERVAL '1' DAY)
