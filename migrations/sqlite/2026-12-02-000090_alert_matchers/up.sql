-- Alert matchers: a count criterion of a day or more that tests the server's words (`text`)
-- cannot be answered from alert_counts (it does not keep them), so each such criterion gets
-- a matcher and its own hourly counts. `spec` is the criterion with its scope as JSON. The
-- write path tests every new event against every matcher once, in the events' transaction;
-- the events stored before the matcher (ids up to `until_id`) are read once by a back-fill
-- that walks ids from `next_id` (the first event of the window when the matcher was made)
-- and is done when `next_id` passes `until_id`. Until then the rule is not evaluated.
CREATE TABLE alert_matchers (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    spec TEXT NOT NULL UNIQUE,
    until_id BIGINT NOT NULL,
    next_id BIGINT NOT NULL,
    used_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Matching events per matcher, hour (of occurred_at) and scope key.
CREATE TABLE alert_matches (
    matcher_id BIGINT NOT NULL,
    hour BIGINT NOT NULL,
    scope_key TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (matcher_id, hour, scope_key)
) WITHOUT ROWID;
