//! The admin API: authentication, the queue, decisions, the audit trail, labels,
//! erasure, statistics and training-data import.

use chrono::{SubsecRound, Utc};
use diesel::prelude::*;
use replyguard::auth::hash_token;
use replyguard::storage::schema::{comment_events, training_examples};
use replyguard::storage::tokens;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

both_backends!(
    admin_endpoints_need_a_valid_token,
    stored_tokens_name_the_actor_and_revoked_ones_get_403,
    queue_filters_by_status_post_and_search,
    queue_pages_stay_correct_when_comments_arrive_between_pages,
    record_has_every_stored_field,
    patch_records_an_event_and_repeating_it_records_none,
    patch_with_stale_if_status_is_409,
    bad_patches_are_rejected,
    concurrent_conditional_patches_have_exactly_one_winner,
    bulk_reports_updated_conflicts_and_missing,
    labels_follow_decisions_and_the_latest_wins,
    delete_erases_comment_label_and_events,
    stats_count_statuses_and_age_of_oldest_pending,
    import_is_all_or_nothing_and_skips_duplicates,
    approval_by_a_moderator_makes_the_author_known,
);

async fn submit(app: &TestApp, overrides: Value) -> i64 {
    let reply = app.submit(overrides).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()["id"].as_i64().unwrap()
}

fn events_of(app: &TestApp, id: i64) -> i64 {
    comment_events::table
        .filter(comment_events::comment_id.eq(id))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

fn label_of(app: &TestApp, id: i64) -> Option<String> {
    training_examples::table
        .filter(training_examples::comment_id.eq(id))
        .select(training_examples::label)
        .load::<String>(&mut app.conn())
        .unwrap()
        .into_iter()
        .reduce(|a, b| format!("{a},{b}"))
}

async fn admin_endpoints_need_a_valid_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let paths = [
        ("GET", "/api/v1/admin/comments"),
        ("GET", "/api/v1/admin/comments/1"),
        ("GET", "/api/v1/admin/comments/1/events"),
        ("PATCH", "/api/v1/admin/comments/1"),
        ("DELETE", "/api/v1/admin/comments/1"),
        ("POST", "/api/v1/admin/comments/bulk"),
        ("GET", "/api/v1/admin/stats"),
        ("POST", "/api/v1/admin/training-examples"),
        ("GET", "/api/v1/admin/training-examples/stats"),
    ];
    for (method, path) in paths {
        let none = app.admin(method, path, Some(&json!({})), None).await;
        let wrong = app
            .admin(method, path, Some(&json!({})), Some("rg_not-a-token"))
            .await;

        none.assert_error(401, "unauthorized");
        assert_eq!(
            none.header("www-authenticate").as_deref(),
            Some("Bearer"),
            "{method} {path}"
        );
        wrong.assert_error(401, "unauthorized");
    }
}

async fn stored_tokens_name_the_actor_and_revoked_ones_get_403(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = Utc::now().trunc_subsecs(6).naive_utc();
    tokens::insert(&mut app.conn(), "alice", &hash_token("rg_alice"), now).unwrap();
    tokens::insert(&mut app.conn(), "mallory", &hash_token("rg_mallory"), now).unwrap();
    tokens::revoke(&mut app.conn(), "mallory", now).unwrap();
    let id = submit(&app, json!({})).await;

    let ok = app
        .admin(
            "PATCH",
            &format!("/api/v1/admin/comments/{id}"),
            Some(&json!({"status": "approved"})),
            Some("rg_alice"),
        )
        .await;
    let revoked = app
        .admin("GET", "/api/v1/admin/stats", None, Some("rg_mallory"))
        .await;
    let events = app
        .as_admin("GET", &format!("/api/v1/admin/comments/{id}/events"), None)
        .await
        .json();

    assert_eq!(ok.status, 200, "{}", ok.text());
    revoked.assert_error(403, "forbidden");
    assert_eq!(events["events"][0]["actor"], "alice");
    assert_eq!(events["events"][0]["from"], "pending");
    assert_eq!(events["events"][0]["to"], "approved");
}

