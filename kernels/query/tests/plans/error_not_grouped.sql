-- error: invalid query: x is selected but neither grouped by nor aggregated
SELECT x FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
