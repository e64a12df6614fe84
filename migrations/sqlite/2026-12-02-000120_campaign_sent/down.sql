DROP TABLE campaign_sent;
