CREATE INDEX suppressions_in_key_order ON suppressions (address, scope)
    INCLUDE (source, event_id, reason, note, created_at, expires_at);
ALTER TABLE suppressions DROP CONSTRAINT suppressions_pkey;
ALTER TABLE suppressions ADD CONSTRAINT suppressions_pkey PRIMARY KEY (address, scope);
