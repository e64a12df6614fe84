DROP TABLE alert_matches;
DROP TABLE alert_matchers;
