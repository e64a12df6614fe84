ALTER TABLE mailboxes DROP COLUMN password_sealed;
DROP INDEX audit_log_at;
ALTER TABLE audit_log DROP COLUMN after_state;
ALTER TABLE audit_log DROP COLUMN before_state;
DROP TABLE api_tokens;
