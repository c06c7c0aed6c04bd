-- error: invalid query: GROUP BY needs a window: TUMBLE(ts, INTERVAL '1' MINUTE), HOP(ts, slide, size) or SESSION(ts, gap)
SELECT COUNT(*) FROM a GROUP BY k
