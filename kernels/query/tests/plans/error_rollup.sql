-- error: unsupported in osprey's SQL: GROUP BY ROLLUP (k) (group by columns and one TUMBLE, HOP or SESSION)
SELECT COUNT(*) FROM a GROUP BY ROLLUP(k), TUMBLE(ts, INTERVAL '1' MINUTE)
