-- error: invalid query: sum(*) needs a column
SELECT SUM(*) FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
