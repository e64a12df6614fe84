-- The admin API searches the suppression list by address prefix (the primary key serves it),
-- by receiving domain, by source and by scope, each page in address order: one index per
-- filter, led by the filter and ending in the page key, so a page reads only its rows.
-- `domain` is computed from the address (never written by hand, so it cannot disagree).
ALTER TABLE suppressions ADD COLUMN domain TEXT GENERATED ALWAYS AS (substr(address, instr(address, '@') + 1)) VIRTUAL;
CREATE INDEX suppressions_domain ON suppressions (domain, address, scope);
CREATE INDEX suppressions_source ON suppressions (source, address, scope);
CREATE INDEX suppressions_scope ON suppressions (scope, address);
