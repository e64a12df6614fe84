-- Commit order of events. A sequence hands ids out when rows are inserted, not when their
-- transaction commits, so a reader following `id` can pass an id whose transaction commits
-- later and never see it. `tx_id` is the writing transaction's id: every transaction older
-- than `pg_snapshot_xmin(pg_current_snapshot())` has ended, so a reader following
-- (tx_id, id) up to that bound sees every event exactly once. The events stored before this
-- migration get 0 (older than any transaction); the constant default costs no rewrite.
ALTER TABLE events ADD COLUMN tx_id xid8 NOT NULL DEFAULT '0';
ALTER TABLE events ALTER COLUMN tx_id SET DEFAULT pg_current_xact_id();
CREATE INDEX events_commit_order ON events (tx_id, id);
