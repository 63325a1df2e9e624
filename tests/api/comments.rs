//! POST /api/v1/comments: JSON and WordPress form posts, validation, redirects.

use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app, spawn_app_with};

both_backends!(
    json_submission_is_stored_pending_and_answered_201,
    integer_post_id_comes_back_as_a_string,
    every_invalid_field_gets_422_and_stores_nothing,
    content_limit_is_counted_in_bytes,
    wordpress_form_post_redirects_to_an_allowed_referer,
    form_redirect_to_a_foreign_origin_is_ignored,
    form_post_without_allowed_target_gets_a_thank_you_page,
    form_validation_error_is_an_html_page_with_the_same_status,
    reply_must_target_an_approved_comment_of_the_same_post,
    request_metadata_is_recorded,
    forwarded_for_is_believed_only_from_trusted_proxies,
);

async fn json_submission_is_stored_pending_and_answered_201(backend: Backend) {
    let app = spawn_app(backend).await;

    let reply = app.submit(json!({})).await;

    assert_eq!(reply.status, 201, "{}", reply.text());
    let body = reply.json();
    let id = body["id"].as_i64().unwrap();
    assert_eq!(body["post_id"], "hello-world");
    assert_eq!(
        body["status"], "pending",
        "first comment waits under known-authors"
    );
    let created = body["created_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "{created}"
    );
    assert_eq!(app.stored_count(), 1);
    assert_eq!(app.stored_status(id), "pending");
}

async fn integer_post_id_comes_back_as_a_string(backend: Backend) {
    let app = spawn_app(backend).await;

    let reply = app.submit(json!({"post_id": 4242, "parent_id": 0})).await;

    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.json()["post_id"], "4242");
}

async fn every_invalid_field_gets_422_and_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases = [
        ("missing post_id", json!({"post_id": null}), "post_id"),
        (
            "post_id too long",
            json!({"post_id": "p".repeat(256)}),
            "post_id",
        ),
        ("post_id of wrong type", json!({"post_id": [1]}), "post_id"),
        ("missing name", json!({"author_name": null}), "author_name"),
        ("blank name", json!({"author_name": "   "}), "author_name"),
        (
            "name too long",
            json!({"author_name": "n".repeat(246)}),
            "author_name",
        ),
        (
            "name of wrong type",
            json!({"author_name": 7}),
            "author_name",
        ),
        ("missing email", json!({"author_email": ""}), "author_email"),
        (
            "invalid email",
            json!({"author_email": "ada.example.com"}),
            "author_email",
        ),
        (
            "email too long",
            json!({"author_email": format!("{}@example.com", "a".repeat(90))}),
            "author_email",
        ),
        (
            "javascript url",
            json!({"author_url": "javascript:alert(1)"}),
            "author_url",
        ),
        (
            "url too long",
            json!({"author_url": format!("https://a.example/{}", "p".repeat(190))}),
            "author_url",
        ),
        ("missing content", json!({"content": null}), "content"),
        (
            "invisible content",
            json!({"content": " \u{200B}\n\t"}),
            "content",
        ),
        (
            "NUL in content",
            json!({"content": "hi\u{0}there"}),
            "content",
        ),
        (
            "parent not a number",
            json!({"parent_id": "abc"}),
            "parent_id",
        ),
        (
            "parent does not exist",
            json!({"parent_id": 999_999}),
            "parent_id",
        ),
        (
            "permalink not a url",
            json!({"permalink": "javascript:x"}),
            "permalink",
        ),
    ];
    for (case, overrides, field) in cases {
        let reply = app.submit(overrides).await;

        let body = reply.assert_error(422, "validation_failed");
        let messages = &body["error"]["fields"][field];
        assert!(
            messages.as_array().is_some_and(|m| !m.is_empty()),
            "case {case}: no message for {field} in {body}"
        );
    }
    assert_eq!(app.stored_count(), 0, "a rejected request stores nothing");
}

async fn content_limit_is_counted_in_bytes(backend: Backend) {
    let app = spawn_app(backend).await;

    let at_limit = app.submit(json!({"content": "a".repeat(65_525)})).await;
    let over = app.submit(json!({"content": "é".repeat(32_763)})).await;

    assert_eq!(at_limit.status, 201, "{}", at_limit.text());
    over.assert_error(422, "validation_failed");
    assert_eq!(app.stored_count(), 1);
}

fn wordpress_form<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("comment_post_ID", "7"),
        ("comment_parent", "0"),
        ("author", "Grace Hopper"),
        ("email", "grace@example.com"),
        ("url", ""),
        ("comment", "Lovely write-up, thank you for sharing it."),
        ("submit", "Post Comment"),
    ];
    fields.extend_from_slice(extra);
    fields
}

async fn wordpress_form_post_redirects_to_an_allowed_referer(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.allowed_origins = vec!["https://blog.example".into()];
    })
    .await;

    let reply = app
        .post_form(
            &wordpress_form(&[]),
            &[("Referer", "https://blog.example/2026/hello/")],
        )
        .await;

    assert_eq!(reply.status, 303, "{}", reply.text());
    let location = reply.header("location").unwrap();
    assert!(
        location.starts_with("https://blog.example/2026/hello/#comment-"),
        "{location}"
    );
    let id: i64 = location.rsplit('-').next().unwrap().parse().unwrap();
    assert_eq!(app.stored_status(id), "pending");
}

