-- The export and the nodes' snapshots read the whole list in key order. Through the primary
-- key alone PostgreSQL fetches every row from a scattered heap page; an index that also
-- carries the other columns lets it read the list from the index in order (an index-only
-- scan, once autovacuum has marked the pages visible), as SQLite does since it stores the
-- table in key order (000031). Same key and collation as the primary key.
CREATE INDEX suppressions_in_key_order ON suppressions (address, scope)
    INCLUDE (source, event_id, reason, note, created_at, expires_at);
