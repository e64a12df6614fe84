DROP INDEX events_commit_order;
ALTER TABLE events DROP COLUMN tx_id;
