-- HOP without keys: only the window bounds and the count.
-- plan:
-- time: t
-- window: hop 1m every 10s
-- keys: (none)
-- aggs: #0 count(*)
-- columns: window_start = start, window_end = end, count = #0
SELECT COUNT(*) FROM s GROUP BY HOP(t, INTERVAL '10' SECOND, INTERVAL '1' MINUTE)
