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

diesel::table! {
    rules (key) {
        key -> Text,
        name -> Text,
        description -> Nullable<Text>,
        position -> Integer,
        enabled -> Integer,
        origin -> Text,
        conditions -> Text,
        outcome -> Text,
        reason -> Nullable<Text>,
        shipped_hash -> Nullable<Text>,
        hit_count -> BigInt,
        last_hit_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    meta (key) {
        key -> Text,
        value -> BigInt,
    }
}
