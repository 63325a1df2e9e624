//! Table definitions shared by both backends. Portable SQL types only: `BigInt`
//! ids, `Text` for strings and JSON, `Double` scores, `Timestamp` (UTC) times.

diesel::table! {
    comments (id) {
        id -> BigInt,
        post_id -> Text,
        parent_id -> Nullable<BigInt>,
        status -> Text,
        author_name -> Text,
        author_email -> Text,
        author_url -> Nullable<Text>,
        content -> Text,
        permalink -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        referrer -> Nullable<Text>,
        spam_score -> Nullable<Double>,
        model_version -> Nullable<Text>,
        reasons -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        content_fingerprint -> Text,
    }
}

diesel::table! {
    admin_tokens (id) {
        id -> BigInt,
        name -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        scope -> Text,
    }
}

diesel::table! {
    comment_events (id) {
        id -> BigInt,
        comment_id -> BigInt,
        actor -> Text,
        from_status -> Text,
        to_status -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    training_examples (id) {
        id -> BigInt,
        comment_id -> Nullable<BigInt>,
        source -> Text,
        label -> Text,
        content -> Text,
        author_name -> Nullable<Text>,
        author_email -> Nullable<Text>,
        author_url -> Nullable<Text>,
        content_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Text,
        version -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    submission_lock (id) {
        id -> BigInt,
        ticks -> BigInt,
    }
}

diesel::table! {
    models (id) {
        id -> BigInt,
        version -> Text,
        created_at -> Timestamp,
        training_rows -> BigInt,
        training_hash -> Text,
        parameters -> Text,
        metrics -> Text,
        artifact -> Text,
    }
}

diesel::table! {
    active_model (id) {
        id -> BigInt,
        version -> Nullable<Text>,
        generation -> BigInt,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    training_jobs (id) {
        id -> BigInt,
        status -> Text,
        parameters -> Text,
        progress -> Text,
        model_version -> Nullable<Text>,
        metrics -> Nullable<Text>,
        error -> Nullable<Text>,
        activated -> Bool,
        reason -> Nullable<Text>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        heartbeat_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(comment_events -> comments (comment_id));
diesel::joinable!(training_examples -> comments (comment_id));
diesel::allow_tables_to_appear_in_same_query!(
    active_model,
    admin_tokens,
    comment_events,
    comments,
    models,
    settings,
    submission_lock,
    training_examples,
    training_jobs,
);
