-- The MTAs' own logs as a second input. `log_checkpoints`: where reading of one file of one
-- source stopped — its identity (device:inode, or a content fingerprint for a compressed
-- segment), the next byte, the line number and the join state of messages not finished yet
-- (JSON) — written in the transaction of the events it produced, so a restart neither loses
-- nor repeats a line. `size` is the file's length when last read (lag = size - read_offset).
CREATE TABLE log_checkpoints (
    source TEXT NOT NULL,
    file_key TEXT NOT NULL,
    path TEXT NOT NULL,
    format TEXT NOT NULL,
    read_offset BIGINT NOT NULL,
    line_no BIGINT NOT NULL,
    join_state TEXT NOT NULL,
    -- Digest of the last 1 KiB before read_offset: a file truncated and written again to the
    -- same length (copy-truncate) no longer matches it, and is read again from its start.
    tail TEXT NOT NULL,
    size BIGINT NOT NULL,
    records BIGINT NOT NULL,
    unreadable BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source, file_key)
);
-- What a logged attempt carries beyond the event's own columns: the MTA's kind (`expired` is
-- an event of kind bounce), where it went through and the ids it carried, and where in
-- which file it was logged.
CREATE TABLE event_provenance (
    event_id INTEGER PRIMARY KEY NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    log_kind TEXT NOT NULL,
    mta_category TEXT,
    node TEXT,
    vmta TEXT,
    vmta_pool TEXT,
    source_ip TEXT,
    remote_host TEXT,
    remote_ip TEXT,
    queue_id TEXT,
    job_id TEXT,
    envelope_id TEXT,
    message_id TEXT,
    sender TEXT,
    file_key TEXT NOT NULL,
    line_no BIGINT NOT NULL,
    byte_offset BIGINT NOT NULL
);
