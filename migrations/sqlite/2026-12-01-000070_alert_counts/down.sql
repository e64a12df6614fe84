DROP TABLE alert_counts;
