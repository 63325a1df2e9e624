//! Every error leaves as the SPEC §3 envelope, and a rejected request stores nothing.

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(
    malformed_json_is_400,
    unsupported_media_type_is_415,
    body_over_one_mebibyte_is_413,
    declared_body_over_the_limit_is_413_before_it_arrives,
    a_stalled_body_is_408,
    request_heads_past_the_http_parser_limits_get_bare_statuses,
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

    // JSON that is not an object is as unreadable as broken JSON, everywhere.
    let id = app.submit(serde_json::json!({})).await.json()["id"]
        .as_i64()
        .unwrap();
    for (method, path) in [
        ("POST", "/api/v1/comments".to_owned()),
        ("PATCH", format!("/api/v1/admin/comments/{id}")),
        ("POST", "/api/v1/admin/comments/bulk".to_owned()),
    ] {
        app.as_admin(method, &path, Some(&serde_json::json!(["approved"])))
            .await
            .assert_error(400, "malformed_request");
    }
    assert_eq!(app.stored_count(), 1);
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

/// Sends a request head and the start of a body over a raw connection, then
/// stalls; returns what the server answered (its status line and body).
async fn stall_after(app: &crate::helpers::TestApp, path: &str, content_length: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n[{{",
        crate::helpers::ADMIN_TOKEN
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // Read until the body's end (the server closes or the JSON object ends).
    while !String::from_utf8_lossy(&answer).ends_with("}}") {
        let read = tokio::time::timeout(std::time::Duration::from_secs(30), stream.read(&mut buf))
            .await
            .expect("the server answered within 30 s")
            .unwrap();
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..read]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

async fn declared_body_over_the_limit_is_413_before_it_arrives(backend: Backend) {
    let app = spawn_app(backend).await;

    for path in [
        "/api/v1/comments",
        "/api/v1/admin/training-examples",
        "/api/v1/admin/comments/bulk",
        "/api/v1/admin/models/train",
    ] {
        let started = std::time::Instant::now();
        let answer = stall_after(&app, path, "99999999999").await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
        assert!(answer.contains("payload_too_large"), "{path}: {answer}");
        // Well before the stalled-body timeout: the length alone decided.
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
    assert_eq!(app.stored_count(), 0);
}

async fn a_stalled_body_is_408(backend: Backend) {
    let app = spawn_app(backend).await;

    let answer = stall_after(&app, "/api/v1/comments", "100").await;

    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert_eq!(app.stored_count(), 0);
}

/// Sends `head` (a request line and headers) and returns the status line.
async fn status_of_raw_head(app: &crate::helpers::TestApp, head: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(head.as_bytes()).await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().unwrap_or("").to_owned()
}

/// The limits README documents as the exceptions to the JSON error body:
/// actix-web's parser refuses these before replyguard sees them.
async fn request_heads_past_the_http_parser_limits_get_bare_statuses(backend: Backend) {
    let app = spawn_app(backend).await;
    let get = |path: String, extra: String| {
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n")
    };
    let long_post = |n: usize| format!("/api/v1/posts/{}/comments", "a".repeat(n));

    let within = app.get(&long_post(65_000)).await;
    within.assert_error(422, "validation_failed");
    let url = status_of_raw_head(&app, &get(long_post(66_000), String::new())).await;
    let big_head = status_of_raw_head(
        &app,
        &get(
            "/healthz".into(),
            format!("X-Big: {}\r\n", "b".repeat(140_000)),
        ),
    )
    .await;
    let many = (0..100)
        .map(|i| format!("X-H{i}: v\r\n"))
        .collect::<String>();
    let many_headers = status_of_raw_head(&app, &get("/healthz".into(), many)).await;

    assert!(url.starts_with("HTTP/1.1 400"), "{url}");
    assert!(big_head.starts_with("HTTP/1.1 431"), "{big_head}");
    assert!(many_headers.starts_with("HTTP/1.1 431"), "{many_headers}");
}

async fn unknown_route_is_404(backend: Backend) {
    let app = spawn_app(backend).await;

    app.get("/nope").await.assert_error(404, "not_found");
    // An id that is not a number names nothing, and the message says why.
    for path in [
        "/api/v1/admin/comments/abc",
        "/api/v1/admin/comments/abc/events",
    ] {
        let body = app
            .as_admin("GET", path, None)
            .await
            .assert_error(404, "not_found");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("`abc`") && !message.contains("deserialize"),
            "{body}"
        );
    }
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
