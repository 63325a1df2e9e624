//! Failing fast and whole: bulk decisions all or nothing, authentication before
//! anything else, bounded waits on a sick database (through a TCP proxy the
//! test can freeze or cut), start-up before the database, and text that could
//! mislead a reader.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use replyguard::storage::DatabaseUrl;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, skip_postgres, spawn_app, spawn_app_with};

both_backends!(
    a_bulk_decision_that_cannot_reach_one_id_changes_nothing,
    every_admin_route_checks_the_token_before_anything_else,
    a_path_that_is_not_utf8_is_refused,
    fields_repeated_with_different_values_are_refused,
    misleading_names_are_refused_and_lookalike_links_shown_as_punycode,
    admin_paths_that_are_not_utf8_are_authenticated_first,
    admin_bodies_with_a_field_repeated_differently_are_refused,
);

async fn admin_paths_that_are_not_utf8_are_authenticated_first(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/api/v1/admin/comments/%FF", "/api/v1/admin/%C0%AF"] {
        let stranger = app.admin("GET", path, None, Some("rg_wrong")).await;
        let admin = app.as_admin("GET", path, None).await;

        assert_eq!(stranger.status, 401, "{path}: {}", stranger.text());
        admin.assert_error(400, "malformed_request");
    }
}

async fn admin_bodies_with_a_field_repeated_differently_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = submit(&app, 1).await;
    let patch = app
        .client
        .patch(app.url(&format!("/api/v1/admin/comments/{id}")))
        .insert_header((
            "Authorization",
            format!("Bearer {}", crate::helpers::ADMIN_TOKEN),
        ))
        .insert_header(("Content-Type", "application/json"))
        .send_body(r#"{"status": "approved", "status": "trash"}"#)
        .await
        .unwrap()
        .status();

    assert_eq!(patch.as_u16(), 422);
    assert_eq!(app.stored_status(id), "pending");
}

async fn submit(app: &TestApp, n: usize) -> i64 {
    let reply = app
        .submit(json!({"content": format!("A thoughtful remark, number {n}."), "author_email": format!("r{n}@example.com")}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()["id"].as_i64().unwrap()
}

async fn a_bulk_decision_that_cannot_reach_one_id_changes_nothing(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.db_timeout_ms = 500).await;
    let ids = [
        submit(&app, 1).await,
        submit(&app, 2).await,
        submit(&app, 3).await,
    ];
    let mut blocker = app.conn();
    match backend {
        // SQLite has one writer: holding the write lock blocks every row.
        Backend::Sqlite => blocker.batch_execute("BEGIN IMMEDIATE").unwrap(),
        Backend::Postgres => blocker
            .batch_execute(&format!(
                "BEGIN; SELECT 1 FROM comments WHERE id = {} FOR UPDATE",
                ids[1]
            ))
            .unwrap(),
    }
    let body = json!({"ids": ids, "status": "approved"});

    let during = app
        .as_admin("POST", "/api/v1/admin/comments/bulk", Some(&body))
        .await;
    blocker.batch_execute("ROLLBACK").unwrap();
    let statuses: Vec<String> = ids.iter().map(|id| app.stored_status(*id)).collect();
    let after = app
        .as_admin("POST", "/api/v1/admin/comments/bulk", Some(&body))
        .await;

    during.assert_error(503, "unavailable");
    assert_eq!(
        statuses,
        ["pending", "pending", "pending"],
        "all or nothing"
    );
    assert_eq!(after.status, 200, "{}", after.text());
    assert_eq!(after.json()["updated"], json!(ids));
    let events = app
        .as_admin(
            "GET",
            &format!("/api/v1/admin/comments/{}/events", ids[0]),
            None,
        )
        .await
        .json();
    assert_eq!(
        events["events"].as_array().map(Vec::len),
        Some(1),
        "{events}"
    );
}

async fn every_admin_route_checks_the_token_before_anything_else(backend: Backend) {
    let app = spawn_app(backend).await;
    let bad_body = json!({"nonsense": true});
    let routes: [(&str, &str, Option<&Value>); 17] = [
        (
            "GET",
            "/api/v1/admin/comments?limit=abc&order=sideways",
            None,
        ),
        ("POST", "/api/v1/admin/comments/bulk", Some(&bad_body)),
        ("GET", "/api/v1/admin/comments/abc", None),
        ("PATCH", "/api/v1/admin/comments/abc", Some(&bad_body)),
        ("DELETE", "/api/v1/admin/comments/abc", None),
        ("GET", "/api/v1/admin/comments/abc/events", None),
        ("GET", "/api/v1/admin/stats", None),
        ("GET", "/api/v1/admin/models", None),
        ("POST", "/api/v1/admin/models/train", Some(&bad_body)),
        ("POST", "/api/v1/admin/models/%00/activate", None),
        ("GET", "/api/v1/admin/jobs/abc", None),
        ("GET", "/api/v1/admin/settings/keywords", None),
        ("PUT", "/api/v1/admin/settings/keywords", Some(&bad_body)),
        ("POST", "/api/v1/admin/training-examples", Some(&bad_body)),
        ("GET", "/api/v1/admin/training-examples/stats", None),
        ("GET", "/api/v1/admin/no-such-route", None),
        ("DELETE", "/api/v1/admin/stats", None),
    ];
    for (method, path, body) in routes {
        // Authentication used to race the extractors; repeat to catch a race.
        for _ in 0..3 {
            let wrong = app.admin(method, path, body, Some("rg_wrong")).await;
            let body_text = wrong.text();
            assert_eq!(
                wrong.status, 401,
                "{method} {path} with a wrong token: {body_text}"
            );
            let none = app.admin(method, path, body, None).await;
            assert_eq!(
                none.status,
                401,
                "{method} {path} without a token: {}",
                none.text()
            );
        }
    }
}

async fn a_path_that_is_not_utf8_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;

    let list = app.get("/api/v1/posts/%FF/comments").await;
    let count = app.get("/api/v1/posts/caf%C3%A9/comments/count").await;

    list.assert_error(400, "malformed_request");
    assert_eq!(
        count.status,
        200,
        "UTF-8 escapes stay fine: {}",
        count.text()
    );
}

