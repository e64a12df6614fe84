-- A campaign's report groups every one of its events by day and its bounces by status ×
-- domain × remote MTA. Read from the table, that is a million wide rows and a sort for a
-- million-event campaign (seconds); each index below holds the groups' columns in group
-- order after the campaign, so each statement reads one index range in order and adds up
-- as it goes (about a tenth of a second per million events), at the cost of two more
-- index entries per event written.
CREATE INDEX events_campaign_day ON events (campaign_id, substr(occurred_at, 1, 10), kind, classification, permanent);
CREATE INDEX events_campaign_groups ON events (campaign_id, kind, status, recipient_domain, remote_mta, permanent);
