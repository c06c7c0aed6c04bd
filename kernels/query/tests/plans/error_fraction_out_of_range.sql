-- aggregate_bad.rs: a percentile's fraction out of [0, 1].
-- error: invalid query: approx_percentile: a percentile's fraction must be between 0 and 1, not 1.5
SELECT approx_percentile(temp, 1.5) FROM input GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
