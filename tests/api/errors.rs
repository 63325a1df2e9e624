//! Every error leaves as the SPEC §3 envelope, and a rejected request stores nothing.

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(
    malformed_json_is_400,
    unsupported_media_type_is_415,
    body_over_one_mebibyte_is_413,
    unknown_route_is_404,
    wrong_method_is_405,
    database_lock_past_timeout_is_503_and_the_service_recovers,
);

async fn malformed_json_is_400(backend: Backend) {
    let app = spawn_app(backend).await;

    let reply = app
        .post_raw(
            "/api/v1/comments",
            "application/json",
            b"{\"post_id\": ".to_vec(),
        )
        .await;

    reply.assert_error(400, "malformed_request");
    assert_eq!(app.stored_count(), 0);
}

async fn unsupported_media_type_is_415(backend: Backend) {
    let app = spawn_app(backend).await;

    let reply = app
        .post_raw("/api/v1/comments", "text/plain", b"hello".to_vec())
        .await;

    reply.assert_error(415, "unsupported_media_type");
}

async fn body_over_one_mebibyte_is_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = format!("{{\"content\": \"{}\"}}", "a".repeat(1024 * 1024 + 10));

    let reply = app
        .post_raw("/api/v1/comments", "application/json", body.into_bytes())
        .await;

    reply.assert_error(413, "payload_too_large");
    assert_eq!(app.stored_count(), 0);
}

async fn unknown_route_is_404(backend: Backend) {
    let app = spawn_app(backend).await;

    app.get("/nope").await.assert_error(404, "not_found");
}

async fn wrong_method_is_405(backend: Backend) {
    let app = spawn_app(backend).await;

    app.get("/api/v1/comments")
        .await
        .assert_error(405, "method_not_allowed");
}

/// Failure injection: the database stops answering (SQLite: another process holds
/// the write lock; PostgreSQL: the comments table is locked) for longer than the
/// timeout. The request gets 503 with Retry-After and stores nothing; once the
/// lock goes, the same service answers normally again.
async fn database_lock_past_timeout_is_503_and_the_service_recovers(backend: Backend) {
    use diesel::connection::SimpleConnection;
    let app = crate::helpers::spawn_app_with(backend, |s| s.db_timeout_ms = 300).await;
    let mut blocker = app.conn();
    match backend {
        Backend::Sqlite => blocker.batch_execute("BEGIN EXCLUSIVE").unwrap(),
        Backend::Postgres => blocker
            .batch_execute("BEGIN; LOCK TABLE comments IN ACCESS EXCLUSIVE MODE")
            .unwrap(),
    }

    let during = app.submit(serde_json::json!({})).await;
    blocker.batch_execute("ROLLBACK").unwrap();
    let after = app.submit(serde_json::json!({})).await;

    during.assert_error(503, "unavailable");
    assert!(during.header("retry-after").is_some());
    assert_eq!(after.status, 201, "{}", after.text());
    assert_eq!(app.stored_count(), 1);
}
