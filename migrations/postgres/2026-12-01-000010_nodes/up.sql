-- Sending nodes that take the suppression list. `config` rows mirror the [[node]] entries of
-- the config file (upserted by name at start); `api` rows will be managed through the admin
-- API. A deleted node keeps its row (deleted_at set) so its status history has an owner.
CREATE TABLE nodes (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT NOT NULL,               -- config | api
    config_file TEXT,                   -- config: the file it came from
    settings TEXT NOT NULL,             -- JSON: the [[node]] keys
    enabled INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE UNIQUE INDEX nodes_live_name ON nodes (name) WHERE deleted_at IS NULL;

-- Where each node stands: what it holds (seq of the change log it is current to, entry count
-- and order-independent checksum), whether that was verified, and the last error. The lease
-- keeps two instances from rendering one node at once.
CREATE TABLE node_status (
    node_id BIGINT PRIMARY KEY NOT NULL REFERENCES nodes (id),
    last_contact_at TIMESTAMP,
    last_apply_at TIMESTAMP,
    last_success_at TIMESTAMP,
    applied_seq BIGINT,
    entries BIGINT,
    checksum TEXT,
    verified INTEGER,
    last_error TEXT,
    last_error_at TIMESTAMP,
    lease_owner TEXT,
    lease_expires_at TIMESTAMP
);

-- The change log's low-water mark: changes up to it were compacted away.
INSERT INTO meta (key, value) VALUES ('sync_changes_floor', 0);
CREATE INDEX suppression_changes_at ON suppression_changes (at);
