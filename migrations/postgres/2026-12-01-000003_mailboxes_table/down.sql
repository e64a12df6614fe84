-- Back to name-keyed tables. Rows of deleted mailboxes go; a name reused after a delete keeps
-- the live mailbox's history.
DELETE FROM mailbox_status s USING mailboxes m WHERE m.id = s.mailbox_id AND m.deleted_at IS NOT NULL;
ALTER TABLE mailbox_status ADD COLUMN name TEXT;
UPDATE mailbox_status s SET name = m.name FROM mailboxes m WHERE m.id = s.mailbox_id;
ALTER TABLE mailbox_status DROP CONSTRAINT mailbox_status_pkey;
ALTER TABLE mailbox_status DROP COLUMN mailbox_id;
ALTER TABLE mailbox_status ALTER COLUMN name SET NOT NULL;
ALTER TABLE mailbox_status ADD PRIMARY KEY (name);

DELETE FROM mailbox_checkpoints k USING mailboxes m WHERE m.id = k.mailbox_id AND m.deleted_at IS NOT NULL;
ALTER TABLE mailbox_checkpoints ADD COLUMN mailbox TEXT;
UPDATE mailbox_checkpoints k SET mailbox = m.name FROM mailboxes m WHERE m.id = k.mailbox_id;
ALTER TABLE mailbox_checkpoints DROP CONSTRAINT mailbox_checkpoints_pkey;
ALTER TABLE mailbox_checkpoints DROP COLUMN mailbox_id;
ALTER TABLE mailbox_checkpoints ALTER COLUMN mailbox SET NOT NULL;
ALTER TABLE mailbox_checkpoints ADD PRIMARY KEY (mailbox, folder);

UPDATE message_sources s SET source = m.name FROM mailboxes m
WHERE s.source = 'mailbox:' || m.id AND m.deleted_at IS NULL;
UPDATE events e SET source = m.name FROM mailboxes m
WHERE e.source = 'mailbox:' || m.id AND m.deleted_at IS NULL;

DELETE FROM meta WHERE key = 'mailboxes_version';
DROP TABLE mailboxes;
