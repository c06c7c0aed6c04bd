-- aggregate.rs: ORDER BY is refused (results come in window order).
-- error: unsupported in osprey's SQL: ORDER BY (results come in window order)
SELECT v FROM input ORDER BY v
