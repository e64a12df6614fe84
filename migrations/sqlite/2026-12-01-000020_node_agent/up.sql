-- Node agents pull the list over the admin API with `node` tokens: a token may be bound to
-- one node (by name; NULL: it names the node on each call).
ALTER TABLE api_tokens ADD COLUMN node TEXT;
-- Set when an agent reported a checksum that differs from the set it should hold: its next
-- sync call is told to take a fresh snapshot. Cleared when a snapshot is served.
ALTER TABLE node_status ADD COLUMN rebuild INTEGER NOT NULL DEFAULT 0;
