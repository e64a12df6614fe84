-- Admin API tokens: only a SHA-256 of each token is kept (shown once at creation). A revoked
-- token keeps its row (the audit log names it); names are unique among live tokens.
CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,                 -- admin | viewer | node
    token_hash TEXT NOT NULL UNIQUE,    -- hex SHA-256 of the token
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

-- Every write through the API or CLI is audited with what it changed (secrets masked).
ALTER TABLE audit_log ADD COLUMN before_state TEXT;
ALTER TABLE audit_log ADD COLUMN after_state TEXT;
CREATE INDEX audit_log_at ON audit_log (at, id);

-- API-managed mailboxes may hold their password, sealed with [secrets] key (XChaCha20-Poly1305).
ALTER TABLE mailboxes ADD COLUMN password_sealed TEXT;
