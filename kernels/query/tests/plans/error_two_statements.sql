-- error: unsupported in osprey's SQL: 2 statements (give one SELECT)
SELECT COUNT(*) FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE); SELECT 1
