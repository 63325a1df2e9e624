//! The web pages (SPEC §10) as HTTP: embedded assets with their policy and
//! ETags, the demo article rendered on the server, form posts back to it, and
//! the pivot endpoint the moderation page's spam-wave action uses. The pages'
//! behaviour in a browser is tested by `scripts/browser-tests`.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};

both_backends!(
    assets_are_served_with_policy_and_etag,
    demo_renders_approved_comments_threaded_and_escaped,
    form_posts_can_return_to_a_page_of_this_server_only,
    pivot_previews_then_moves_pending_comments_sharing_an_ip,
    pivot_by_email_and_by_link_domain,
    pivot_refuses_what_it_cannot_do,
);

async fn assets_are_served_with_policy_and_etag(backend: Backend) {
    let app = spawn_app(backend).await;
    for (path, kind) in [
        ("/admin/", "text/html"),
        ("/admin/admin.js", "text/javascript"),
        ("/admin/admin.css", "text/css"),
        ("/embed/comments.js", "text/javascript"),
        ("/embed/comments.css", "text/css"),
        ("/demo/demo.css", "text/css"),
    ] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert!(
            reply.header("content-type").unwrap().starts_with(kind),
            "{path}"
        );
        assert_eq!(
            reply.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        let etag = reply.header("etag").expect("an ETag");
        let again = app
            .client
            .get(app.url(path))
            .insert_header(("If-None-Match", etag.as_str()))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status().as_u16(), 304, "{path}");
    }
    let admin = app.get("/admin/").await;
    let policy = admin.header("content-security-policy").unwrap();
    assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"));
    assert!(admin.text().contains("Admin token"));
    // Without the slash, a redirect to it; unknown files are 404 as JSON.
    let bare = app.get("/admin").await;
    assert_eq!(bare.status, 308);
    assert_eq!(bare.header("location").as_deref(), Some("/admin/"));
    app.get("/admin/nothing.js")
        .await
        .assert_error(404, "not_found");
}

async fn approve(app: &TestApp, overrides: Value) -> i64 {
    let reply = app.submit(overrides).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let id = reply.json()["id"].as_i64().unwrap();
    app.moderate(id, "approved").await;
    id
}

