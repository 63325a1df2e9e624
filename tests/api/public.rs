//! Public reads: approved comments only, oldest first, paginated, escaped, and
//! without private fields.

use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

both_backends!(
    list_shows_only_approved_comments_oldest_first_without_private_fields,
    list_pages_with_an_opaque_cursor,
    content_html_is_escaped_and_linkified,
    count_counts_approved_comments,
    bad_limit_or_cursor_is_422,
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
