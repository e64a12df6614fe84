-- Per-mailbox status (the "Error column"), and the lease that lets one instance at a time
-- poll a mailbox when several share one database.
CREATE TABLE mailbox_status (
    name TEXT PRIMARY KEY NOT NULL,
    state TEXT NOT NULL,                -- ok | failing | disabled | new
    last_poll_at TIMESTAMP,
    last_success_at TIMESTAMP,
    last_error TEXT,
    last_error_stage TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    messages_processed BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at TIMESTAMP
);

-- IMAP: the last UID processed per folder, valid while UIDVALIDITY is unchanged.
CREATE TABLE mailbox_checkpoints (
    mailbox TEXT NOT NULL,
    folder TEXT NOT NULL,
    uidvalidity BIGINT NOT NULL,
    last_uid BIGINT NOT NULL,
    PRIMARY KEY (mailbox, folder)
);
