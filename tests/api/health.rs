//! Liveness, readiness and the request id.

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(
    healthz_answers_ok,
    readyz_reports_backend_and_model,
    responses_carry_a_request_id
);

async fn healthz_answers_ok(backend: Backend) {
    let app = spawn_app(backend).await;

    let reply = app.get("/healthz").await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "ok");
}

async fn readyz_reports_backend_and_model(backend: Backend) {
    let app = spawn_app(backend).await;

    let body = app.get("/readyz").await.json();

    let expected = if backend == Backend::Sqlite {
        "sqlite"
    } else {
        "postgres"
    };
    assert_eq!(body["database"], expected);
    assert_eq!(body["model_version"], "spam_nb-v1");

    // A database without replyguard's tables (re-created under a running
    // instance) is not ready.
    let rename = |from: &str, to: &str| {
        diesel::connection::SimpleConnection::batch_execute(
            &mut app.conn(),
            &format!("ALTER TABLE {from} RENAME TO {to}"),
        )
        .unwrap();
    };
    rename("comments", "comments_away");
    app.get("/readyz").await.assert_error(503, "unavailable");
    rename("comments_away", "comments");
    assert_eq!(app.get("/readyz").await.status, 200);
}

async fn responses_carry_a_request_id(backend: Backend) {
    let app = spawn_app(backend).await;

    let ok = app.get("/healthz").await;
    let missing = app.get("/missing").await;

    assert!(ok.header("x-request-id").is_some_and(|id| !id.is_empty()));
    assert!(missing.header("x-request-id").is_some());
}