async fn queue_filters_by_status_post_and_search(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = submit(
        &app,
        json!({"post_id": "p1", "content": "About the Engine design. Ünal's ÉCLAIR."}),
    )
    .await;
    let b = submit(
        &app,
        json!({"post_id": "p2", "author_name": "Zed Shaw", "author_email": "zed@example.org"}),
    )
    .await;
    let c = submit(
        &app,
        json!({"post_id": "p1", "content": "100% agree_with you"}),
    )
    .await;
    app.moderate(b, "spam").await;

    let ids = |body: Value| -> Vec<i64> {
        body["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect()
    };
    let all = app
        .as_admin("GET", "/api/v1/admin/comments", None)
        .await
        .json();
    let asc = app
        .as_admin("GET", "/api/v1/admin/comments?order=asc", None)
        .await
        .json();
    let pending = app
        .as_admin("GET", "/api/v1/admin/comments?status=pending", None)
        .await
        .json();
    let post = app
        .as_admin(
            "GET",
            "/api/v1/admin/comments?post_id=p1&status=pending",
            None,
        )
        .await
        .json();
    let engine = app
        .as_admin("GET", "/api/v1/admin/comments?q=DESIGN", None)
        .await
        .json();
    let by_email = app
        .as_admin("GET", "/api/v1/admin/comments?q=zed%40example", None)
        .await
        .json();
    let literal = app
        .as_admin("GET", "/api/v1/admin/comments?q=100%25", None)
        .await
        .json();
    let underscore = app
        .as_admin("GET", "/api/v1/admin/comments?q=e_w", None)
        .await
        .json();
    let non_ascii = app
        .as_admin(
            "GET",
            "/api/v1/admin/comments?q=%C3%BCnal%27s%20%C3%A9clair",
            None,
        )
        .await
        .json();

    assert_eq!(ids(all), [c, b, a], "newest first by default");
    assert_eq!(ids(asc), [a, b, c]);
    assert_eq!(ids(pending), [c, a]);
    assert_eq!(ids(post), [c, a]);
    assert_eq!(ids(engine), [a]);
    assert_eq!(ids(by_email), [b]);
    assert_eq!(ids(literal), [c], "% is literal");
    assert_eq!(ids(underscore), [c], "_ is literal");
    assert_eq!(ids(non_ascii), [a], "case folding is Unicode-aware");
    app.as_admin("GET", "/api/v1/admin/comments?status=deleted", None)
        .await
        .assert_error(422, "validation_failed");
    for bad in ["q=a%00b", "post_id=p%00"] {
        app.as_admin("GET", &format!("/api/v1/admin/comments?{bad}"), None)
            .await
            .assert_error(422, "validation_failed");
    }
    app.as_admin("GET", "/api/v1/admin/comments?order=sideways", None)
        .await
        .assert_error(422, "validation_failed");
}

async fn queue_pages_stay_correct_when_comments_arrive_between_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut expected = Vec::new();
    for i in 0..7 {
        expected.push(submit(&app, json!({"content": format!("Original comment {i}."), "author_email": format!("a{i}@example.com")})).await);
    }
    expected.reverse();

    let mut seen = Vec::new();
    let mut path = "/api/v1/admin/comments?limit=3".to_owned();
    loop {
        let body = app.as_admin("GET", &path, None).await.json();
        seen.extend(
            body["comments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap()),
        );
        // Newer comments arrive while the moderator pages through the queue.
        submit(&app, json!({"content": format!("Late arrival {}.", seen.len()), "author_email": format!("late{}@example.com", seen.len())})).await;
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/admin/comments?limit=3&cursor={cursor}"),
            None => break,
        }
    }

    assert_eq!(
        seen, expected,
        "each original comment exactly once, in order"
    );
}

