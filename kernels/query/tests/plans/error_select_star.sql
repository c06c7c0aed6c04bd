-- error: unsupported in osprey's SQL: SELECT * (name the keys and aggregates)
SELECT * FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
