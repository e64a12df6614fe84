DROP INDEX suppression_changes_at;
DELETE FROM meta WHERE key = 'sync_changes_floor';
DROP TABLE node_status;
DROP TABLE nodes;
