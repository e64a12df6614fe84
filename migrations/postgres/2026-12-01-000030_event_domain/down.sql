DROP INDEX events_campaign_domain;
ALTER TABLE events DROP COLUMN recipient_domain;
