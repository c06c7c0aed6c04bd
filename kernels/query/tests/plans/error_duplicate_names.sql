-- error: two result columns are named "avg_x"; rename one with AS
SELECT AVG(x), MAX(x) AS avg_x FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
