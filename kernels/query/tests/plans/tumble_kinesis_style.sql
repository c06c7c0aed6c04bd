-- The query of the sql.rs docs: keys, aliases, a percentile, WHERE with IN and HAVING.
-- plan:
-- time: ts
-- window: tumble 1m
-- keys: sensor
-- aggs: #0 count(*), #1 avg(temp), #2 approx_percentile(temp, 0.99)
-- columns: window_start = start, window_end = end, sensor = key sensor, n = #0, avg_temp = #1, p99 = #2
-- where: ((temp IS NOT NULL) AND ((site = 'a') OR (site = 'b')))
-- having: (#0 > 1)
SELECT sensor, COUNT(*) AS n, AVG(temp), APPROX_PERCENTILE(temp, 0.99) AS p99
FROM input
WHERE temp IS NOT NULL AND site IN ('a', 'b')
GROUP BY sensor, TUMBLE(ts, INTERVAL '1' MINUTE)
HAVING COUNT(*) > 1
