-- Evidence that is not a message (a line of an MTA's log) records events too: `origin` says
-- where an event came from, `origin_ref` identifies it when there is no message row.
-- SQLite cannot drop a NOT NULL constraint, so the table is rebuilt.
CREATE TABLE events_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    message_id BIGINT REFERENCES messages (id) ON DELETE CASCADE,
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
    origin TEXT NOT NULL DEFAULT 'mail',   -- mail | log
    origin_ref TEXT,
    UNIQUE (message_id, idx)
);
INSERT INTO events_new (id, message_id, idx, recipient, kind, classification, reason, parsed_reason, status, reply_code, diagnostic, remote_mta, reporting_mta, rule_key, feedback_type, reporting_isp, campaign_id, attribution, sending_domain, source, dialect, occurred_at, ingested_at) SELECT id, message_id, idx, recipient, kind, classification, reason, parsed_reason, status, reply_code, diagnostic, remote_mta, reporting_mta, rule_key, feedback_type, reporting_isp, campaign_id, attribution, sending_domain, source, dialect, occurred_at, ingested_at FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_campaign ON events (campaign_id, classification, occurred_at);
CREATE INDEX events_campaign_kind ON events (campaign_id, kind, occurred_at);
CREATE INDEX events_recipient ON events (recipient, occurred_at);
CREATE INDEX events_ingested ON events (ingested_at);
CREATE UNIQUE INDEX events_origin_ref ON events (origin_ref, idx) WHERE origin_ref IS NOT NULL;
