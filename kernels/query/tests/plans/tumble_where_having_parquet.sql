-- aggregate.rs: WHERE with a comparison and IN, HAVING on COUNT(*).
-- plan:
-- time: ts
-- window: tumble 1m
-- keys: sensor
-- aggs: #0 count(*), #1 max(temp)
-- columns: window_start = start, window_end = end, sensor = key sensor, n = #0, mx = #1
-- where: ((temp > 20) AND (((sensor = 's01') OR (sensor = 's02')) OR (sensor = 's03')))
-- having: (#0 > 2)
SELECT sensor, COUNT(*) AS n, MAX(temp) AS mx FROM input WHERE temp > 20 AND sensor IN ('s01', 's02', 's03')
GROUP BY sensor, TUMBLE(ts, INTERVAL '1' MINUTE) HAVING COUNT(*) > 2
