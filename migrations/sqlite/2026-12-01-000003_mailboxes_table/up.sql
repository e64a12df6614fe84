-- Mailboxes become data: each has a stable id, so renaming one keeps its status, checkpoints
-- and ledger. `config` rows mirror the [[mailbox]] entries of the config file (upserted by
-- name at `serve` start); `api` rows are managed through the admin API. A deleted mailbox
-- keeps its row (deleted_at set) so its history still has an owner.
CREATE TABLE mailboxes (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,               -- config | api
    config_file TEXT,                   -- config: the file it came from (named when an API write is refused)
    settings TEXT NOT NULL,             -- JSON: the [[mailbox]] keys but name and enabled; never a password
    enabled INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
-- Names are unique among live mailboxes; a deleted one's name may be taken again (by a new id).
CREATE UNIQUE INDEX mailboxes_live_name ON mailboxes (name) WHERE deleted_at IS NULL;

-- Every mailbox name the old name-keyed tables know becomes a config mailbox. Its settings
-- are filled from the config file at the next start, or it is marked deleted there when the
-- file no longer has it.
INSERT INTO mailboxes (name, source, settings, enabled, created_at, updated_at)
SELECT name, 'config', '{}', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM (
    SELECT name FROM mailbox_status
    UNION SELECT mailbox FROM mailbox_checkpoints
    UNION SELECT source FROM message_sources WHERE source <> 'file'
) ORDER BY name;

-- Ledger identities and event sources name the mailbox by id (`mailbox:<id>`); imports stay `file`.
UPDATE message_sources
SET source = 'mailbox:' || (SELECT id FROM mailboxes m WHERE m.name = message_sources.source)
WHERE source IN (SELECT name FROM mailboxes);
UPDATE events
SET source = 'mailbox:' || (SELECT id FROM mailboxes m WHERE m.name = events.source)
WHERE source IN (SELECT name FROM mailboxes);

CREATE TABLE mailbox_status_by_id (
    mailbox_id BIGINT PRIMARY KEY NOT NULL REFERENCES mailboxes (id),
    state TEXT NOT NULL,                -- ok | failing | disabled | new
    last_poll_at TIMESTAMP,
    last_success_at TIMESTAMP,
    last_error TEXT,
    last_error_stage TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    messages_processed BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at TIMESTAMP
);
INSERT INTO mailbox_status_by_id
SELECT m.id, s.state, s.last_poll_at, s.last_success_at, s.last_error, s.last_error_stage,
       s.consecutive_failures, s.messages_processed, s.lease_owner, s.lease_expires_at
FROM mailbox_status s JOIN mailboxes m ON m.name = s.name;
DROP TABLE mailbox_status;
ALTER TABLE mailbox_status_by_id RENAME TO mailbox_status;

CREATE TABLE mailbox_checkpoints_by_id (
    mailbox_id BIGINT NOT NULL REFERENCES mailboxes (id),
    folder TEXT NOT NULL,
    uidvalidity BIGINT NOT NULL,
    last_uid BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, folder)
);
INSERT INTO mailbox_checkpoints_by_id
SELECT m.id, k.folder, k.uidvalidity, k.last_uid
FROM mailbox_checkpoints k JOIN mailboxes m ON m.name = k.mailbox;
DROP TABLE mailbox_checkpoints;
ALTER TABLE mailbox_checkpoints_by_id RENAME TO mailbox_checkpoints;

-- Bumped on every change to `mailboxes`: each running `serve` reloads its jobs when it moves.
INSERT INTO meta (key, value) VALUES ('mailboxes_version', 1);
