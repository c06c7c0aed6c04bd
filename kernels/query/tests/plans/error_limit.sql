-- error: unsupported in osprey's SQL: LIMIT / FETCH
SELECT COUNT(*) FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE) LIMIT 3
