-- aggregate.rs and aggregate_io.rs: osprey analyze's records, a dotted field, WHERE on text.
-- plan:
-- time: pts
-- window: tumble 1m
-- keys: source
-- aggs: #0 count(*), #1 avg(motion.ratio)
-- columns: window_start = start, window_end = end, source = key source, frames = #0, motion = #1
-- where: (kind = 'frame')
SELECT source, COUNT(*) AS frames, AVG(motion.ratio) AS motion FROM input
WHERE kind = 'frame' GROUP BY source, TUMBLE(pts, INTERVAL '1' MINUTE)
