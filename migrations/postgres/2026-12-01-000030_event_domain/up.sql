-- The campaign views filter by recipient domain: a LIKE '%@domain' on the recipient reads
-- every row of the campaign's page order until enough match. `recipient_domain` is computed
-- from the recipient (never written by hand, so it cannot disagree; the part after the first
-- `@`, as `suppressions.domain`), and its index is the filter then the page order, like the
-- other view indexes: a domain page reads about as many index entries as it returns.
ALTER TABLE events ADD COLUMN recipient_domain TEXT
    GENERATED ALWAYS AS (substr(recipient, strpos(recipient, '@') + 1)) STORED;
CREATE INDEX events_campaign_domain ON events (campaign_id, kind, recipient_domain, occurred_at, id);
