//! Abuse defenses: duplicates, flood control, rate limits, links, keyword lists.

use std::time::Duration;

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};

both_backends!(
    duplicate_comment_is_409_even_with_trivial_variations,
    duplicate_form_post_gets_an_html_page_with_409,
    flood_from_one_ip_is_429_with_retry_after,
    flood_from_one_email_across_ips_is_429,
    an_enormous_flood_interval_still_accepts_a_first_comment,
    forged_forwarded_for_does_not_escape_flood_control,
    rejected_requests_do_not_count_for_flood_control,
    flood_control_holds_across_two_instances_on_one_database,
    writes_and_reads_are_rate_limited_per_ip_apart_but_admin_is_not,
    the_rules_hold_between_comments_sent_at_once,
    too_many_links_hold_a_comment,
    keyword_lists_edited_at_run_time_apply_on_every_instance,
    keyword_files_seed_the_lists,
);

fn record(reply_body: &Value) -> i64 {
    reply_body["id"].as_i64().unwrap()
}

async fn reasons(app: &TestApp, id: i64) -> Vec<String> {
    let body = app
        .as_admin("GET", &format!("/api/v1/admin/comments/{id}"), None)
        .await
        .json();
    serde_json::from_value(body["reasons"].clone()).unwrap()
}

async fn duplicate_comment_is_409_even_with_trivial_variations(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app
        .submit(json!({"content": "Great post about engines."}))
        .await;

    let same = app
        .submit(
            json!({"content": "great   POST about\nengines.", "author_email": "ADA@example.com"}),
        )
        .await;
    let other_post = app
        .submit(json!({"content": "Great post about engines.", "post_id": "other"}))
        .await;
    let other_author = app
        .submit(json!({"content": "Great post about engines.", "author_email": "bob@example.com"}))
        .await;

    assert_eq!(first.status, 201);
    let body = same.assert_error(409, "duplicate_comment");
    assert_eq!(
        body["error"]["message"],
        "Duplicate comment detected; it looks as though you've already said that!"
    );
    assert_eq!(other_post.status, 201);
    assert_eq!(other_author.status, 201);
    assert_eq!(app.stored_count(), 3);
}

async fn duplicate_form_post_gets_an_html_page_with_409(backend: Backend) {
    let app = spawn_app(backend).await;
    let form = [
        ("comment_post_ID", "1"),
        ("author", "Ada"),
        ("email", "ada@example.com"),
        ("comment", "Said once."),
    ];
    app.post_form(&form, &[]).await;

    let again = app.post_form(&form, &[]).await;

    assert_eq!(again.status, 409);
    assert!(
        again.text().contains("already said that"),
        "{}",
        again.text()
    );
    assert_eq!(app.stored_count(), 1);
}

async fn flood_from_one_ip_is_429_with_retry_after(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.flood_seconds = 15).await;
    app.submit(json!({"author_email": "a@example.com"})).await;

    let second = app
        .submit(json!({"author_email": "b@example.com", "content": "Another thought."}))
        .await;

    let body = second.assert_error(429, "too_many_requests");
    assert_eq!(
        body["error"]["message"],
        "You are posting comments too quickly. Slow down."
    );
    let retry: u64 = second.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=15).contains(&retry), "{retry}");
    assert_eq!(app.stored_count(), 1);

    // A form post gets flood control's own page, with its message.
    let form = app
        .post_form(
            &[
                ("comment_post_ID", "1"),
                ("author", "Ada"),
                ("email", "c@example.com"),
                ("comment", "A third thought."),
            ],
            &[],
        )
        .await;
    assert_eq!(form.status, 429);
    assert!(form.header("retry-after").is_some());
    assert!(
        form.text().contains("posting comments too quickly"),
        "{}",
        form.text()
    );
    assert_eq!(app.stored_count(), 1);
}

/// `REPLYGUARD_FLOOD_SECONDS` far beyond any database interval: a first
/// comment is still stored and the next refused (PostgreSQL's intervals end at
/// about 292,000 years).
async fn an_enormous_flood_interval_still_accepts_a_first_comment(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.flood_seconds = u64::MAX / 2).await;
    let first = app.submit(json!({"author_email": "a@example.com"})).await;
    let second = app
        .submit(json!({"author_email": "a@example.com", "content": "Another thought."}))
        .await;

    assert_eq!(first.status, 201, "{}", first.text());
    second.assert_error(429, "too_many_requests");
}

