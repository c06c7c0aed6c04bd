-- aggregate.rs: "type" quoted, two conditions.
-- plan:
-- time: pts
-- window: tumble 1m
-- keys: source
-- aggs: #0 count(*)
-- columns: window_start = start, window_end = end, source = key source, cuts = #0
-- where: ((kind = 'event') AND (type = 'scene_cut'))
SELECT source, COUNT(*) AS cuts FROM input WHERE kind = 'event' AND "type" = 'scene_cut'
GROUP BY source, TUMBLE(pts, INTERVAL '1' MINUTE)
