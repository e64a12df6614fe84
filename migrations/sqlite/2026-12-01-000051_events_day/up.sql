-- The web overview's chart: every campaign's events per day, read from this index alone.
CREATE INDEX events_day ON events (substr(occurred_at, 1, 10), kind, classification, permanent);
