DROP INDEX events_campaign_groups;
DROP INDEX events_campaign_day;
