-- The ordered rule list (first enabled match wins; the Global rule is last).
CREATE TABLE rules (
    key TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    position INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    origin TEXT NOT NULL,
    conditions TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    -- content hash of the shipped version this row last took from the library (default rules)
    shipped_hash TEXT,
    hit_count BIGINT NOT NULL DEFAULT 0,
    last_hit_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX rules_position ON rules (position);

-- Small named counters; rules_version changes whenever the rule list does, so every
-- instance knows when to rebuild its compiled engine.
CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
