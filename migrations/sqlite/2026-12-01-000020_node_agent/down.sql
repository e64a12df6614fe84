ALTER TABLE node_status DROP COLUMN rebuild;
ALTER TABLE api_tokens DROP COLUMN node;
