-- Evidence that is not a message (a line of an MTA's log) records events too: `origin` says
-- where an event came from, `origin_ref` identifies it when there is no message row.
ALTER TABLE events ALTER COLUMN message_id DROP NOT NULL;
ALTER TABLE events ADD COLUMN origin TEXT NOT NULL DEFAULT 'mail';
ALTER TABLE events ADD COLUMN origin_ref TEXT;
CREATE UNIQUE INDEX events_origin_ref ON events (origin_ref, idx) WHERE origin_ref IS NOT NULL;
