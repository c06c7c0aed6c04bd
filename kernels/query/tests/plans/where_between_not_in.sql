-- BETWEEN, NOT IN, NOT, negation, arithmetic and IS NULL.
-- plan:
-- time: ts
-- window: tumble 1m
-- keys: (none)
-- aggs: #0 count(*)
-- columns: window_start = start, window_end = end, count = #0
-- where: (((((v >= (-1)) AND (v <= (2 * 3))) AND (NOT (k = 'x'))) AND (NOT (w IS NULL))) AND ((-v) < (v + 1)))
SELECT COUNT(*) FROM input
WHERE v BETWEEN -1 AND 2 * 3 AND k NOT IN ('x') AND NOT (w IS NULL) AND -v < v + 1
GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
