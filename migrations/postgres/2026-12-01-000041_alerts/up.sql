-- Alert episodes: one per (rule, group) from the evaluation that found its criteria held to
-- the one that found them cleared (resolved_at). `notified` says what each channel answered.
CREATE TABLE alert_episodes (
    id BIGSERIAL PRIMARY KEY,
    rule TEXT NOT NULL,
    group_key TEXT NOT NULL,
    summary TEXT NOT NULL,
    fired_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP,
    notified TEXT
);
CREATE INDEX alert_episodes_rule ON alert_episodes (rule, group_key, id);
CREATE INDEX alert_episodes_active ON alert_episodes (resolved_at, id);

-- Singleton leases (one instance does a piece of work at a time): the alert evaluator.
CREATE TABLE notify_leases (
    name TEXT PRIMARY KEY NOT NULL,
    lease_owner TEXT,
    lease_expires_at TIMESTAMP
);
INSERT INTO notify_leases (name) VALUES ('alerts');
