-- The message ledger: one row per distinct message (by content digest), with its raw
-- bytes while retention lasts or while it waits for review.
CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    dialect TEXT NOT NULL,
    state TEXT NOT NULL,            -- processed | review
    review_reason TEXT,
    subject TEXT,
    from_addr TEXT,
    message_id TEXT,
    size BIGINT NOT NULL,
    raw BYTEA,
    records INTEGER NOT NULL,
    received_at TIMESTAMP NOT NULL,
    purge_after TIMESTAMP
);
CREATE INDEX messages_state ON messages (state, received_at);
CREATE INDEX messages_purge ON messages (purge_after);

-- Every place a message was seen (mailbox + UIDVALIDITY:UID or UIDL, or a file path): the
-- same message met again anywhere is recognised here, and a mailbox may delete it.
CREATE TABLE message_sources (
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    seen_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source, source_id)
);
CREATE INDEX message_sources_message ON message_sources (message_id);

-- One row per parsed record (recipient) of a message.
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    recipient TEXT,
    kind TEXT NOT NULL,
    classification TEXT NOT NULL,   -- hard | soft | ignore | complaint
    reason TEXT NOT NULL,
    parsed_reason TEXT NOT NULL,   -- the parser's, before any rule override
    status TEXT,
    reply_code INTEGER,
    diagnostic TEXT,
    remote_mta TEXT,
    reporting_mta TEXT,
    rule_key TEXT,
    feedback_type TEXT,
    reporting_isp TEXT,
    campaign_id TEXT,
    attribution TEXT NOT NULL,      -- verp | header | message_id | none
    sending_domain TEXT,
    source TEXT NOT NULL,
    dialect TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    ingested_at TIMESTAMP NOT NULL,
    UNIQUE (message_id, idx)
);
CREATE INDEX events_campaign ON events (campaign_id, classification, occurred_at);
CREATE INDEX events_campaign_kind ON events (campaign_id, kind, occurred_at);
CREATE INDEX events_recipient ON events (recipient, occurred_at);
CREATE INDEX events_ingested ON events (ingested_at);

-- Per-campaign counters, kept in the same transaction as the events.
CREATE TABLE campaigns (
    id TEXT PRIMARY KEY NOT NULL,
    hard BIGINT NOT NULL DEFAULT 0,
    soft BIGINT NOT NULL DEFAULT 0,
    complaints BIGINT NOT NULL DEFAULT 0,
    ignored BIGINT NOT NULL DEFAULT 0,
    first_event_at TIMESTAMP,
    last_event_at TIMESTAMP
);

-- Messages the sender sent, to attribute bounces by the original Message-ID.
CREATE TABLE sent_messages (
    message_id TEXT PRIMARY KEY NOT NULL,
    campaign_id TEXT NOT NULL,
    recipient TEXT,
    sent_at TIMESTAMP
);
CREATE INDEX sent_messages_campaign ON sent_messages (campaign_id);

-- Addresses never to mail again, per scope ('global' or a sending domain).
CREATE TABLE suppressions (
    address TEXT NOT NULL,
    scope TEXT NOT NULL,
    source TEXT NOT NULL,           -- hard_bounce | fbl_complaint | soft_threshold | manual | import
    event_id BIGINT,
    reason TEXT,
    note TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    PRIMARY KEY (address, scope)
);
CREATE INDEX suppressions_created ON suppressions (created_at);

-- The ordered log of suppression changes that sync ships to the sending nodes.
CREATE TABLE suppression_changes (
    seq BIGSERIAL PRIMARY KEY,
    address TEXT NOT NULL,
    scope TEXT NOT NULL,
    op TEXT NOT NULL,               -- add | remove
    source TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);

-- Addresses and domains that are never suppressed.
CREATE TABLE allowlist (
    entry TEXT PRIMARY KEY NOT NULL,
    note TEXT,
    created_at TIMESTAMP NOT NULL
);

-- Who changed what by hand (manual suppression, allowlist, reclassification releases).
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT
);
