-- Undelivered events without a stored payload would be sent empty after this: deliver them
-- (or let them go dead) before going back.
CREATE INDEX notify_outbox_created ON notify_outbox (created_at);
ALTER TABLE notify_outbox DROP COLUMN reason;
ALTER TABLE notify_outbox DROP COLUMN rule_key;
ALTER TABLE notify_outbox DROP COLUMN classification;
ALTER TABLE notify_outbox DROP COLUMN record_id;
