-- error: invalid query: GROUP BY has more than one window
SELECT COUNT(*) FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), HOP(ts, '1s', '1m')
