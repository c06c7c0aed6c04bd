-- error: invalid query: HOP takes 3 arguments, not 2
SELECT COUNT(*) FROM a GROUP BY HOP(ts, INTERVAL '1' MINUTE)