async fn fields_repeated_with_different_values_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let json_body = br#"{"post_id": "1", "author_name": "Ada", "author_email": "ada@example.com",
        "content": "first", "content": "second"}"#;

    let json_reply = app
        .post_raw("/api/v1/comments", "application/json", json_body.to_vec())
        .await;
    let form = app
        .post_form(
            &[
                ("comment_post_ID", "1"),
                ("author", "Ada"),
                ("author_name", "Grace"),
                ("email", "ada@example.com"),
                ("comment", "Hello there"),
            ],
            &[],
        )
        .await;
    let same_twice = app
        .post_form(
            &[
                ("comment_post_ID", "1"),
                ("post_id", "1"),
                ("author", "Ada"),
                ("email", "ada@example.com"),
                ("comment", "Hello there"),
            ],
            &[],
        )
        .await;

    let body = json_reply.assert_error(422, "validation_failed");
    assert!(body["error"]["fields"]["content"].is_array(), "{body}");
    assert_eq!(form.status, 422, "{}", form.text());
    assert!(form.text().contains("more than once"), "{}", form.text());
    assert_eq!(same_twice.status, 200, "{}", same_twice.text());
    assert_eq!(app.stored_count(), 1);
}

async fn misleading_names_are_refused_and_lookalike_links_shown_as_punycode(backend: Backend) {
    let app = spawn_app(backend).await;

    let hidden = app.submit(json!({"author_name": "ad\u{200B}min"})).await;
    let reversed = app.submit(json!({"author_name": "\u{202E}nimda"})).await;
    let linked = app
        .submit(json!({"post_id": "p", "content": "Log in at https://exаmple.com/login please"}))
        .await;
    app.moderate(linked.json()["id"].as_i64().unwrap_or_default(), "approved")
        .await;
    let page = app.get("/api/v1/posts/p/comments").await.json();

    for reply in [&hidden, &reversed] {
        let body = reply.assert_error(422, "validation_failed");
        assert!(body["error"]["fields"]["author_name"].is_array(), "{body}");
    }
    assert_eq!(linked.status, 201, "{}", linked.text());
    let html = page["comments"][0]["content_html"]
        .as_str()
        .unwrap_or_default();
    assert!(
        html.contains(">https://xn--exmple-4nf.com/login</a>"),
        "{page}"
    );
}

// --- A PostgreSQL behind a proxy the test controls -------------------------

const FORWARD: u8 = 0;
/// Accept connections and hold them without a byte either way: a server
/// stopped with SIGSTOP (the kernel still accepts).
const FROZEN: u8 = 1;
/// Close every connection at once: a server that is down.
const REFUSE: u8 = 2;

/// A TCP proxy to the test PostgreSQL whose behaviour can be switched.
struct Proxy {
    port: u16,
    mode: Arc<AtomicU8>,
}

impl Proxy {
    async fn start(mode: u8) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(mode));
        let shared = mode.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mode = shared.clone();
                tokio::spawn(async move { relay(client, mode).await });
            }
        });
        Self { port, mode }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    /// `base` (the test database URL) pointed at this proxy.
    fn url(&self, base: &DatabaseUrl) -> DatabaseUrl {
        let DatabaseUrl::Postgres(url) = base else {
            panic!("the proxy serves PostgreSQL");
        };
        let mut parsed = url::Url::parse(url).unwrap();
        parsed.set_host(Some("127.0.0.1")).unwrap();
        parsed.set_port(Some(self.port)).unwrap();
        DatabaseUrl::Postgres(parsed.to_string())
    }
}

