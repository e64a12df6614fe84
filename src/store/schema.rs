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

diesel::table! {
    messages (id) {
        id -> BigInt,
        digest -> Text,
        kind -> Text,
        dialect -> Text,
        state -> Text,
        review_reason -> Nullable<Text>,
        subject -> Nullable<Text>,
        from_addr -> Nullable<Text>,
        message_id -> Nullable<Text>,
        size -> BigInt,
        raw -> Nullable<Binary>,
        records -> Integer,
        received_at -> Timestamp,
        purge_after -> Nullable<Timestamp>,
    }
}

diesel::table! {
    message_sources (source, source_id) {
        source -> Text,
        source_id -> Text,
        message_id -> BigInt,
        seen_at -> Timestamp,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        message_id -> Nullable<BigInt>,
        idx -> Integer,
        recipient -> Nullable<Text>,
        kind -> Text,
        classification -> Text,
        reason -> Text,
        parsed_reason -> Text,
        status -> Nullable<Text>,
        reply_code -> Nullable<Integer>,
        diagnostic -> Nullable<Text>,
        remote_mta -> Nullable<Text>,
        reporting_mta -> Nullable<Text>,
        rule_key -> Nullable<Text>,
        feedback_type -> Nullable<Text>,
        reporting_isp -> Nullable<Text>,
        campaign_id -> Nullable<Text>,
        attribution -> Text,
        sending_domain -> Nullable<Text>,
        source -> Text,
        dialect -> Text,
        occurred_at -> Timestamp,
        ingested_at -> Timestamp,
        origin -> Text,
        origin_ref -> Nullable<Text>,
        permanent -> Nullable<Integer>,
        /// The recipient's domain, computed by the database (a generated column: never written).
        recipient_domain -> Nullable<Text>,
    }
}

diesel::table! {
    campaigns (id) {
        id -> Text,
        hard -> BigInt,
        soft -> BigInt,
        complaints -> BigInt,
        ignored -> BigInt,
        first_event_at -> Nullable<Timestamp>,
        last_event_at -> Nullable<Timestamp>,
        failed_permanent -> BigInt,
        failed_temporary -> BigInt,
    }
}

diesel::table! {
    /// Messages in the sent map per campaign, kept by `record::sent`.
    campaign_sent (campaign_id) {
        campaign_id -> Text,
        sent -> BigInt,
    }
}

diesel::table! {
    /// A campaign's events per UTC day (`YYYY-MM-DD`), kept by `record::counters`.
    campaign_days (campaign_id, day) {
        campaign_id -> Text,
        day -> Text,
        failed_permanent -> BigInt,
        failed_temporary -> BigInt,
        hard -> BigInt,
        soft -> BigInt,
        complaints -> BigInt,
        ignored -> BigInt,
    }
}

diesel::table! {
    /// A campaign's bounces per status × recipient domain × remote MTA ('' for none).
    campaign_failures (campaign_id, status, domain, remote_mta) {
        campaign_id -> Text,
        status -> Text,
        domain -> Text,
        remote_mta -> Text,
        bounces -> BigInt,
        permanent -> BigInt,
    }
}

