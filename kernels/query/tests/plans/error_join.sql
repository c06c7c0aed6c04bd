-- A join to a name not bound as a reference table is refused as a join
-- between two streams, saying how a reference table is bound.
-- error: unsupported in osprey's SQL: JOIN b: joins between two streams are not supported; a reference table is joined when it is bound, e.g. --reference b=FILE
SELECT COUNT(*) FROM a JOIN b ON a.x = b.x GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