async fn flood_from_one_email_across_ips_is_429(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.flood_seconds = 15;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let post = |ip: &'static str, email: &'static str, content: &'static str| {
        let app = &app;
        async move {
            let body = json!({"post_id": "p", "author_name": "X", "author_email": email, "content": content});
            let res = app
                .client
                .post(app.url("/api/v1/comments"))
                .insert_header(("X-Forwarded-For", ip))
                .send_json(&body)
                .await
                .unwrap();
            res.status().as_u16()
        }
    };

    let first = post("198.51.100.1", "same@example.com", "First words.").await;
    let same_email = post("198.51.100.2", "same@example.com", "Second words.").await;
    let different = post("198.51.100.3", "other@example.com", "Third words.").await;

    assert_eq!((first, same_email, different), (201, 429, 201));
}

async fn forged_forwarded_for_does_not_escape_flood_control(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.flood_seconds = 15).await;
    app.submit(json!({"author_email": "a@example.com"})).await;

    let forged = app
        .client
        .post(app.url("/api/v1/comments"))
        .insert_header(("X-Forwarded-For", "203.0.113.77"))
        .send_json(&json!({"post_id": "p", "author_name": "X", "author_email": "z@example.com", "content": "Forged."}))
        .await
        .unwrap();

    assert_eq!(
        forged.status().as_u16(),
        429,
        "an untrusted peer's X-Forwarded-For is ignored"
    );
}

async fn rejected_requests_do_not_count_for_flood_control(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.flood_seconds = 1).await;

    let invalid = app.submit(json!({"author_email": "not-an-address"})).await;
    let valid = app.submit(json!({})).await;
    let too_soon = app
        .submit(json!({"content": "Quick second comment."}))
        .await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let later = app.submit(json!({"content": "A later comment."})).await;

    assert_eq!(invalid.status, 422);
    assert_eq!(valid.status, 201, "a 422 does not start the flood window");
    assert_eq!(too_soon.status, 429);
    assert_eq!(later.status, 201, "nor does a 429");
}

async fn flood_control_holds_across_two_instances_on_one_database(backend: Backend) {
    let first = spawn_app_with(backend, |s| s.flood_seconds = 15).await;
    let second = first.second_instance(|s| s.flood_seconds = 15).await;

    let results = futures_util::future::join_all((0..6).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        async move {
            app.submit(json!({"author_email": format!("racer{i}@example.com"), "content": format!("Racing comment {i}.")}))
                .await
                .status
        }
    }))
    .await;

    assert_eq!(
        results.iter().filter(|s| **s == 201).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results.iter().filter(|s| **s == 429).count(),
        5,
        "{results:?}"
    );
    assert_eq!(first.stored_count(), 1);
}

async fn writes_and_reads_are_rate_limited_per_ip_apart_but_admin_is_not(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.rate_limit_per_minute = 1;
        s.rate_limit_burst = 2;
        s.read_rate_limit_per_minute = 1;
        s.read_rate_limit_burst = 4;
    })
    .await;

    // Submissions: the burst, then 429.
    for i in 0..2 {
        let reply = app
            .submit(json!({"author_email": format!("w{i}@example.com"),
                           "content": format!("Submission number {i} here.")}))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
    let refused = app
        .submit(json!({"author_email": "w9@example.com", "content": "One too many."}))
        .await;
    refused.assert_error(429, "too_many_requests");
    assert!(refused.header("retry-after").is_some());
    // A browser posting the comment form gets a page it can show, not JSON.
    let form = app
        .post_form(
            &[
                ("comment_post_ID", "p"),
                ("author", "Ada"),
                ("email", "ada@example.com"),
                ("comment", "Hello"),
            ],
            &[],
        )
        .await;
    assert_eq!(form.status, 429);
    assert!(form.header("retry-after").is_some());
    assert!(
        form.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        form.header("content-type")
    );
    assert!(form.text().contains("Too many requests"), "{}", form.text());
    assert_eq!(app.stored_count(), 2);

    // Reads have their own bucket, which the submissions did not touch.
    let mut reads = Vec::new();
    for _ in 0..6 {
        reads.push(app.get("/api/v1/posts/p/comments/count").await);
    }
    assert_eq!(
        reads.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 200, 200, 200, 429, 429]
    );
    reads[4].assert_error(429, "too_many_requests");
    let admin: Vec<u16> = futures_util::future::join_all(
        (0..10).map(|_| app.as_admin("GET", "/api/v1/admin/stats", None)),
    )
    .await
    .iter()
    .map(|r| r.status)
    .collect();
    assert!(admin.iter().all(|s| *s == 200), "{admin:?}");
}

