-- An interval as a plain duration string, as --window takes it.
-- plan:
-- time: ts
-- window: hop 1m every 15s
-- keys: (none)
-- aggs: #0 count(*)
-- columns: window_start = start, window_end = end, count = #0
SELECT COUNT(*) FROM input GROUP BY HOP(ts, '15s', '1m')
