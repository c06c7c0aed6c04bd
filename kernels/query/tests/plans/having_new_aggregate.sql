-- HAVING may use an aggregate that SELECT does not: it is added, not shown.
-- plan:
-- time: ts
-- window: tumble 1m
-- keys: k
-- aggs: #0 count(*), #1 avg(v)
-- columns: window_start = start, window_end = end, k = key k, n = #0
-- having: ((#1 >= 2.5) AND (n < 10))
SELECT k, COUNT(*) AS n FROM input GROUP BY k, TUMBLE(ts, INTERVAL '1' MINUTE) HAVING AVG(v) >= 2.5 AND n < 10
