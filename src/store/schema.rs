//! Table definitions shared by both backends (kept in step with `migrations/`).

diesel::table! {
    instances (id) {
        id -> Text,
        hostname -> Text,
        pid -> BigInt,
        version -> Text,
        started_at -> Timestamp,
        heartbeat_at -> Timestamp,
    }
}
