-- The admin API searches the suppression list by address prefix (the primary key serves it),
-- by receiving domain, by source and by scope, each page in address order: one index per
-- filter, led by the filter and ending in the page key, so a page reads only its rows.
-- Addresses and scopes compare byte by byte ("C"), as on SQLite: a prefix is then a range of
-- the primary key whatever the database's locale, and both backends page in the same order.
ALTER TABLE suppressions ALTER COLUMN address TYPE TEXT COLLATE "C", ALTER COLUMN scope TYPE TEXT COLLATE "C";
-- `domain` is computed from the address (never written by hand, so it cannot disagree).
ALTER TABLE suppressions ADD COLUMN domain TEXT COLLATE "C"
    GENERATED ALWAYS AS (substr(address, strpos(address, '@') + 1)) STORED;
CREATE INDEX suppressions_domain ON suppressions (domain, address, scope);
CREATE INDEX suppressions_source ON suppressions (source, address, scope);
CREATE INDEX suppressions_scope ON suppressions (scope, address);
