//! The diesel schema, one for both backends: only SQL types that PostgreSQL and SQLite share
//! (Text, BigInt, Integer, Double, Bool, Timestamp) so every query compiles for both.

diesel::table! {
    org_units (code) {
        code -> Text,
        name -> Text,
        level -> Text,
        parent_code -> Nullable<Text>,
        path -> Text,
        lat -> Nullable<Double>,
        lon -> Nullable<Double>,
    }
}

diesel::table! {
    households (household_code) {
        household_code -> Text,
        village_code -> Text,
        head_name -> Text,
        head_id_number -> Text,
        member_count -> Integer,
        imported_at -> Timestamp,
        head_id_hmac -> Nullable<Text>,
        head_name_hmac -> Nullable<Text>,
        enrolment -> Nullable<Text>,
        special_groups -> Nullable<Text>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        display_name -> Nullable<Text>,
        role -> Text,
        org_code -> Text,
        password_hash -> Text,
        active -> Bool,
        created_at -> Timestamp,
        person_hmac -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        family -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    signing_keys (key_id) {
        key_id -> Text,
        user_id -> Text,
        public_key -> Text,
        enrolled_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    submissions (id) {
        id -> Text,
        household_code -> Text,
        village_code -> Text,
        surveyor_id -> Text,
        content_digest -> Text,
        document -> Text,
        status -> Text,
        received_at -> Timestamp,
        processed_at -> Nullable<Timestamp>,
        request_id -> Nullable<Text>,
        supersedes -> Nullable<Text>,
        signer_key_id -> Nullable<Text>,
        outcome -> Nullable<Text>,
        rejections -> Text,
        flags -> Text,
        superseded_by -> Nullable<Text>,
    }
}

diesel::table! {
    submission_attention (submission_id) {
        submission_id -> Text,
        reason -> Text,
        since -> Timestamp,
    }
}

diesel::table! {
    attention_log (id) {
        id -> BigInt,
        submission_id -> Text,
        at -> Timestamp,
        event -> Text,
        reason -> Nullable<Text>,
        actor -> Text,
    }
}

diesel::table! {
    submission_outcomes (submission_id) {
        submission_id -> Text,
        meets_standard -> Bool,
        review_due_at -> Timestamp,
        review_level -> Text,
    }
}

diesel::table! {
    person_index (household_code, member_index) {
        id_hmac -> Text,
        household_code -> Text,
        submission_id -> Text,
        member_index -> Integer,
    }
}

diesel::table! {
    clues (id) {
        id -> Text,
        household_code -> Nullable<Text>,
        village_code -> Nullable<Text>,
        township_code -> Nullable<Text>,
        submission_id -> Nullable<Text>,
        kind -> Text,
        detail -> Text,
        status -> Text,
        opened_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        closed_by -> Nullable<Text>,
        closed_by_submission -> Nullable<Text>,
        close_reason -> Nullable<Text>,
        source -> Text,
        severity -> Nullable<Text>,
        org_code -> Text,
        confirm_org -> Text,
        place_path -> Text,
        description -> Text,
        evidence -> Text,
        source_ref -> Text,
        deadline -> Nullable<Timestamp>,
        raised_by -> Nullable<Text>,
        dedup_key -> Nullable<Text>,
        rectification -> Nullable<Text>,
        rectification_evidence -> Text,
        confirmed_at -> Nullable<Timestamp>,
        confirmed_by -> Nullable<Text>,
        reopen_count -> Integer,
        reopen_reason -> Nullable<Text>,
        escalated_at -> Nullable<Timestamp>,
        escalation_level -> Integer,
    }
}

diesel::table! {
    submission_photos (submission_id, part) {
        submission_id -> Text,
        part -> Text,
        sha256 -> Text,
        size_bytes -> BigInt,
        content_type -> Nullable<Text>,
        kind -> Nullable<Text>,
        width -> Nullable<Integer>,
        height -> Nullable<Integer>,
        exif_time -> Nullable<Text>,
        exif_lat -> Nullable<Double>,
        exif_lon -> Nullable<Double>,
        orientation -> Nullable<Integer>,
        phash -> Nullable<BigInt>,
    }
}

diesel::table! {
    photo_fingerprints (id) {
        id -> BigInt,
        submission_id -> Text,
        part -> Text,
        household_code -> Text,
        sha256 -> Text,
        phash -> BigInt,
        band0 -> Integer,
        band1 -> Integer,
        band2 -> Integer,
        band3 -> Integer,
    }
}

diesel::table! {
    stage_runs (submission_id, stage) {
        submission_id -> Text,
        stage -> Text,
        completed_at -> Timestamp,
        worker -> Text,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        message_id -> Text,
        kind -> Text,
        routing_key -> Text,
        payload -> Text,
        request_id -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        lease_until -> Nullable<Timestamp>,
        attempts -> Integer,
    }
}

diesel::table! {
    household_assignments (household_code) {
        household_code -> Text,
        surveyor_id -> Text,
        assigned_at -> Timestamp,
        assigned_by -> Text,
    }
}

diesel::joinable!(households -> org_units (village_code));
diesel::joinable!(household_assignments -> households (household_code));
diesel::joinable!(household_assignments -> users (surveyor_id));
diesel::joinable!(users -> org_units (org_code));
diesel::joinable!(submissions -> org_units (village_code));
diesel::joinable!(signing_keys -> users (user_id));
diesel::joinable!(submission_photos -> submissions (submission_id));
diesel::joinable!(photo_fingerprints -> submissions (submission_id));
diesel::joinable!(spot_check_items -> spot_checks (spot_check_id));
diesel::joinable!(submission_outcomes -> submissions (submission_id));
diesel::joinable!(submission_attention -> submissions (submission_id));

diesel::table! {
    ledger_entries (seq) {
        seq -> BigInt,
        entry -> Text,
        entry_hash -> Text,
        service_signature -> Text,
        submission_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ledger_checkpoints (size) {
        size -> BigInt,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    decision_signatures (signature) {
        signature -> Text,
        user_id -> Text,
        kind -> Text,
        ledger_seq -> BigInt,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    enrolment_codes (code_hash) {
        code_hash -> Text,
        user_id -> Text,
        issued_by -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        key_id -> Nullable<Text>,
    }
}

diesel::table! {
    registry_imports (ledger_seq) {
        ledger_seq -> BigInt,
        registry -> Text,
        sha256 -> Text,
        imported_at -> Timestamp,
    }
}

diesel::table! {
    reviews (id) {
        id -> Text,
        submission_id -> Text,
        reviewer_id -> Text,
        org_level -> Text,
        decision -> Text,
        content_digest -> Text,
        reasons -> Text,
        decided_at -> Timestamp,
        ledger_seq -> BigInt,
    }
}

diesel::table! {
    spot_checks (id) {
        id -> Text,
        unit_code -> Text,
        level -> Text,
        drawn_by -> Text,
        rate -> Double,
        seed -> Text,
        population -> BigInt,
        drawn_at -> Timestamp,
        ledger_seq -> BigInt,
    }
}

diesel::table! {
    spot_check_items (spot_check_id, submission_id) {
        spot_check_id -> Text,
        submission_id -> Text,
        decision -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    pii_reads (id) {
        id -> Text,
        user_id -> Text,
        submission_id -> Text,
        read_at -> Timestamp,
    }
}

diesel::table! {
    village_stats (village_code) {
        village_code -> Text,
        households -> BigInt,
        surveyed -> BigInt,
        meets_standard -> BigInt,
        clues_raised -> BigInt,
        clues_closed -> BigInt,
        unregistered -> BigInt,
    }
}

diesel::table! {
    console_sessions (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        csrf -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    ledger_head (id) {
        id -> Integer,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    village_stats_delta (id) {
        id -> BigInt,
        village_code -> Text,
        households -> BigInt,
        surveyed -> BigInt,
        meets_standard -> BigInt,
        clues_raised -> BigInt,
        clues_closed -> BigInt,
        unregistered -> BigInt,
    }
}

diesel::table! {
    household_progress (village_code, household_code) {
        village_code -> Text,
        household_code -> Text,
        surveyed -> Bool,
        meets_standard -> Bool,
        unregistered -> Bool,
    }
}

diesel::table! {
    photo_hashes (phash) {
        phash -> BigInt,
        band0 -> Integer,
        band1 -> Integer,
        band2 -> Integer,
        band3 -> Integer,
    }
}

diesel::table! {
    ledger_pending (id) {
        id -> BigInt,
        entry -> Text,
        submission_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    uploads (id) {
        id -> Text,
        owner_id -> Text,
        length -> BigInt,
        upload_offset -> BigInt,
        sha256 -> Nullable<Text>,
        metadata -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    jobs (id) {
        id -> Text,
        kind -> Text,
        params -> Text,
        requested_by -> Text,
        org_code -> Text,
        status -> Text,
        progress_done -> BigInt,
        progress_total -> Nullable<BigInt>,
        attempts -> Integer,
        heartbeat_at -> Nullable<Timestamp>,
        result_key -> Nullable<Text>,
        result_name -> Nullable<Text>,
        result_type -> Nullable<Text>,
        result_size -> Nullable<BigInt>,
        result_sha256 -> Nullable<Text>,
        error -> Nullable<Text>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    department_imports (id) {
        id -> Text,
        source -> Text,
        sha256 -> Text,
        row_count -> BigInt,
        imported_at -> Timestamp,
        ledger_seq -> BigInt,
    }
}

diesel::table! {
    department_records (source, status, id_hmac) {
        source -> Text,
        status -> Text,
        id_hmac -> Text,
        since -> Nullable<Text>,
        import_id -> Text,
        line -> BigInt,
    }
}

diesel::table! {
    compare_rules (id) {
        id -> Text,
        source -> Text,
        source_status -> Text,
        survey_field -> Text,
        condition -> Text,
        clue_kind -> Text,
        severity -> Text,
        active -> Bool,
        description -> Text,
    }
}

diesel::table! {
    bulletins (id) {
        id -> Text,
        org_code -> Text,
        period -> Text,
        issued_at -> Timestamp,
        snapshot -> Text,
        digest -> Text,
        issued_by -> Text,
        ledger_seq -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    bulletins,
    org_units,
    households,
    users,
    refresh_tokens,
    signing_keys,
    submissions,
    submission_photos,
    stage_runs,
    outbox,
    attention_log,
    submission_attention,
    ledger_entries,
    ledger_head,
    ledger_checkpoints,
    reviews,
    person_index,
    clues,
    submission_outcomes,
    spot_checks,
    spot_check_items,
    pii_reads,
    village_stats,
    console_sessions,
    photo_fingerprints,
    village_stats_delta,
    uploads,
    household_progress,
    photo_hashes,
    ledger_pending,
    decision_signatures,
    enrolment_codes,
    registry_imports,
    household_assignments,
    department_imports,
    department_records,
    compare_rules,
    jobs,
);