async fn too_many_links_hold_a_comment(backend: Backend) {
    // Scores off (thresholds of 1): only the link rule can hold these.
    let app = spawn_app_with(backend, |s| {
        s.moderation = replyguard::domain::ModerationPolicy::Auto;
        s.spam_threshold = Some(1.0);
        s.ham_threshold = Some(1.0);
    })
    .await;

    let two = app.submit(json!({"content": "See https://a.example and https://b.example for details on the engine."})).await;
    let three = app
        .submit(json!({"content": "See https://a.example, https://b.example and https://c.example for the engine.", "author_email": "x@example.com"}))
        .await;

    assert_eq!(two.json()["status"], "approved", "{}", two.text());
    assert_eq!(three.json()["status"], "pending");
    assert!(
        reasons(&app, record(&three.json()))
            .await
            .contains(&"links:3>2".to_owned())
    );
}

async fn keyword_lists_edited_at_run_time_apply_on_every_instance(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.moderation = replyguard::domain::ModerationPolicy::Auto
    })
    .await;
    let other = app
        .second_instance(|s| s.moderation = replyguard::domain::ModerationPolicy::Auto)
        .await;
    let before = app
        .submit(json!({"content": "I won big at the Casino last night, thanks for asking."}))
        .await;

    let put = app
        .as_admin(
            "PUT",
            "/api/v1/admin/settings/keywords",
            Some(&json!({
                "disallowed_keys": ["casino", "  Casino "],
                "moderation_keys": ["sequel"],
            })),
        )
        .await;
    let banned = app
        .submit(json!({"content": "Best CASINO bonus in town, honestly a nice read.", "author_email": "c@example.com"}))
        .await;
    let held = app
        .submit(json!({"content": "Waiting for the sequel to this article.", "author_email": "d@example.com"}))
        .await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let on_other = other
        .submit(json!({"content": "casino casino on the other instance", "author_email": "e@example.com"}))
        .await;
    let listed = other
        .as_admin("GET", "/api/v1/admin/settings/keywords", None)
        .await
        .json();

    assert_eq!(before.json()["status"], "approved");
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(
        banned.json()["status"],
        "pending",
        "the public is not told it was caught"
    );
    assert_eq!(app.stored_status(record(&banned.json())), "spam");
    assert!(
        reasons(&app, record(&banned.json()))
            .await
            .contains(&"keyword:casino".to_owned())
    );
    assert_eq!(held.json()["status"], "pending");
    assert_eq!(app.stored_status(record(&held.json())), "pending");
    assert!(
        reasons(&app, record(&held.json()))
            .await
            .contains(&"moderation_keyword:sequel".to_owned())
    );
    assert_eq!(
        app.stored_status(record(&on_other.json())),
        "spam",
        "the other instance reloaded the lists"
    );
    assert_eq!(listed["disallowed_keys"], json!(["casino"]));
    assert_eq!(listed["moderation_keys"], json!(["sequel"]));
    app.as_admin(
        "PUT",
        "/api/v1/admin/settings/keywords",
        Some(&json!({"moderation_keys": ["x".repeat(300)]})),
    )
    .await
    .assert_error(422, "validation_failed");
}

async fn keyword_files_seed_the_lists(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("disallowed.txt");
    std::fs::write(&file, "viagra\n\n  CHEAP PILLS \n").unwrap();
    let app = spawn_app_with(backend, |s| s.disallowed_keys_file = Some(file.clone())).await;

    let listed = app
        .as_admin("GET", "/api/v1/admin/settings/keywords", None)
        .await
        .json();
    let caught = app
        .submit(json!({"content": "Buy cheap pills here, what a nice article."}))
        .await;

    assert_eq!(listed["disallowed_keys"], json!(["viagra", "cheap pills"]));
    assert_eq!(app.stored_status(record(&caught.json())), "spam");
}

