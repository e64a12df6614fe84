-- MTA log sources managed through the admin API (`[[mta_log]]` entries of the config file
-- are not stored here: they are read-only over the API). `settings` is the JSON of the
-- resolved entry; a deleted source keeps no row, its checkpoints and events stay.
CREATE TABLE mta_log_sources (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    settings TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
