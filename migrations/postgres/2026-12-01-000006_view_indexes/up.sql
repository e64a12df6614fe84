-- The campaign views read keyset pages newest first, `(occurred_at, id)` descending, with
-- optional filters: each index is an equality prefix the filters fix, then the page order,
-- so a page (first, deep or filtered) reads about as many index entries as it returns.
DROP INDEX events_campaign_kind;
CREATE INDEX events_campaign_kind ON events (campaign_id, kind, occurred_at, id);
CREATE INDEX events_campaign_permanent ON events (campaign_id, kind, permanent, occurred_at, id);
CREATE INDEX events_campaign_reason ON events (campaign_id, kind, reason, occurred_at, id);
CREATE INDEX events_campaign_rule ON events (campaign_id, kind, rule_key, occurred_at, id);

-- Every stored bounce says whether it was permanent (the filter `type` reads only this
-- column): the few rows neither their status nor their reply code told take the side the
-- view already showed for them, their classification's.
UPDATE events SET permanent = CASE WHEN classification = 'hard' THEN 1 ELSE 0 END
    WHERE permanent IS NULL AND kind = 'bounce';

-- The BOUNCED view's `action` column: which events are a suppression's evidence.
CREATE INDEX suppressions_event ON suppressions (event_id) WHERE event_id IS NOT NULL;

-- The review queue in id order.
CREATE INDEX messages_review ON messages (state, id);

-- Failed deliveries by what the server said, counted like the others, so listing campaigns
-- does not count their events.
ALTER TABLE campaigns ADD COLUMN failed_permanent BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN failed_temporary BIGINT NOT NULL DEFAULT 0;
UPDATE campaigns SET
    failed_permanent = (SELECT COUNT(*) FROM events e
        WHERE e.campaign_id = campaigns.id AND e.kind = 'bounce' AND e.permanent = 1),
    failed_temporary = (SELECT COUNT(*) FROM events e
        WHERE e.campaign_id = campaigns.id AND e.kind = 'bounce' AND e.permanent = 0);
