-- Delivery statistics, pre-aggregated: what the stats API, `rebound stats` and the /stats page
-- read instead of the events (a query over ten million events reads thousands of rows).
-- Kept by record::stats in the transaction that writes or reclassifies the events.
--
-- Why a table of its own: `alert_counts` splits every cell by status × reason × rule (what
-- alert criteria test), so a per-domain figure would read tens of rows per domain and hour;
-- `campaign_days` has no dimensions. Why this shape: one wide row per cell (the outcomes as
-- columns, not rows) and one narrow key per dimension group (`dim`, `dim_key`) instead of
-- one row per combination of every dimension, which would be about one row per event.
--
-- dim: 'all' (dim_key ''), 'domain' (recipient domain), 'remote_host', 'sender' (sending
--   domain), 'node', 'vmta', 'source_ip', 'status' (status code, else reply code), 'reason'
--   (the parser's reason) and 'why' (bounces only: status, domain, node and source IP joined
--   by U+001F). '' stands for a value the event did not have.
-- campaign: '*' counts every event; an event with a campaign is counted again under its id.
-- span/bucket: hours since 1970-01-01 UTC; span 1 is one hour, span 24 one UTC day (bucket
--   a multiple of 24). 'all' is kept per hour only (for month/day/weekday/hour in any
--   offset); the other dimensions per hour and per day, so a range reads its whole days from
--   day rows and only its first and last partial days from hour rows.
-- hard/soft: of the bounced and expired ones, as the rules classify them now.
CREATE TABLE stats_counts (
    dim TEXT NOT NULL,
    campaign TEXT NOT NULL,
    span INTEGER NOT NULL,
    bucket BIGINT NOT NULL,
    dim_key TEXT NOT NULL,
    delivered BIGINT NOT NULL DEFAULT 0,
    deferred BIGINT NOT NULL DEFAULT 0,
    bounced BIGINT NOT NULL DEFAULT 0,
    expired BIGINT NOT NULL DEFAULT 0,
    hard BIGINT NOT NULL DEFAULT 0,
    soft BIGINT NOT NULL DEFAULT 0,
    complained BIGINT NOT NULL DEFAULT 0,
    other BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (dim, campaign, span, bucket, dim_key)
) WITHOUT ROWID;

-- backfill: the events stored before this migration (record::stats::rebuild runs this text).
INSERT INTO stats_counts (dim, campaign, span, bucket, dim_key, delivered, deferred, bounced, expired, hard, soft, complained, other)
SELECT d.dim, CASE WHEN k.own = 1 THEN x.campaign_id ELSE '*' END, s.span, (x.hour / s.span) * s.span,
    CASE d.dim WHEN 'all' THEN '' WHEN 'domain' THEN x.domain WHEN 'remote_host' THEN x.remote_host
        WHEN 'sender' THEN x.sender WHEN 'node' THEN x.node WHEN 'vmta' THEN x.vmta
        WHEN 'source_ip' THEN x.source_ip WHEN 'status' THEN x.status WHEN 'reason' THEN x.reason
        ELSE x.status || char(31) || x.domain || char(31) || x.node || char(31) || x.source_ip END,
    SUM(x.delivered), SUM(x.deferred), SUM(x.bounced), SUM(x.expired), SUM(x.hard), SUM(x.soft),
    SUM(x.complained), SUM(x.other)
FROM (
    SELECT e.campaign_id, CAST(strftime('%s', e.occurred_at) AS INTEGER) / 3600 AS hour,
        CASE WHEN e.kind = 'delivered' THEN 1 ELSE 0 END AS delivered,
        CASE WHEN e.kind = 'delay' THEN 1 ELSE 0 END AS deferred,
        CASE WHEN e.kind = 'bounce' AND COALESCE(p.log_kind, '') <> 'expired' THEN 1 ELSE 0 END AS bounced,
        CASE WHEN e.kind = 'bounce' AND p.log_kind = 'expired' THEN 1 ELSE 0 END AS expired,
        CASE WHEN e.kind = 'bounce' AND e.classification = 'hard' THEN 1 ELSE 0 END AS hard,
        CASE WHEN e.kind = 'bounce' AND e.classification = 'soft' THEN 1 ELSE 0 END AS soft,
        CASE WHEN e.kind = 'complaint' THEN 1 ELSE 0 END AS complained,
        CASE WHEN e.kind IN ('delivered', 'delay', 'bounce', 'complaint') THEN 0 ELSE 1 END AS other,
        COALESCE(e.recipient_domain, '') AS domain, COALESCE(e.remote_mta, '') AS remote_host,
        COALESCE(e.sending_domain, '') AS sender, COALESCE(p.node, '') AS node, COALESCE(p.vmta, '') AS vmta,
        COALESCE(p.source_ip, '') AS source_ip, COALESCE(e.status, CAST(e.reply_code AS TEXT), '') AS status,
        e.parsed_reason AS reason
    FROM events e LEFT JOIN event_provenance p ON p.event_id = e.id
) x
CROSS JOIN (SELECT 'all' AS dim UNION ALL SELECT 'domain' UNION ALL SELECT 'remote_host' UNION ALL SELECT 'sender'
    UNION ALL SELECT 'node' UNION ALL SELECT 'vmta' UNION ALL SELECT 'source_ip' UNION ALL SELECT 'status'
    UNION ALL SELECT 'reason' UNION ALL SELECT 'why') d
CROSS JOIN (SELECT 1 AS span UNION ALL SELECT 24) s
CROSS JOIN (SELECT 0 AS own UNION ALL SELECT 1) k
WHERE (k.own = 0 OR x.campaign_id IS NOT NULL) AND (d.dim <> 'all' OR s.span = 1)
    AND (d.dim <> 'why' OR x.bounced + x.expired > 0)
GROUP BY d.dim, CASE WHEN k.own = 1 THEN x.campaign_id ELSE '*' END, s.span, (x.hour / s.span) * s.span,
    CASE d.dim WHEN 'all' THEN '' WHEN 'domain' THEN x.domain WHEN 'remote_host' THEN x.remote_host
        WHEN 'sender' THEN x.sender WHEN 'node' THEN x.node WHEN 'vmta' THEN x.vmta
        WHEN 'source_ip' THEN x.source_ip WHEN 'status' THEN x.status WHEN 'reason' THEN x.reason
        ELSE x.status || char(31) || x.domain || char(31) || x.node || char(31) || x.source_ip END;
