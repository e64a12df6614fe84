-- Back to name-keyed tables. Deleted mailboxes' rows go; a name reused after a delete keeps
-- the live mailbox's history.
CREATE TABLE mailbox_status_by_name (
    name TEXT PRIMARY KEY NOT NULL,
    state TEXT NOT NULL,
    last_poll_at TIMESTAMP,
    last_success_at TIMESTAMP,
    last_error TEXT,
    last_error_stage TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    messages_processed BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at TIMESTAMP
);
INSERT INTO mailbox_status_by_name
SELECT m.name, s.state, s.last_poll_at, s.last_success_at, s.last_error, s.last_error_stage,
       s.consecutive_failures, s.messages_processed, s.lease_owner, s.lease_expires_at
FROM mailbox_status s JOIN mailboxes m ON m.id = s.mailbox_id WHERE m.deleted_at IS NULL;
DROP TABLE mailbox_status;
ALTER TABLE mailbox_status_by_name RENAME TO mailbox_status;

CREATE TABLE mailbox_checkpoints_by_name (
    mailbox TEXT NOT NULL,
    folder TEXT NOT NULL,
    uidvalidity BIGINT NOT NULL,
    last_uid BIGINT NOT NULL,
    PRIMARY KEY (mailbox, folder)
);
INSERT INTO mailbox_checkpoints_by_name
SELECT m.name, k.folder, k.uidvalidity, k.last_uid
FROM mailbox_checkpoints k JOIN mailboxes m ON m.id = k.mailbox_id WHERE m.deleted_at IS NULL;
DROP TABLE mailbox_checkpoints;
ALTER TABLE mailbox_checkpoints_by_name RENAME TO mailbox_checkpoints;

UPDATE message_sources
SET source = (SELECT name FROM mailboxes m WHERE 'mailbox:' || m.id = message_sources.source AND m.deleted_at IS NULL)
WHERE source IN (SELECT 'mailbox:' || id FROM mailboxes WHERE deleted_at IS NULL);
UPDATE events
SET source = (SELECT name FROM mailboxes m WHERE 'mailbox:' || m.id = events.source AND m.deleted_at IS NULL)
WHERE source IN (SELECT 'mailbox:' || id FROM mailboxes WHERE deleted_at IS NULL);

DELETE FROM meta WHERE key = 'mailboxes_version';
DROP TABLE mailboxes;
