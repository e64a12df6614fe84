DROP INDEX events_campaign_status;
CREATE INDEX events_campaign_day ON events (campaign_id, substr(occurred_at, 1, 10), kind, classification, permanent);
CREATE INDEX events_campaign_groups ON events (campaign_id, kind, status, recipient_domain, remote_mta, permanent);
DROP TABLE campaign_failures;
DROP TABLE campaign_days;