async fn form_redirect_to_a_foreign_origin_is_ignored(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.allowed_origins = vec!["https://blog.example".into()];
    })
    .await;

    let reply = app
        .post_form(
            &wordpress_form(&[
                ("redirect_to", "https://evil.example/phish"),
                ("permalink", "https://blog.example/post/7"),
            ]),
            &[],
        )
        .await;

    assert_eq!(reply.status, 303);
    let location = reply.header("location").unwrap();
    assert!(
        location.starts_with("https://blog.example/post/7#comment-"),
        "{location}"
    );
}

async fn form_post_without_allowed_target_gets_a_thank_you_page(backend: Backend) {
    let app = spawn_app(backend).await;

    let reply = app
        .post_form(
            &wordpress_form(&[("redirect_to", "https://evil.example/")]),
            &[("Referer", "https://evil.example/")],
        )
        .await;

    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let page = reply.text();
    assert!(
        page.contains("Your comment is awaiting moderation."),
        "{page}"
    );
    assert!(!page.contains("evil.example"), "{page}");
    assert_eq!(app.stored_count(), 1);
}

async fn form_validation_error_is_an_html_page_with_the_same_status(backend: Backend) {
    let app = spawn_app(backend).await;

    let reply = app
        .post_form(
            &[
                ("comment_post_ID", "7"),
                ("author", "<b>X</b>"),
                ("email", "nope"),
                ("comment", ""),
            ],
            &[],
        )
        .await;

    assert_eq!(reply.status, 422);
    let page = reply.text();
    assert!(
        page.contains("Please enter a valid email address."),
        "{page}"
    );
    assert!(page.contains("Please type your comment text."), "{page}");
    assert!(page.contains("history.back()"), "{page}");
    assert_eq!(app.stored_count(), 0);

    // Bytes that are not UTF-8, percent-encoded or raw, are refused rather
    // than stored as U+FFFD.
    for body in [
        b"comment_post_ID=7&author=Ada&email=ada%40example.com&comment=hi%FFthere".to_vec(),
        b"comment_post_ID=7&author=Ada&email=ada%40example.com&comment=hi\xFFthere".to_vec(),
    ] {
        let reply = app
            .post_raw(
                "/api/v1/comments",
                "application/x-www-form-urlencoded",
                body,
            )
            .await;
        assert_eq!(reply.status, 400, "{}", reply.text());
        assert!(reply.text().contains("UTF-8"), "{}", reply.text());
    }
    assert_eq!(app.stored_count(), 0);
}

async fn reply_must_target_an_approved_comment_of_the_same_post(backend: Backend) {
    let app = spawn_app(backend).await;
    let parent = app.submit(json!({})).await.json()["id"].as_i64().unwrap();

    let to_pending = app
        .submit(json!({"parent_id": parent, "content": "A reply to it."}))
        .await;
    app.moderate(parent, "approved").await;
    let other_post = app
        .submit(json!({"parent_id": parent, "post_id": "other", "content": "Elsewhere."}))
        .await;
    let ok = app
        .submit(json!({"parent_id": parent.to_string(), "content": "A fine reply."}))
        .await;

    to_pending.assert_error(422, "validation_failed");
    other_post.assert_error(422, "validation_failed");
    assert_eq!(ok.status, 201, "{}", ok.text());
    assert_eq!(app.stored_count(), 2);
}

async fn request_metadata_is_recorded(backend: Backend) {
    use diesel::prelude::*;
    use replyguard::storage::schema::comments;
    let app = spawn_app(backend).await;

    let reply = app
        .post_form(
            &wordpress_form(&[]),
            &[
                ("User-Agent", "TestBrowser/1.0"),
                ("Referer", "https://blog.example/p"),
            ],
        )
        .await;

    assert_eq!(reply.status, 200);
    let (ip, ua, referrer): (Option<String>, Option<String>, Option<String>) = comments::table
        .select((comments::ip, comments::user_agent, comments::referrer))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(ua.as_deref(), Some("TestBrowser/1.0"));
    assert_eq!(referrer.as_deref(), Some("https://blog.example/p"));
}

async fn forwarded_for_is_believed_only_from_trusted_proxies(backend: Backend) {
    use diesel::prelude::*;
    use replyguard::storage::schema::comments;
    let untrusted = spawn_app(backend).await;
    let trusted = spawn_app_with(backend, |s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]
    })
    .await;
    let headers = [("X-Forwarded-For", "203.0.113.50")];

    for app in [&untrusted, &trusted] {
        let reply = app.post_form(&wordpress_form(&[]), &headers).await;
        assert_eq!(reply.status, 200);
    }

    let ip_of = |app: &crate::helpers::TestApp| -> Option<String> {
        comments::table
            .select(comments::ip)
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!(
        ip_of(&untrusted).as_deref(),
        Some("127.0.0.1"),
        "forged header ignored"
    );
    assert_eq!(ip_of(&trusted).as_deref(), Some("203.0.113.50"));
}
