-- error: unsupported in osprey's SQL: the expression k LIKE 'x%'
SELECT COUNT(*) FROM a WHERE k LIKE 'x%' GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
