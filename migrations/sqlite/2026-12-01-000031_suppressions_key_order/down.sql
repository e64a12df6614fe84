-- Back to a rowid table (the rows as they are).
CREATE TABLE suppressions_new (
    address TEXT NOT NULL,
    scope TEXT NOT NULL,
    source TEXT NOT NULL,           -- hard_bounce | fbl_complaint | soft_threshold | manual | import
    event_id BIGINT,
    reason TEXT,
    note TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    domain TEXT GENERATED ALWAYS AS (substr(address, instr(address, '@') + 1)) VIRTUAL,
    PRIMARY KEY (address, scope)
);
INSERT INTO suppressions_new (address, scope, source, event_id, reason, note, created_at, expires_at)
    SELECT address, scope, source, event_id, reason, note, created_at, expires_at FROM suppressions
    ORDER BY address, scope;
DROP TABLE suppressions;
ALTER TABLE suppressions_new RENAME TO suppressions;
CREATE INDEX suppressions_created ON suppressions (created_at);
CREATE INDEX suppressions_event ON suppressions (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX suppressions_domain ON suppressions (domain, address, scope);
CREATE INDEX suppressions_source ON suppressions (source, address, scope);
CREATE INDEX suppressions_scope ON suppressions (scope, address);
