DROP INDEX events_origin_ref;
DELETE FROM events WHERE message_id IS NULL;
ALTER TABLE events DROP COLUMN origin_ref;
ALTER TABLE events DROP COLUMN origin;
ALTER TABLE events ALTER COLUMN message_id SET NOT NULL;
