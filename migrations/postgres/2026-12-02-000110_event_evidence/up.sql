-- A bounce seen both in an MTA's log and in a mailbox (same kind, campaign, recipient and
-- status within `[attribution] same_event_window_hours`) is one event: the first to arrive.
-- Every later sighting from the other input is kept here as evidence of that event — a
-- message's record (message_id, idx) or a log line (origin_ref) — and counts nothing again.
CREATE TABLE event_evidence (
    id BIGSERIAL PRIMARY KEY,
    event_id BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    origin TEXT NOT NULL,
    source TEXT NOT NULL,
    message_id BIGINT REFERENCES messages (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    origin_ref TEXT,
    status TEXT,
    diagnostic TEXT,
    occurred_at TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX event_evidence_event ON event_evidence (event_id, origin);
CREATE UNIQUE INDEX event_evidence_message ON event_evidence (message_id, idx) WHERE message_id IS NOT NULL;
CREATE UNIQUE INDEX event_evidence_origin_ref ON event_evidence (origin_ref) WHERE origin_ref IS NOT NULL;
