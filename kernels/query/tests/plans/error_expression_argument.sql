-- error: unsupported in osprey's SQL: an expression as the argument of avg (x + 1); aggregate a column
SELECT AVG(x + 1) FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