async fn record_has_every_stored_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = submit(&app, json!({"author_url": "https://ada.dev"})).await;

    let record = app
        .as_admin("GET", &format!("/api/v1/admin/comments/{id}"), None)
        .await
        .json();
    let missing = app
        .as_admin("GET", "/api/v1/admin/comments/999999", None)
        .await;
    let bad_id = app
        .as_admin("GET", "/api/v1/admin/comments/abc", None)
        .await;

    for key in [
        "id",
        "post_id",
        "parent_id",
        "status",
        "author_name",
        "author_email",
        "author_url",
        "content",
        "ip",
        "user_agent",
        "referrer",
        "spam_score",
        "model_version",
        "reasons",
        "created_at",
        "updated_at",
    ] {
        assert!(record.get(key).is_some(), "record lacks {key}: {record}");
    }
    assert_eq!(record["author_email"], "ada@example.com");
    assert_eq!(record["model_version"], "spam_nb-v1");
    assert!(
        record["spam_score"]
            .as_f64()
            .is_some_and(|s| (0.0..=1.0).contains(&s))
    );
    assert!(record["reasons"].as_array().is_some_and(|r| {
        r.iter()
            .any(|r| r.as_str().is_some_and(|r| r.starts_with("bayes:")))
    }));
    missing.assert_error(404, "not_found");
    bad_id.assert_error(404, "not_found");
}

async fn patch_records_an_event_and_repeating_it_records_none(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = submit(&app, json!({})).await;
    let path = format!("/api/v1/admin/comments/{id}");

    let first = app
        .as_admin("PATCH", &path, Some(&json!({"status": "approved"})))
        .await;
    let again = app
        .as_admin("PATCH", &path, Some(&json!({"status": "approved"})))
        .await;

    assert_eq!(first.status, 200);
    assert_eq!(first.json()["status"], "approved");
    assert_eq!(again.status, 200);
    assert_eq!(events_of(&app, id), 1);
    let events = app
        .as_admin("GET", &format!("{path}/events"), None)
        .await
        .json();
    assert_eq!(events["events"].as_array().unwrap().len(), 1);
    assert_eq!(events["events"][0]["actor"], "bootstrap");
}

async fn patch_with_stale_if_status_is_409(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = submit(&app, json!({})).await;
    let path = format!("/api/v1/admin/comments/{id}");
    app.moderate(id, "spam").await;

    let stale = app
        .as_admin(
            "PATCH",
            &path,
            Some(&json!({"status": "approved", "if_status": "pending"})),
        )
        .await;
    let fresh = app
        .as_admin(
            "PATCH",
            &path,
            Some(&json!({"status": "approved", "if_status": "spam"})),
        )
        .await;

    stale.assert_error(409, "status_conflict");
    assert_eq!(fresh.status, 200);
    assert_eq!(events_of(&app, id), 2);
}

async fn bad_patches_are_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = submit(&app, json!({})).await;
    let path = format!("/api/v1/admin/comments/{id}");

    app.as_admin("PATCH", &path, Some(&json!({"status": "deleted"})))
        .await
        .assert_error(422, "validation_failed");
    app.as_admin(
        "PATCH",
        &path,
        Some(&json!({"status": "spam", "if_status": "gone"})),
    )
    .await
    .assert_error(422, "validation_failed");
    app.as_admin("PATCH", &path, Some(&json!({"nope": 1})))
        .await
        .assert_error(422, "validation_failed");
    app.as_admin("PATCH", &path, Some(&json!({"status": 5})))
        .await
        .assert_error(422, "validation_failed");
    let not_json = app
        .client
        .patch(app.url(&path))
        .insert_header((
            "Authorization",
            format!("Bearer {}", crate::helpers::ADMIN_TOKEN),
        ))
        .insert_header(("Content-Type", "application/json"))
        .send_body("{status")
        .await
        .unwrap();
    assert_eq!(not_json.status().as_u16(), 400);
    let form = app
        .client
        .patch(app.url(&path))
        .insert_header((
            "Authorization",
            format!("Bearer {}", crate::helpers::ADMIN_TOKEN),
        ))
        .send_form(&[("status", "spam")])
        .await
        .unwrap();
    assert_eq!(form.status().as_u16(), 415);
    app.as_admin(
        "PATCH",
        "/api/v1/admin/comments/999999",
        Some(&json!({"status": "spam"})),
    )
    .await
    .assert_error(404, "not_found");
    assert_eq!(events_of(&app, id), 0);
    assert_eq!(app.stored_status(id), "pending");
}