async fn demo_renders_approved_comments_threaded_and_escaped(backend: Backend) {
    let app = spawn_app(backend).await;
    let parent = approve(
        &app,
        json!({"post_id": "demo-t", "author_name": "<b>Ann</b>", "author_url": "https://ann.example/",
               "content": "First <script>alert(1)</script> see https://example.com/x"}),
    )
    .await;
    let child = approve(
        &app,
        json!({"post_id": "demo-t", "parent_id": parent, "author_email": "bo@example.com",
               "content": "A reply to the first one."}),
    )
    .await;
    let pending = app
        .submit(
            json!({"post_id": "demo-t", "author_email": "cy@example.com",
                       "content": "Still waiting for a moderator here."}),
        )
        .await;
    assert_eq!(pending.status, 201);

    let page = app.get("/demo/?post=demo-t").await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-security-policy").is_some());
    let html = page.text();
    assert!(html.contains(r#"data-replyguard-post="demo-t""#));
    assert!(html.contains(r#"name="comment_post_ID" value="demo-t""#));
    assert!(html.contains(r#"name="redirect_to" value="/demo/?post=demo%2Dt""#));
    for label in [
        "Leave a Reply",
        "Your email address will not be published.",
        "Post Comment",
    ] {
        assert!(html.contains(label), "{label}");
    }
    assert!(html.contains("&lt;b&gt;Ann&lt;/b&gt;") && !html.contains("<b>Ann</b>"));
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script>alert"));
    assert!(html.contains(r#"<a href="https://ann.example/" rel="nofollow ugc external">"#));
    assert!(html.contains(r#"rel="nofollow ugc">https://example.com/x</a>"#));
    // The reply sits in its parent's list; the pending comment is not shown.
    let parent_at = html.find(&format!("id=\"comment-{parent}\"")).unwrap();
    let children_at = html[parent_at..].find("rg-children").unwrap() + parent_at;
    let child_at = html.find(&format!("id=\"comment-{child}\"")).unwrap();
    assert!(parent_at < children_at && children_at < child_at);
    assert!(!html.contains("Still waiting"));
    assert!(!html.contains("awaiting moderation.</p>"));

    // A post id is text in an attribute, never markup; `{{…}}` is not expanded.
    let hostile = app
        .get("/demo/?post=%22%3E%3Cscript%3E%7B%7Bcomments%7D%7D")
        .await;
    assert_eq!(hostile.status, 200);
    let html = hostile.text();
    assert!(
        html.contains("&quot;&gt;&lt;script&gt;{{comments}}"),
        "{html}"
    );
    assert!(!html.contains("\"><script>"));
    // No post id that could not be stored.
    app.get("/demo/?post=%20")
        .await
        .assert_error(404, "not_found");
    let told = app.get("/demo/?post=demo-t&awaiting_moderation=1").await;
    assert!(told.text().contains("Your comment is awaiting moderation."));
}

async fn form_posts_can_return_to_a_page_of_this_server_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let base = [
        ("comment_post_ID", "demo"),
        ("author", "Dee"),
        ("comment", "A comment from the demo page without script."),
    ];
    let mut pairs = base.to_vec();
    pairs.extend([
        ("email", "dee1@example.com"),
        ("redirect_to", "/demo/?post=demo"),
    ]);
    let reply = app.post_form(&pairs, &[]).await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    let location = reply.header("location").unwrap();
    assert!(
        location.starts_with("/demo/?post=demo&awaiting_moderation=1#comment-"),
        "{location}"
    );
    // Another host, written so that some browsers would read it as one, is
    // not a path of this server: the thank-you page, no redirect.
    for (n, foreign) in [
        "//evil.example/x",
        "/\\evil.example/x",
        "https://evil.example/",
    ]
    .into_iter()
    .enumerate()
    {
        let email = format!("dee-foreign{n}@example.com");
        let mut pairs = base.to_vec();
        pairs.extend([("email", email.as_str()), ("redirect_to", foreign)]);
        let reply = app.post_form(&pairs, &[]).await;
        assert_eq!(reply.status, 200, "{foreign}");
        assert!(reply.header("location").is_none());
        assert!(reply.text().contains("awaiting moderation"));
    }
    // A refused post links back to the page.
    let reply = app
        .post_form(
            &[
                ("comment_post_ID", "demo"),
                ("author", "Dee"),
                ("email", "bad"),
                ("comment", "x"),
                ("redirect_to", "/demo/?post=demo"),
            ],
            &[],
        )
        .await;
    assert_eq!(reply.status, 422);
    assert!(reply.text().contains(r#"href="/demo/?post=demo""#));
}

/// Submits as if from `ip` (the app trusts 127.0.0.1 as a proxy).
async fn submit_from(app: &TestApp, ip: &str, overrides: Value) -> i64 {
    let mut body = crate::helpers::valid_comment();
    for (k, v) in overrides.as_object().unwrap() {
        body[k] = v.clone();
    }
    let mut res = app
        .client
        .post(app.url("/api/v1/comments"))
        .insert_header(("X-Forwarded-For", ip))
        .send_json(&body)
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let body: Value = res.json().await.unwrap();
    body["id"].as_i64().unwrap()
}

async fn trusting_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        s.moderation = replyguard::domain::ModerationPolicy::Manual;
        // Every comment reaches the queue, whatever the model thinks of it.
        s.spam_threshold = Some(0.9999);
    })
    .await
}

fn pivot_path(id: i64) -> String {
    format!("/api/v1/admin/comments/{id}/pivot")
}

async fn pivot_previews_then_moves_pending_comments_sharing_an_ip(backend: Backend) {
    let app = trusting_app(backend).await;
    let mut wave = Vec::new();
    for i in 0..3 {
        let overrides = json!({"author_email": format!("w{i}@example.com"),
                               "content": format!("Wave message number {i} here.")});
        wave.push(submit_from(&app, "203.0.113.9", overrides).await);
    }
    let other = submit_from(
        &app,
        "198.51.100.1",
        json!({"author_email": "o@example.com"}),
    )
    .await;
    // An already moderated comment from the same IP is left as it is.
    let decided = submit_from(
        &app,
        "203.0.113.9",
        json!({"author_email": "d@example.com", "content": "Decided earlier."}),
    )
    .await;
    app.moderate(decided, "approved").await;

    let preview = app
        .as_admin(
            "POST",
            &pivot_path(wave[1]),
            Some(&json!({"by": "ip", "preview": true})),
        )
        .await;
    assert_eq!(preview.status, 200, "{}", preview.text());
    let preview = preview.json();
    assert_eq!(preview["value"], "203.0.113.9");
    assert_eq!(preview["count"], 3);
    assert_eq!(preview["ids"], json!(wave));
    assert_eq!(preview["more"], false);
    for id in wave.iter().chain([&other]) {
        assert_eq!(
            app.stored_status(*id),
            "pending",
            "a preview changes nothing"
        );
    }

    let done = app
        .as_admin("POST", &pivot_path(wave[1]), Some(&json!({"by": "ip"})))
        .await;
    assert_eq!(done.status, 200, "{}", done.text());
    let done = done.json();
    assert_eq!(done["updated"], json!(wave));
    assert_eq!(done["conflicts"], json!([]));
    for id in &wave {
        assert_eq!(app.stored_status(*id), "spam");
    }
    assert_eq!(app.stored_status(other), "pending");
    assert_eq!(app.stored_status(decided), "approved");
    // Each became a labelled spam example with an audit event.
    let events = app
        .as_admin(
            "GET",
            &format!("/api/v1/admin/comments/{}/events", wave[0]),
            None,
        )
        .await
        .json();
    assert_eq!(events["events"][0]["to"], "spam");
    // Run again: nothing pending is left to move.
    let again = app
        .as_admin(
            "POST",
            &pivot_path(wave[1]),
            Some(&json!({"by": "ip", "preview": true})),
        )
        .await
        .json();
    assert_eq!(again["count"], 0);
}

async fn pivot_by_email_and_by_link_domain(backend: Backend) {
    let app = trusting_app(backend).await;
    let a = submit_from(
        &app,
        "192.0.2.1",
        json!({"author_email": "Spam@Example.com",
        "content": "One from this sender."}),
    )
    .await;
    let b = submit_from(
        &app,
        "192.0.2.2",
        json!({"author_email": "spam@example.com",
        "content": "Another from this sender."}),
    )
    .await;
    let linked = submit_from(
        &app,
        "192.0.2.3",
        json!({"author_email": "l1@example.com",
        "content": "Buy at http://shop.pills.test/buy now."}),
    )
    .await;
    let site = submit_from(
        &app,
        "192.0.2.4",
        json!({"author_email": "l2@example.com",
        "author_url": "https://www.pills.test/", "content": "Nice post."}),
    )
    .await;
    // Links nowhere, or to a lookalike the substring search also finds.
    let mention = submit_from(
        &app,
        "192.0.2.5",
        json!({"author_email": "l3@example.com",
        "content": "I read about pills somewhere, no link."}),
    )
    .await;
    let lookalike = submit_from(
        &app,
        "192.0.2.6",
        json!({"author_email": "l4@example.com",
        "content": "See https://notpills.test/x for more."}),
    )
    .await;

    let by_email = app
        .as_admin(
            "POST",
            &pivot_path(b),
            Some(&json!({"by": "email", "preview": true})),
        )
        .await
        .json();
    assert_eq!(by_email["value"], "spam@example.com");
    assert_eq!(by_email["ids"], json!([a, b]));

    let by_domain = app
        .as_admin(
            "POST",
            &pivot_path(linked),
            Some(&json!({"by": "domain", "status": "trash"})),
        )
        .await;
    assert_eq!(by_domain.status, 200, "{}", by_domain.text());
    let by_domain = by_domain.json();
    assert_eq!(by_domain["value"], "pills.test");
    assert_eq!(by_domain["updated"], json!([linked, site]));
    assert_eq!(app.stored_status(linked), "trash");
    assert_eq!(app.stored_status(site), "trash");
    assert_eq!(app.stored_status(mention), "pending");
    assert_eq!(app.stored_status(lookalike), "pending");
}

async fn pivot_refuses_what_it_cannot_do(backend: Backend) {
    let app = trusting_app(backend).await;
    let id = submit_from(
        &app,
        "192.0.2.1",
        json!({"content": "No links at all here."}),
    )
    .await;
    let reply = app
        .admin("POST", &pivot_path(id), Some(&json!({"by": "ip"})), None)
        .await;
    reply.assert_error(401, "unauthorized");
    let reply = app
        .as_admin(
            "POST",
            &pivot_path(id),
            Some(&json!({"by": "domain", "preview": true})),
        )
        .await;
    let body = reply.assert_error(422, "validation_failed");
    assert_eq!(
        body["error"]["fields"]["by"][0],
        "This comment links to no website."
    );
    app.as_admin("POST", &pivot_path(id), Some(&json!({"by": "name"})))
        .await
        .assert_error(422, "validation_failed");
    app.as_admin(
        "POST",
        &pivot_path(id),
        Some(&json!({"by": "ip", "status": "gone"})),
    )
    .await
    .assert_error(422, "validation_failed");
    app.as_admin("POST", &pivot_path(id + 100), Some(&json!({"by": "ip"})))
        .await
        .assert_error(404, "not_found");
    app.as_admin(
        "POST",
        &pivot_path(id),
        Some(&json!({"by": "ip", "extra": 1})),
    )
    .await
    .assert_error(422, "validation_failed");
    assert_eq!(app.stored_status(id), "pending");
}
