-- error: unsupported in osprey's SQL: the interval unit MONTH
SELECT COUNT(*) FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MONTH)