diesel::table! {
    sent_messages (message_id) {
        message_id -> Text,
        campaign_id -> Text,
        recipient -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    suppressions (address, scope) {
        address -> Text,
        scope -> Text,
        source -> Text,
        event_id -> Nullable<BigInt>,
        reason -> Nullable<Text>,
        note -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        /// The address's domain, computed by the database (a generated column: never written).
        domain -> Nullable<Text>,
    }
}

diesel::table! {
    suppression_changes (seq) {
        seq -> BigInt,
        address -> Text,
        scope -> Text,
        op -> Text,
        source -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    allowlist (entry) {
        entry -> Text,
        note -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        subject -> Text,
        detail -> Nullable<Text>,
        before_state -> Nullable<Text>,
        after_state -> Nullable<Text>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        name -> Text,
        role -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        node -> Nullable<Text>,
    }
}

diesel::table! {
    mailboxes (id) {
        id -> BigInt,
        name -> Text,
        source -> Text,
        config_file -> Nullable<Text>,
        settings -> Text,
        enabled -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        password_sealed -> Nullable<Text>,
        oauth2_client_secret_sealed -> Nullable<Text>,
        oauth2_refresh_token_sealed -> Nullable<Text>,
    }
}

diesel::table! {
    mailbox_status (mailbox_id) {
        mailbox_id -> BigInt,
        state -> Text,
        last_poll_at -> Nullable<Timestamp>,
        last_success_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        last_error_stage -> Nullable<Text>,
        consecutive_failures -> Integer,
        messages_processed -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    mailbox_checkpoints (mailbox_id, folder) {
        mailbox_id -> BigInt,
        folder -> Text,
        uidvalidity -> BigInt,
        last_uid -> BigInt,
    }
}

diesel::table! {
    nodes (id) {
        id -> BigInt,
        name -> Text,
        source -> Text,
        config_file -> Nullable<Text>,
        settings -> Text,
        enabled -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    node_status (node_id) {
        node_id -> BigInt,
        last_contact_at -> Nullable<Timestamp>,
        last_apply_at -> Nullable<Timestamp>,
        last_success_at -> Nullable<Timestamp>,
        applied_seq -> Nullable<BigInt>,
        entries -> Nullable<BigInt>,
        checksum -> Nullable<Text>,
        verified -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        last_error_at -> Nullable<Timestamp>,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        rebuild -> Integer,
    }
}

diesel::joinable!(events -> messages (message_id));
diesel::joinable!(message_sources -> messages (message_id));
diesel::joinable!(mailbox_status -> mailboxes (mailbox_id));
diesel::joinable!(mailbox_checkpoints -> mailboxes (mailbox_id));
diesel::table! {
    web_users (id) {
        id -> BigInt,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    web_sessions (id) {
        id -> BigInt,
        session_hash -> Text,
        csrf_token -> Text,
        user_id -> Nullable<BigInt>,
        token_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(web_sessions, web_users, api_tokens);
diesel::allow_tables_to_appear_in_same_query!(
    messages,
    message_sources,
    events,
    campaigns,
    sent_messages,
    campaign_sent,
    suppressions,
    suppression_changes,
    allowlist,
    audit_log,
    api_tokens,
    rules,
    meta,
    instances
);
diesel::allow_tables_to_appear_in_same_query!(mailboxes, mailbox_status, mailbox_checkpoints);
diesel::joinable!(node_status -> nodes (node_id));
diesel::allow_tables_to_appear_in_same_query!(nodes, node_status);

diesel::table! {
    webhooks (id) {
        id -> BigInt,
        name -> Text,
        source -> Text,
        config_file -> Nullable<Text>,
        settings -> Text,
        events -> Text,
        enabled -> Integer,
        state -> Text,
        failing_since -> Nullable<Timestamp>,
        last_success_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        last_error_at -> Nullable<Timestamp>,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    notify_outbox (id) {
        id -> BigInt,
        event_id -> Text,
        kind -> Text,
        campaign_id -> Nullable<Text>,
        sending_domain -> Nullable<Text>,
        payload -> Text,
        created_at -> Timestamp,
        fanned -> Integer,
        record_id -> Nullable<BigInt>,
        classification -> Nullable<Text>,
        rule_key -> Nullable<Text>,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    notify_deliveries (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        outbox_id -> BigInt,
        state -> Text,
        attempts -> Integer,
        next_at -> Timestamp,
        give_up_at -> Timestamp,
        created_at -> Timestamp,
        done_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    notify_attempts (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        event_ids -> Text,
        started_at -> Timestamp,
        status_code -> Nullable<Integer>,
        latency_ms -> BigInt,
        outcome -> Text,
        response_excerpt -> Nullable<Text>,
        error -> Nullable<Text>,
        instance_id -> Text,
    }
}

diesel::joinable!(notify_deliveries -> notify_outbox (outbox_id));
diesel::joinable!(notify_deliveries -> webhooks (webhook_id));
diesel::allow_tables_to_appear_in_same_query!(webhooks, notify_outbox, notify_deliveries, notify_attempts);

diesel::table! {
    alert_episodes (id) {
        id -> BigInt,
        rule -> Text,
        group_key -> Text,
        summary -> Text,
        fired_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        notified -> Nullable<Text>,
    }
}

diesel::table! {
    alert_rules (id) {
        id -> BigInt,
        name -> Text,
        source -> Text,
        config_file -> Nullable<Text>,
        settings -> Text,
        enabled -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    alert_counts (scope, hour, scope_key, kind, classification, status, reason, rule_key) {
        scope -> Text,
        scope_key -> Text,
        hour -> BigInt,
        kind -> Text,
        classification -> Text,
        status -> Text,
        reason -> Text,
        rule_key -> Text,
        n -> BigInt,
    }
}

diesel::table! {
    notify_leases (name) {
        name -> Text,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    log_checkpoints (source, file_key) {
        source -> Text,
        file_key -> Text,
        path -> Text,
        format -> Text,
        read_offset -> BigInt,
        line_no -> BigInt,
        join_state -> Text,
        tail -> Text,
        size -> BigInt,
        records -> BigInt,
        unreadable -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    event_provenance (event_id) {
        event_id -> BigInt,
        log_kind -> Text,
        mta_category -> Nullable<Text>,
        node -> Nullable<Text>,
        vmta -> Nullable<Text>,
        vmta_pool -> Nullable<Text>,
        source_ip -> Nullable<Text>,
        remote_host -> Nullable<Text>,
        remote_ip -> Nullable<Text>,
        queue_id -> Nullable<Text>,
        job_id -> Nullable<Text>,
        envelope_id -> Nullable<Text>,
        message_id -> Nullable<Text>,
        sender -> Nullable<Text>,
        file_key -> Text,
        line_no -> BigInt,
        byte_offset -> BigInt,
    }
}

diesel::joinable!(event_provenance -> events (event_id));
diesel::allow_tables_to_appear_in_same_query!(events, event_provenance);

diesel::table! {
    stats_counts (dim, campaign, span, bucket, dim_key) {
        dim -> Text,
        campaign -> Text,
        span -> Integer,
        bucket -> BigInt,
        dim_key -> Text,
        delivered -> BigInt,
        deferred -> BigInt,
        bounced -> BigInt,
        expired -> BigInt,
        hard -> BigInt,
        soft -> BigInt,
        complained -> BigInt,
        other -> BigInt,
    }
}

diesel::table! {
    /// Later sightings of an event from the other input (a log line for a mailed bounce, a
    /// message's record for a logged one), kept by `record::evidence`.
    event_evidence (id) {
        id -> BigInt,
        event_id -> BigInt,
        origin -> Text,
        source -> Text,
        message_id -> Nullable<BigInt>,
        idx -> Integer,
        origin_ref -> Nullable<Text>,
        status -> Nullable<Text>,
        diagnostic -> Nullable<Text>,
        occurred_at -> Timestamp,
        recorded_at -> Timestamp,
    }
}

diesel::joinable!(event_evidence -> events (event_id));
diesel::allow_tables_to_appear_in_same_query!(events, event_evidence);
diesel::allow_tables_to_appear_in_same_query!(messages, event_provenance);

diesel::table! {
    /// `[[mta_log]]` sources created through the admin API (`ingest::log_sources`).
    mta_log_sources (id) {
        id -> BigInt,
        name -> Text,
        settings -> Text,
        enabled -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}
