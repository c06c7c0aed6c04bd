-- Joins are refused by name.
-- error: unsupported in osprey's SQL: JOIN
SELECT COUNT(*) FROM a JOIN b ON a.x = b.x GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
