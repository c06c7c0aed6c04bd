-- error: unsupported in osprey's SQL: the function COUNT in WHERE (aggregates belong in HAVING)
SELECT COUNT(*) FROM a WHERE COUNT(*) > 1 GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
