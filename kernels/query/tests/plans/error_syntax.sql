-- error: invalid query: sql parser error: Expected: an SQL statement, found: SELEC at Line: 1, Column: 1
SELEC
