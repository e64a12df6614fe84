-- Webhook endpoints: `config` rows mirror the [[webhook]] entries of the config file
-- (upserted by name at start), `api` rows are managed through the admin API. `events` is
-- the comma-joined list of event types taken ("*": all), read by the cheap check that skips
-- the outbox when no enabled endpoint wants an event. `state`: ok | retrying | failing |
-- gone (a 410 disabled it). The lease keeps two instances from delivering to one endpoint.
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    config_file TEXT,
    settings TEXT NOT NULL,
    events TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    state TEXT NOT NULL,
    failing_since TIMESTAMP,
    last_success_at TIMESTAMP,
    last_error TEXT,
    last_error_at TIMESTAMP,
    lease_owner TEXT,
    lease_expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE UNIQUE INDEX webhooks_live_name ON webhooks (name) WHERE deleted_at IS NULL;

-- The durable outbox: one row per event, written in the transaction of the fact it reports.
-- `fanned` 0 until the delivery worker made one delivery per endpoint that wants it.
CREATE TABLE notify_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    campaign_id TEXT,
    sending_domain TEXT,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    fanned INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX notify_outbox_unfanned ON notify_outbox (id) WHERE fanned = 0;
CREATE INDEX notify_outbox_created ON notify_outbox (created_at);

-- One event to one endpoint: pending until delivered (a 2xx) or dead (past the retry
-- horizon, or the endpoint is gone).
CREATE TABLE notify_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    webhook_id BIGINT NOT NULL REFERENCES webhooks (id),
    outbox_id BIGINT NOT NULL REFERENCES notify_outbox (id),
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at TIMESTAMP NOT NULL,
    give_up_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    done_at TIMESTAMP
);
CREATE INDEX notify_deliveries_due ON notify_deliveries (webhook_id, state, id);

-- Every POST made: which events it carried, what the receiver said and how fast.
CREATE TABLE notify_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    webhook_id BIGINT NOT NULL REFERENCES webhooks (id),
    event_ids TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    status_code INTEGER,
    latency_ms BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    response_excerpt TEXT,
    error TEXT,
    instance_id TEXT NOT NULL
);
CREATE INDEX notify_attempts_webhook ON notify_attempts (webhook_id, id);
