-- Alert counters: events per hour (of occurred_at, as the alert windows bucket them) under
-- every scope an alert rule can group by ('all', 'campaign', 'sending_domain',
-- 'recipient_domain', 'remote_mta', 'source'; '' when the event has no value), split by what
-- the criteria test (kind, classification, status, reason, rule). Kept in the transaction
-- that writes or reclassifies the events, so a rule over a week reads at most 168 hours of
-- its scope (a range of the primary key) instead of the week's events.
CREATE TABLE alert_counts (
    scope TEXT NOT NULL,
    scope_key TEXT NOT NULL,
    hour BIGINT NOT NULL,
    kind TEXT NOT NULL,
    classification TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    rule_key TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (scope, hour, scope_key, kind, classification, status, reason, rule_key)
) WITHOUT ROWID;

-- The events stored before this migration.
INSERT INTO alert_counts
SELECT s.scope, s.scope_key, s.hour, s.kind, s.classification, s.status, s.reason, s.rule_key, COUNT(*)
FROM (
    SELECT v.scope,
        COALESCE(CASE v.scope WHEN 'all' THEN '' WHEN 'campaign' THEN e.campaign_id
            WHEN 'sending_domain' THEN e.sending_domain WHEN 'recipient_domain' THEN e.recipient_domain
            WHEN 'remote_mta' THEN e.remote_mta ELSE e.source END, '') AS scope_key,
        CAST(strftime('%s', e.occurred_at) AS INTEGER) / 3600 AS hour,
        e.kind, e.classification, COALESCE(e.status, '') AS status, e.reason,
        COALESCE(e.rule_key, '') AS rule_key
    FROM events e
    CROSS JOIN (SELECT 'all' AS scope UNION ALL SELECT 'campaign' UNION ALL SELECT 'sending_domain'
        UNION ALL SELECT 'recipient_domain' UNION ALL SELECT 'remote_mta' UNION ALL SELECT 'source') v
) s
GROUP BY s.scope, s.hour, s.scope_key, s.kind, s.classification, s.status, s.reason, s.rule_key;
