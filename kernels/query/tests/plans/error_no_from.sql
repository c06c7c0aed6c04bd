-- error: invalid query: FROM is missing (FROM input)
SELECT COUNT(*) GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