/// Copies bytes both ways while the mode is FORWARD; frozen, it stops reading
/// (the server neither answers nor hangs up); REFUSE closes.
async fn relay(mut client: TcpStream, mode: Arc<AtomicU8>) {
    if mode.load(Ordering::SeqCst) == REFUSE {
        let _ = client.shutdown().await;
        return;
    }
    let target = match &crate::helpers::postgres_address() {
        Some(address) => TcpStream::connect(address).await,
        None => return,
    };
    let Ok(mut server) = target else { return };
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let mut a = [0u8; 8192];
    let mut b = [0u8; 8192];
    use tokio::io::AsyncReadExt;
    loop {
        while mode.load(Ordering::SeqCst) == FROZEN {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if mode.load(Ordering::SeqCst) == REFUSE {
            return;
        }
        tokio::select! {
            n = cr.read(&mut a) => match n { Ok(0) | Err(_) => return, Ok(n) => {
                if mode.load(Ordering::SeqCst) == FROZEN { std::future::pending::<()>().await; }
                if sw.write_all(&a[..n]).await.is_err() { return } } },
            n = sr.read(&mut b) => match n { Ok(0) | Err(_) => return, Ok(n) => {
                if mode.load(Ordering::SeqCst) == FROZEN { std::future::pending::<()>().await; }
                if cw.write_all(&b[..n]).await.is_err() { return } } },
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
}

async fn behind_proxy(
    mode: u8,
    configure: impl FnOnce(&mut replyguard::config::Settings),
) -> (Proxy, TestApp) {
    let proxy = Proxy::start(mode).await;
    let app = spawn_app_with(Backend::Postgres, |s| {
        s.database_url = proxy.url(&s.database_url);
        configure(s);
    })
    .await;
    (proxy, app)
}

async fn wait_for(app: &TestApp, path: &str, status: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if app.get(path).await.status == status {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[actix_web::test]
async fn a_frozen_database_gets_quick_503s_and_the_service_recovers() {
    if skip_postgres() {
        return;
    }
    let (proxy, app) = behind_proxy(FORWARD, |s| s.db_timeout_ms = 5_000).await;
    assert_eq!(app.submit(json!({})).await.status, 201);

    proxy.set(FROZEN);
    let started = Instant::now();
    let ready = app.get("/readyz").await;
    let ready_took = started.elapsed();
    let started = Instant::now();
    let first = app.submit(json!({"content": "While frozen, one."})).await;
    let first_took = started.elapsed();
    let started = Instant::now();
    let second = app.submit(json!({"content": "While frozen, two."})).await;
    let second_took = started.elapsed();
    proxy.set(FORWARD);
    let recovered = wait_for(&app, "/readyz", 200, Duration::from_secs(15)).await;

    ready.assert_error(503, "unavailable");
    assert!(
        ready_took < Duration::from_millis(1_500),
        "/readyz took {ready_took:?}"
    );
    first.assert_error(503, "unavailable");
    second.assert_error(503, "unavailable");
    // The readiness check found it frozen: no request waits the 5 s timeout.
    assert!(
        first_took < Duration::from_millis(500) && second_took < Duration::from_millis(500),
        "once known down, 503 at once: {first_took:?}, {second_took:?}"
    );
    assert!(
        second_took < Duration::from_millis(500),
        "once known down, 503 at once: {second_took:?}"
    );
    assert!(
        recovered,
        "the service answers again once the database does"
    );
    // Calls that hung in the freeze (the caches' version polls) time out
    // after the thaw; the database was seen answering since they started, so
    // they do not shut the service again.
    for attempt in 0..8 {
        let after = app
            .submit(json!({"content": format!("After the thaw, try {attempt}.")}))
            .await;
        assert_eq!(
            after.status,
            201,
            "submissions are accepted after the thaw (try {attempt}): {}",
            after.text()
        );
        tokio::time::sleep(Duration::from_millis(1_000)).await;
    }
}

#[actix_web::test]
async fn a_database_that_refuses_connections_gets_quick_503s() {
    if skip_postgres() {
        return;
    }
    let (proxy, app) = behind_proxy(FORWARD, |s| s.db_timeout_ms = 5_000).await;

    proxy.set(REFUSE);
    let started = Instant::now();
    let replies = futures_util::future::join_all(
        (0..20).map(|n| app.submit(json!({"content": format!("Refused number {n}.")}))),
    )
    .await;
    let took = started.elapsed();
    proxy.set(FORWARD);
    let recovered = wait_for(&app, "/readyz", 200, Duration::from_secs(15)).await;

    for reply in &replies {
        reply.assert_error(503, "unavailable");
        assert!(reply.header("retry-after").is_some());
    }
    assert!(
        took < Duration::from_secs(3),
        "not the 5 s pool timeout each: {took:?}"
    );
    assert!(recovered);
}

#[actix_web::test]
async fn a_service_started_before_its_database_waits_for_it() {
    if skip_postgres() {
        return;
    }
    let (proxy, app) = behind_proxy(REFUSE, |s| s.db_timeout_ms = 1_000).await;

    let alive = app.get("/healthz").await;
    let not_ready = app.get("/readyz").await;
    let early = app.submit(json!({})).await;
    proxy.set(FORWARD);
    let ready = wait_for(&app, "/readyz", 200, Duration::from_secs(20)).await;

    assert_eq!(alive.status, 200);
    not_ready.assert_error(503, "unavailable");
    early.assert_error(503, "unavailable");
    assert!(
        ready,
        "the service comes up by itself once the database answers"
    );
    assert_eq!(app.submit(json!({})).await.status, 201);
}
