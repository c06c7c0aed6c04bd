-- error: unsupported in osprey's SQL: IN with a subquery or a table
SELECT COUNT(*) FROM a WHERE k IN (SELECT k FROM b) GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
