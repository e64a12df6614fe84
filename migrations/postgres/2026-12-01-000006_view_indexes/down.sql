ALTER TABLE campaigns DROP COLUMN failed_temporary;
ALTER TABLE campaigns DROP COLUMN failed_permanent;
DROP INDEX messages_review;
DROP INDEX suppressions_event;
DROP INDEX events_campaign_rule;
DROP INDEX events_campaign_reason;
DROP INDEX events_campaign_permanent;
DROP INDEX events_campaign_kind;
CREATE INDEX events_campaign_kind ON events (campaign_id, kind, occurred_at);
