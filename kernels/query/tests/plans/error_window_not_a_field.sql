-- error: invalid query: TUMBLE: the first argument must be the time field
SELECT COUNT(*) FROM a GROUP BY TUMBLE(1, INTERVAL '1' MINUTE)
