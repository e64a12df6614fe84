-- How many messages the sent map holds per campaign, kept by the sent-map import, so a
-- campaign's SUMMARY and the campaign list read one row instead of counting the map (which
-- holds every message a platform sent: millions).
CREATE TABLE campaign_sent (
    campaign_id TEXT PRIMARY KEY NOT NULL,
    sent BIGINT NOT NULL
);
INSERT INTO campaign_sent (campaign_id, sent)
    SELECT campaign_id, COUNT(*) FROM sent_messages GROUP BY campaign_id;
