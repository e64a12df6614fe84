-- Mailboxes become data: each has a stable id, so renaming one keeps its status, checkpoints
-- and ledger. `config` rows mirror the [[mailbox]] entries of the config file (upserted by
-- name at `serve` start); `api` rows are managed through the admin API. A deleted mailbox
-- keeps its row (deleted_at set) so its history still has an owner.
CREATE TABLE mailboxes (
    id BIGSERIAL PRIMARY KEY,
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
SELECT name, 'config', '{}', 1, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC' FROM (
    SELECT name FROM mailbox_status
    UNION SELECT mailbox FROM mailbox_checkpoints
    UNION SELECT source FROM message_sources WHERE source <> 'file'
) known ORDER BY name;

-- Ledger identities and event sources name the mailbox by id (`mailbox:<id>`); imports stay `file`.
UPDATE message_sources s SET source = 'mailbox:' || m.id FROM mailboxes m WHERE m.name = s.source;
UPDATE events e SET source = 'mailbox:' || m.id FROM mailboxes m WHERE m.name = e.source;

ALTER TABLE mailbox_status ADD COLUMN mailbox_id BIGINT REFERENCES mailboxes (id);
UPDATE mailbox_status s SET mailbox_id = m.id FROM mailboxes m WHERE m.name = s.name;
ALTER TABLE mailbox_status DROP CONSTRAINT mailbox_status_pkey;
ALTER TABLE mailbox_status DROP COLUMN name;
ALTER TABLE mailbox_status ALTER COLUMN mailbox_id SET NOT NULL;
ALTER TABLE mailbox_status ADD PRIMARY KEY (mailbox_id);

ALTER TABLE mailbox_checkpoints ADD COLUMN mailbox_id BIGINT REFERENCES mailboxes (id);
UPDATE mailbox_checkpoints k SET mailbox_id = m.id FROM mailboxes m WHERE m.name = k.mailbox;
ALTER TABLE mailbox_checkpoints DROP CONSTRAINT mailbox_checkpoints_pkey;
ALTER TABLE mailbox_checkpoints DROP COLUMN mailbox;
ALTER TABLE mailbox_checkpoints ALTER COLUMN mailbox_id SET NOT NULL;
ALTER TABLE mailbox_checkpoints ADD PRIMARY KEY (mailbox_id, folder);

-- Bumped on every change to `mailboxes`: each running `serve` reloads its jobs when it moves.
INSERT INTO meta (key, value) VALUES ('mailboxes_version', 1);
