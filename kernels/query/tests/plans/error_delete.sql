-- error: unsupported in osprey's SQL: statements other than SELECT
DELETE FROM a
