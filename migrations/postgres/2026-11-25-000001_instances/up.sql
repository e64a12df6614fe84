-- Running rebound processes; their heartbeat lets others see which are alive.
CREATE TABLE instances (
    id TEXT PRIMARY KEY NOT NULL,
    hostname TEXT NOT NULL,
    pid BIGINT NOT NULL,
    version TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL
);
