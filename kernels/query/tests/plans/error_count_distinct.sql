-- DISTINCT inside an aggregate points at approx_count_distinct.
-- error: unsupported in osprey's SQL: DISTINCT in COUNT (use approx_count_distinct)
SELECT COUNT(DISTINCT x) FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
