ALTER TABLE events DROP COLUMN permanent;
