//! Public reads: approved comments only, oldest first, paginated, escaped, and
//! without private fields.

use std::time::Duration;

use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};

both_backends!(
    list_shows_only_approved_comments_oldest_first_without_private_fields,
    list_pages_with_an_opaque_cursor,
    content_html_is_escaped_and_linkified,
    count_counts_approved_comments,
    bad_limit_or_cursor_is_422,
    reads_carry_an_etag_and_a_matching_one_is_304,
    a_decision_shows_at_once_here_and_within_seconds_on_another_instance,
    a_comment_published_on_arrival_shows_at_once,
);

async fn approved(app: &TestApp, post: &str, content: &str) -> i64 {
    let reply = app
        .submit(json!({"post_id": post, "content": content}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let id = reply.json()["id"].as_i64().unwrap();
    app.moderate(id, "approved").await;
    id
}

async fn list_shows_only_approved_comments_oldest_first_without_private_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = approved(&app, "p1", "First comment here.").await;
    app.submit(
        json!({"post_id": "p1", "content": "Still pending.", "author_email": "new@example.com"}),
    )
    .await;
    let second = approved(&app, "p1", "Second comment here.").await;
    approved(&app, "p2", "On another post.").await;

    let body = app.get("/api/v1/posts/p1/comments").await.json();

    assert_eq!(body["post_id"], "p1");
    let ids: Vec<i64> = body["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [first, second]);
    let mut keys: Vec<&str> = body["comments"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "author_name",
            "author_url",
            "content",
            "content_html",
            "created_at",
            "id",
            "parent_id"
        ]
    );
    assert!(!body.to_string().contains("ada@example.com"));
    assert!(body["next_cursor"].is_null());
}

async fn list_pages_with_an_opaque_cursor(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut expected = Vec::new();
    for i in 0..5 {
        expected.push(approved(&app, "paged", &format!("Comment number {i} on this post.")).await);
    }

    let mut seen = Vec::new();
    let mut path = "/api/v1/posts/paged/comments?limit=2".to_owned();
    for _ in 0..5 {
        let body = app.get(&path).await.json();
        seen.extend(
            body["comments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap()),
        );
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/posts/paged/comments?limit=2&cursor={cursor}"),
            None => break,
        }
    }

    assert_eq!(seen, expected);
}

async fn content_html_is_escaped_and_linkified(backend: Backend) {
    let app = spawn_app(backend).await;
    approved(
        &app,
        "html",
        "<script>alert(1)</script>\nsee https://example.org/x",
    )
    .await;

    let body = app.get("/api/v1/posts/html/comments").await.json();

    let html = body["comments"][0]["content_html"].as_str().unwrap();
    assert_eq!(
        html,
        "&lt;script&gt;alert(1)&lt;/script&gt;<br>\nsee <a href=\"https://example.org/x\" rel=\"nofollow ugc\">https://example.org/x</a>"
    );
}

async fn count_counts_approved_comments(backend: Backend) {
    let app = spawn_app(backend).await;
    approved(&app, "c", "One approved comment.").await;
    approved(&app, "c", "Another approved one.").await;
    app.submit(
        json!({"post_id": "c", "content": "Pending comment.", "author_email": "new@example.com"}),
    )
    .await;

    let body = app.get("/api/v1/posts/c/comments/count").await.json();

    assert_eq!(body, json!({"post_id": "c", "count": 2}));
}

async fn bad_limit_or_cursor_is_422(backend: Backend) {
    let app = spawn_app(backend).await;

    for query in ["limit=0", "limit=201", "limit=ten", "cursor=%21%21"] {
        let reply = app.get(&format!("/api/v1/posts/p/comments?{query}")).await;
        reply.assert_error(422, "validation_failed");
    }
}

/// A GET with `If-None-Match`.
async fn get_if_none_match(app: &TestApp, path: &str, etag: &str) -> u16 {
    app.client
        .get(app.url(path))
        .insert_header(("If-None-Match", etag))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn reads_carry_an_etag_and_a_matching_one_is_304(backend: Backend) {
    let app = spawn_app(backend).await;
    approved(&app, "c1", "A comment to cache.").await;
    for path in [
        "/api/v1/posts/c1/comments",
        "/api/v1/posts/c1/comments/count",
    ] {
        let first = app.get(path).await;
        assert_eq!(first.status, 200);
        assert!(
            first
                .header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
        assert_eq!(
            first.header("cache-control").as_deref(),
            Some("public, max-age=10")
        );
        let etag = first.header("etag").expect("an ETag");
        // The same answer again (from the cache), with the same tag.
        let again = app.get(path).await;
        assert_eq!(again.body, first.body);
        assert_eq!(again.header("etag").as_deref(), Some(etag.as_str()));
        assert_eq!(get_if_none_match(&app, path, &etag).await, 304, "{path}");
        assert_eq!(
            get_if_none_match(&app, path, &format!("W/{etag}")).await,
            304
        );
        assert_eq!(get_if_none_match(&app, path, "\"other\"").await, 200);
    }
    // Each page is its own answer.
    let page = app.get("/api/v1/posts/c1/comments?limit=1").await;
    let all = app.get("/api/v1/posts/c1/comments").await;
    assert_eq!(page.json()["comments"], all.json()["comments"]);
    // Errors are not cached answers.
    let bad = app.get("/api/v1/posts/c1/comments?limit=0").await;
    bad.assert_error(422, "validation_failed");
    assert!(bad.header("etag").is_none());
}

async fn comment_ids(app: &TestApp, post: &str) -> Vec<i64> {
    app.get(&format!("/api/v1/posts/{post}/comments"))
        .await
        .json()["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

async fn a_decision_shows_at_once_here_and_within_seconds_on_another_instance(backend: Backend) {
    let first = spawn_app(backend).await;
    let second = first.second_instance(|_| {}).await;
    let kept = approved(&first, "c2", "Already approved.").await;
    let later = first
        .submit(json!({"post_id": "c2", "author_email": "later@example.com",
                       "content": "Approved a little later."}))
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    // Both instances have the list cached, without `later`.
    let before = first.get("/api/v1/posts/c2/comments").await;
    assert_eq!(comment_ids(&first, "c2").await, [kept]);
    assert_eq!(comment_ids(&second, "c2").await, [kept]);
    let count = second.get("/api/v1/posts/c2/comments/count").await.json();
    assert_eq!(count["count"], 1);

    first.moderate(later, "approved").await;
    // At once where the decision was made, with a new tag.
    assert_eq!(comment_ids(&first, "c2").await, [kept, later]);
    let after = first.get("/api/v1/posts/c2/comments").await;
    assert_ne!(after.header("etag"), before.header("etag"));
    // Within the poll interval (2 s) elsewhere; allow for a slow machine.
    let mut seen = Vec::new();
    for _ in 0..40 {
        seen = comment_ids(&second, "c2").await;
        if seen.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(seen, [kept, later]);
    let count = second.get("/api/v1/posts/c2/comments/count").await.json();
    assert_eq!(count["count"], 2);

    // Taking a comment back out works the same way.
    second.moderate(kept, "trash").await;
    assert_eq!(comment_ids(&second, "c2").await, [later]);
    for _ in 0..40 {
        seen = comment_ids(&first, "c2").await;
        if seen.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(seen, [later]);
}

async fn a_comment_published_on_arrival_shows_at_once(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.moderation = replyguard::domain::ModerationPolicy::Auto;
    })
    .await;
    assert!(comment_ids(&app, "c3").await.is_empty());
    let reply = app
        .submit(json!({"post_id": "c3", "content": "Published on arrival, thanks."}))
        .await;
    assert_eq!(reply.json()["status"], "approved", "{}", reply.text());
    let id = reply.json()["id"].as_i64().unwrap();
    assert_eq!(comment_ids(&app, "c3").await, [id]);
}
