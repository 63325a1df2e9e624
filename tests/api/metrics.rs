//! `GET /metrics`: Prometheus text, one series per route pattern (never per
//! post id), decisions, scores, the pool, and an optional scrape token.

use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app, spawn_app_with};

both_backends!(
    metrics_count_requests_by_route_pattern_and_decisions,
    a_metrics_token_guards_the_scrape,
);

async fn metrics_count_requests_by_route_pattern_and_decisions(backend: Backend) {
    let app = spawn_app(backend).await;
    app.get("/api/v1/posts/secret-post-one/comments").await;
    app.get("/api/v1/posts/secret-post-two/comments").await;
    let first = app
        .submit(json!({"content": "A fine remark about chapter two."}))
        .await;
    let again = app
        .submit(json!({"content": "A fine remark about chapter two."}))
        .await;
    app.get("/no/such/page").await;

    let scrape = app.get("/metrics").await;
    let text = scrape.text();

    assert_eq!(first.status, 201);
    assert_eq!(again.status, 409);
    assert_eq!(scrape.status, 200);
    assert!(
        scrape
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        scrape.header("content-type")
    );
    for expected in [
        r#"replyguard_http_requests_total{route="/api/v1/posts/{post_id}/comments",method="GET",status="200"} 2"#,
        r#"replyguard_http_requests_total{route="/api/v1/comments",method="POST",status="201"} 1"#,
        r#"replyguard_http_requests_total{route="/api/v1/comments",method="POST",status="409"} 1"#,
        r#"replyguard_http_requests_total{route="unmatched",method="GET",status="404"} 1"#,
        r#"replyguard_http_request_duration_seconds_count{route="/api/v1/comments"} 2"#,
        r#"replyguard_decisions_total{outcome="pending"} 1"#,
        r#"replyguard_decision_reasons_total{reason="bayes"} 1"#,
        r#"replyguard_refusals_total{kind="duplicate"} 1"#,
        "replyguard_spam_score_count 1",
        "replyguard_scoring_duration_seconds_count 2",
        r#"replyguard_model_info{version="spam_nb-v1"} 1"#,
        "replyguard_db_connections_max 8",
        "replyguard_db_unreachable 0",
        "replyguard_db_calls_refused_total 0",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(
        !text.contains("secret-post"),
        "raw paths must not become series"
    );
}

async fn a_metrics_token_guards_the_scrape(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.metrics_token = Some("scrape-token-0123456789".into());
    })
    .await;

    let without = app.get("/metrics").await;
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .insert_header(("Authorization", "Bearer nope"))
        .send()
        .await
        .unwrap()
        .status();
    let right = app
        .client
        .get(app.url("/metrics"))
        .insert_header(("Authorization", "Bearer scrape-token-0123456789"))
        .send()
        .await
        .unwrap()
        .status();

    without.assert_error(401, "unauthorized");
    assert_eq!(wrong.as_u16(), 401);
    assert_eq!(right.as_u16(), 200);
}
