DROP INDEX suppressions_scope;
DROP INDEX suppressions_source;
DROP INDEX suppressions_domain;
ALTER TABLE suppressions DROP COLUMN domain;
