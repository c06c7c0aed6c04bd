-- aggregate.rs: HOP with every aggregate the flags test (AGGS), by SQL.
-- plan:
-- time: ts
-- window: hop 2m every 30s
-- keys: sensor
-- aggs: #0 count(*), #1 count(temp), #2 sum(temp), #3 min(temp), #4 max(temp), #5 avg(temp), #6 var_samp(temp), #7 var_pop(temp), #8 stddev_samp(temp), #9 stddev_pop(temp), #10 approx_count_distinct(tag), #11 approx_percentile(level, 0.9), #12 first(temp), #13 last(temp), #14 max(level)
-- columns: window_start = start, window_end = end, sensor = key sensor, n = #0, n_temp = #1, sum = #2, min = #3, max = #4, avg = #5, var_samp = #6, var_pop = #7, stddev_samp = #8, stddev_pop = #9, distinct_tags = #10, p90 = #11, first = #12, last = #13, max_level = #14
SELECT sensor, count(*) as n, count(temp) as n_temp, sum(temp) as sum, min(temp) as min, max(temp) as max,
    avg(temp) as avg, var_samp(temp) as var_samp, var_pop(temp) as var_pop, stddev_samp(temp) as stddev_samp,
    stddev_pop(temp) as stddev_pop, approx_count_distinct(tag) as distinct_tags, approx_percentile(level, 0.9) as p90,
    first(temp) as first, last(temp) as last, max(level) as max_level
FROM input GROUP BY sensor, HOP(ts, INTERVAL '30' SECOND, INTERVAL '2' MINUTE)
