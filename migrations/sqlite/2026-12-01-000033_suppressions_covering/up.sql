-- PostgreSQL gains an index that reads the list in key order without the heap; SQLite's
-- table is already stored in key order (000031): nothing changes here.
SELECT 1;
