-- error: unsupported in osprey's SQL: the function MEDIAN in SELECT
SELECT MEDIAN(x) FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