async fn concurrent_conditional_patches_have_exactly_one_winner(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = submit(&app, json!({})).await;
    let path = format!("/api/v1/admin/comments/{id}");

    let attempts = (0..16).map(|i| {
        let status = if i % 2 == 0 { "approved" } else { "spam" };
        let body = json!({"status": status, "if_status": "pending"});
        let app = &app;
        let path = &path;
        async move { app.as_admin("PATCH", path, Some(&body)).await }
    });
    let replies = futures_util::future::join_all(attempts).await;

    let wins = replies.iter().filter(|r| r.status == 200).count();
    let conflicts = replies.iter().filter(|r| r.status == 409).count();
    assert_eq!(
        (wins, conflicts),
        (1, 15),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(events_of(&app, id), 1);
}

async fn bulk_reports_updated_conflicts_and_missing(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = submit(&app, json!({"author_email": "a@example.com"})).await;
    let b = submit(&app, json!({"author_email": "b@example.com"})).await;
    app.moderate(b, "approved").await;

    let reply = app
        .as_admin(
            "POST",
            "/api/v1/admin/comments/bulk",
            Some(&json!({"ids": [a, b, 999_999], "status": "trash", "if_status": "pending"})),
        )
        .await;
    let too_many: Vec<i64> = (1..=501).collect();
    let over = app
        .as_admin(
            "POST",
            "/api/v1/admin/comments/bulk",
            Some(&json!({"ids": too_many, "status": "trash"})),
        )
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"updated": [a], "conflicts": [b], "missing": [999_999]})
    );
    assert_eq!(app.stored_status(a), "trash");
    assert_eq!(app.stored_status(b), "approved");
    over.assert_error(422, "validation_failed");
}

async fn labels_follow_decisions_and_the_latest_wins(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = submit(&app, json!({})).await;

    app.moderate(id, "spam").await;
    let as_spam = label_of(&app, id);
    app.moderate(id, "approved").await;
    let as_ham = label_of(&app, id);
    app.moderate(id, "trash").await;
    let trashed = label_of(&app, id);
    let stats = app
        .as_admin("GET", "/api/v1/admin/training-examples/stats", None)
        .await
        .json();

    assert_eq!(as_spam.as_deref(), Some("spam"));
    assert_eq!(
        as_ham.as_deref(),
        Some("ham"),
        "one label per comment, latest wins"
    );
    assert_eq!(trashed, None, "trash removes the label");
    assert_eq!(stats["total"], 0);
}

