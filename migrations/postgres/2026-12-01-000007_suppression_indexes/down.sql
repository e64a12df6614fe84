DROP INDEX suppressions_scope;
DROP INDEX suppressions_source;
DROP INDEX suppressions_domain;
ALTER TABLE suppressions DROP COLUMN domain;
ALTER TABLE suppressions ALTER COLUMN address TYPE TEXT COLLATE "default", ALTER COLUMN scope TYPE TEXT COLLATE "default";
