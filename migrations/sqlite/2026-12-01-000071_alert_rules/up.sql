-- Alert rules: `config` rows mirror the [[alert]] entries of the config file (upserted by
-- name at start, read-only through the API), `api` rows are managed through the admin API.
-- `settings` is the resolved rule as JSON; `enabled` the column (an API disable turns a
-- config rule off too). The evaluator reads the live rows each round and follows changes.
CREATE TABLE alert_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    config_file TEXT,
    settings TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE UNIQUE INDEX alert_rules_live_name ON alert_rules (name) WHERE deleted_at IS NULL;
