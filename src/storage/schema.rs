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
    }
}
