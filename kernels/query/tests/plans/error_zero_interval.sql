-- error: invalid query: an interval of 0 second is out of range
SELECT COUNT(*) FROM a GROUP BY TUMBLE(ts, INTERVAL '0' SECOND)