async fn delete_erases_comment_label_and_events(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = submit(&app, json!({})).await;
    app.moderate(id, "spam").await;
    app.moderate(id, "approved").await;
    let reply_id = submit(
        &app,
        json!({"parent_id": id, "content": "A reply that stays."}),
    )
    .await;

    let deleted = app
        .as_admin("DELETE", &format!("/api/v1/admin/comments/{id}"), None)
        .await;
    let again = app
        .as_admin("DELETE", &format!("/api/v1/admin/comments/{id}"), None)
        .await;

    assert_eq!(deleted.status, 204);
    again.assert_error(404, "not_found");
    app.as_admin("GET", &format!("/api/v1/admin/comments/{id}"), None)
        .await
        .assert_error(404, "not_found");
    assert_eq!(events_of(&app, id), 0);
    assert_eq!(label_of(&app, id), None);
    let remaining: i64 = training_examples::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(remaining, 0);
    let orphan = app
        .as_admin("GET", &format!("/api/v1/admin/comments/{reply_id}"), None)
        .await
        .json();
    assert!(orphan["parent_id"].is_null());
    let listed = app
        .as_admin("GET", "/api/v1/admin/comments", None)
        .await
        .json();
    let ids: Vec<i64> = listed["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [reply_id]);
}

async fn stats_count_statuses_and_age_of_oldest_pending(backend: Backend) {
    let app = spawn_app(backend).await;
    let empty = app
        .as_admin("GET", "/api/v1/admin/stats", None)
        .await
        .json();
    let a = submit(&app, json!({"author_email": "a@example.com"})).await;
    submit(&app, json!({"author_email": "b@example.com"})).await;
    app.moderate(a, "spam").await;

    let stats = app
        .as_admin("GET", "/api/v1/admin/stats", None)
        .await
        .json();

    assert_eq!(empty["oldest_pending_age_seconds"], Value::Null);
    assert_eq!(
        stats["counts"],
        json!({"pending": 1, "approved": 0, "spam": 1, "trash": 0})
    );
    assert!(
        stats["oldest_pending_age_seconds"]
            .as_i64()
            .is_some_and(|s| s >= 0)
    );
    assert_eq!(stats["model"]["version"], "spam_nb-v1");
    assert!(
        stats["model"]["metrics"]["mcc"].as_f64().is_some(),
        "{stats}"
    );
}

async fn import_is_all_or_nothing_and_skips_duplicates(backend: Backend) {
    let app = spawn_app(backend).await;
    let path = "/api/v1/admin/training-examples";

    let first = app
        .as_admin(
            "POST",
            path,
            Some(&json!([
                {"content": "Buy cheap pills now", "label": "spam"},
                {"content": "Lovely article", "label": "ham", "author_name": "Ada"},
                {"content": "Lovely article", "label": "ham"},
            ])),
        )
        .await;
    let bad = app
        .as_admin(
            "POST",
            path,
            Some(&json!([
                {"content": "Fine row", "label": "ham"},
                {"content": "", "label": "spam"},
                {"content": "x", "label": "maybe"},
                {"content": "y", "label": "ham", "author_email": "not an address"},
            ])),
        )
        .await;
    let ndjson = app
        .client
        .post(app.url(path))
        .insert_header(("Authorization", format!("Bearer {}", crate::helpers::ADMIN_TOKEN)))
        .insert_header(("Content-Type", "application/x-ndjson"))
        .send_body("{\"content\": \"Buy cheap pills now\", \"label\": \"spam\"}\n{\"text\": \"New one\", \"label\": \"spam\"}\n")
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let stats = app
        .as_admin("GET", "/api/v1/admin/training-examples/stats", None)
        .await
        .json();

    assert_eq!(first.json(), json!({"imported": 2, "duplicates": 1}));
    let body = bad.assert_error(422, "validation_failed");
    assert!(
        body["error"]["fields"]["rows[1]"].is_array()
            && body["error"]["fields"]["rows[2]"].is_array()
            && body["error"]["fields"]["rows[3]"][0]
                .as_str()
                .is_some_and(|m| m.contains("author_email")),
        "{body}"
    );
    assert!(body["error"]["fields"].get("rows[0]").is_none());
    assert_eq!(ndjson, json!({"imported": 1, "duplicates": 1}));
    assert_eq!(
        stats,
        json!({"total": 3, "by_label": {"spam": 2, "ham": 1}, "by_source": {"moderation": 0, "import": 3, "akismet": 0}})
    );
}

async fn approval_by_a_moderator_makes_the_author_known(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = submit(&app, json!({"author_email": "grace@example.com"})).await;

    let before = app
        .submit(json!({"author_email": "grace@example.com", "content": "Second thought on this."}))
        .await;
    app.moderate(first, "approved").await;
    let after = app
        .submit(json!({"author_email": "grace@example.com", "content": "Third thought on this."}))
        .await;

    assert_eq!(before.json()["status"], "pending");
    assert_eq!(after.json()["status"], "approved");
}
