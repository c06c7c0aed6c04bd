-- error: unsupported in osprey's SQL: WITH
WITH x AS (SELECT 1) SELECT COUNT(*) FROM x GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
