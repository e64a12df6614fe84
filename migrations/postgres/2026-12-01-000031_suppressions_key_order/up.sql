-- SQLite stores the suppression list in key order from this version on (WITHOUT ROWID).
-- PostgreSQL keeps every table in a heap whatever its key and reads a key-order export
-- through the primary key at about the same cost: nothing changes here.
SELECT 1;
