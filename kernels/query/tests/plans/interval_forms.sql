-- An interval as a string with its unit inside, in milliseconds.
-- plan:
-- time: ts
-- window: tumble 250ms
-- keys: (none)
-- aggs: #0 count(*)
-- columns: window_start = start, window_end = end, count = #0
SELECT COUNT(*) FROM input GROUP BY TUMBLE(ts, INTERVAL '250 milliseconds')
