-- The hot ingest events (`*.recorded`, `delivery.*`, and the `suppression.added` of a
-- recorded event) no longer store their JSON: `record_id` names the events row the payload
-- is rebuilt from at delivery (`payload` is then ''), and the fields of that row a
-- reclassification may change are kept as they were when the event was enqueued, so the
-- payload delivered is the one the committed fact had. Rows with a stored payload (every
-- other type) have `record_id` NULL.
ALTER TABLE notify_outbox ADD COLUMN record_id BIGINT;
ALTER TABLE notify_outbox ADD COLUMN classification TEXT;
ALTER TABLE notify_outbox ADD COLUMN rule_key TEXT;
ALTER TABLE notify_outbox ADD COLUMN reason TEXT;
-- The enqueue paid for this index on every event; the prune finds its bound by `id` instead.
DROP INDEX notify_outbox_created;
