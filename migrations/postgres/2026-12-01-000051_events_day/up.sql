-- The web overview's chart: every campaign's events per day, read from this index alone.
CREATE INDEX events_day ON events ((occurred_at::date), kind, classification, permanent);