/// Comments sent at once may be written together (SQLite's writer commits
/// what is waiting in one transaction): the rules hold between them exactly
/// as one after another.
async fn the_rules_hold_between_comments_sent_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let same = json!({"author_email": "twice@example.com", "content": "The very same words."});
    let statuses: Vec<u16> =
        futures_util::future::join_all((0..8).map(|_| app.submit(same.clone())))
            .await
            .iter()
            .map(|r| r.status)
            .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(app.stored_count(), 1);

    let flooded = spawn_app_with(backend, |s| s.flood_seconds = 15).await;
    let statuses: Vec<u16> = futures_util::future::join_all((0..8).map(|i| {
        flooded.submit(json!({"author_email": "hasty@example.com",
                              "content": format!("Hasty thought number {i}.")}))
    }))
    .await
    .iter()
    .map(|r| r.status)
    .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(flooded.stored_count(), 1);
}

/// PostgreSQL's group commit, below HTTP (where which requests share a batch
/// depends on timing): one batch keeps the rules between its rows as one
/// after another, answers each in order, and a row the database refuses fails
/// alone (the batch is sent again one row at a time).
#[actix_web::test]
async fn a_postgres_batch_keeps_the_rules_between_its_rows_and_a_bad_row_fails_alone() {
    use replyguard::storage::StorageError;
    use replyguard::storage::submissions::{Submission, Submitted, submit_batch};

    if crate::helpers::skip_postgres() {
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    let row = |email: &str, content: &str, flood_seconds: u64| Submission {
        post_id: "batch".into(),
        parent_id: None,
        email: email.into(),
        ip: Some("192.0.2.7".into()),
        lock_ip: flood_seconds > 0,
        fingerprints: vec![format!("fp-{content}")],
        flood_seconds,
        status_known: "approved".into(),
        reasons_known: "[]".into(),
        status_new: "pending".into(),
        reasons_new: "[]".into(),
        author_name: "Batch".into(),
        author_url: None,
        content: content.into(),
        permalink: None,
        user_agent: None,
        referrer: None,
        spam_score: Some(0.1),
        model_version: None,
        fingerprint: format!("fp-{content}"),
    };
    let stored =
        |answer: &Result<Submitted, StorageError>| matches!(answer, Ok(Submitted::Stored { .. }));

    let answers = submit_batch(
        &mut app.conn(),
        &[
            row("a@example.com", "first", 0),
            row("a@example.com", "first", 0),
            row("b@example.com", "second", 0),
        ],
    );
    assert!(stored(&answers[0]), "{answers:?}");
    assert!(
        matches!(answers[1], Ok(Submitted::Duplicate)),
        "{answers:?}"
    );
    assert!(stored(&answers[2]), "{answers:?}");
    assert_eq!(app.stored_count(), 2);

    // Flood control between rows: an address new to the database sends three
    // comments in one batch; the first is stored and the next two are flooded.
    let from_new_ip = |email: &str, content: &str, flood_seconds: u64| Submission {
        ip: Some("198.51.100.9".into()),
        ..row(email, content, flood_seconds)
    };
    let answers = submit_batch(
        &mut app.conn(),
        &[
            from_new_ip("c@example.com", "third", 60),
            from_new_ip("d@example.com", "fourth", 60),
            from_new_ip("e@example.com", "fifth", 60),
        ],
    );
    assert!(stored(&answers[0]), "{answers:?}");
    assert!(
        matches!(answers[1], Ok(Submitted::Flooded { .. })),
        "{answers:?}"
    );
    assert!(
        matches!(answers[2], Ok(Submitted::Flooded { .. })),
        "{answers:?}"
    );
    assert_eq!(app.stored_count(), 3);

    // A status the table's CHECK refuses fails the statement; the others of
    // its batch are stored all the same.
    let mut bad = row("f@example.com", "sixth", 0);
    bad.status_new = "bogus".into();
    let answers = submit_batch(
        &mut app.conn(),
        &[
            row("g@example.com", "seventh", 0),
            bad,
            row("h@example.com", "eighth", 0),
        ],
    );
    assert!(stored(&answers[0]), "{answers:?}");
    assert!(
        matches!(answers[1], Err(StorageError::Constraint(_))),
        "{answers:?}"
    );
    assert!(stored(&answers[2]), "{answers:?}");
    assert_eq!(app.stored_count(), 5);
}
