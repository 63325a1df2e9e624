//! The Akismet-compatible endpoints (SPEC §8) as clients call them: form bodies,
//! the key in `api_key`, `key` or the Host name, JSON submits, test values.

use chrono::{SubsecRound, Utc};
use replyguard::auth::hash_token;
use replyguard::storage::tokens;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{ADMIN_TOKEN, Backend, Reply, TestApp, spawn_app, spawn_app_with};

both_backends!(
    verify_key_answers_valid_or_invalid_with_debug_help,
    the_key_may_come_from_api_key_key_or_the_host_name,
    comment_check_answers_ham_and_spam_and_stores_nothing,
    akismet_test_values_behave_as_on_akismet,
    blatant_spam_gets_the_discard_tip,
    missing_blog_or_user_ip_is_invalid,
    submissions_add_labelled_examples_unless_a_test,
    submissions_accept_json_bodies,
    akismet_only_tokens_cannot_moderate,
    usage_limit_reports_no_limit_and_counts_checks,
    what_real_clients_send_is_answered_not_refused,
);

const BLOG: &str = "https://blog.example";
const HAM_TEXT: &str =
    "Thanks for the write-up, the second example made the borrow checker click for me.";
const SPAM_TEXT: &str = "CHECK OUT MY CHANNEL!!! subscribe http://bit.ly/free-money win $1000 now";

/// A form post to an Akismet path with optional extra headers.
async fn akismet(
    app: &TestApp,
    path: &str,
    pairs: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = app.client.post(app.url(path));
    for (name, value) in headers {
        req = req.insert_header((*name, *value));
    }
    let mut res = req.send_form(&pairs).await.unwrap();
    let body = res.body().await.unwrap().to_vec();
    Reply {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body,
    }
}

/// comment-check parameters as the WordPress plugin sends them, with `key`.
fn check_with<'a>(
    key: &'a str,
    content: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![
        ("api_key", key),
        ("blog", BLOG),
        ("user_ip", "203.0.113.7"),
        ("user_agent", "Mozilla/5.0"),
        ("comment_type", "comment"),
        ("comment_author", "Ada"),
        ("comment_author_email", "ada@example.com"),
        ("comment_content", content),
        // What the WordPress plugin adds: accepted and ignored.
        ("POST_akismet_comment_nonce", "abc"),
        ("HTTP_ACCEPT", "text/html"),
        ("comment_context[]", "reply"),
    ];
    pairs.extend_from_slice(extra);
    pairs
}

fn check<'a>(content: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    check_with(ADMIN_TOKEN, content, extra)
}

fn assert_plain(reply: &Reply, body: &str) {
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), body);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{:?}",
        reply.header("content-type")
    );
}

async fn verify_key_answers_valid_or_invalid_with_debug_help(backend: Backend) {
    let app = spawn_app(backend).await;

    let good = akismet(
        &app,
        "/1.1/verify-key",
        &[("key", ADMIN_TOKEN), ("blog", BLOG)],
        &[],
    )
    .await;
    let bad = akismet(
        &app,
        "/1.1/verify-key",
        &[("key", "rg_nope"), ("blog", BLOG)],
        &[],
    )
    .await;
    let none = akismet(&app, "/1.1/verify-key", &[("blog", BLOG)], &[]).await;

    assert_plain(&good, "valid");
    assert_eq!(good.header("x-akismet-debug-help"), None);
    for reply in [&bad, &none] {
        assert_plain(reply, "invalid");
        assert!(
            reply
                .header("x-akismet-debug-help")
                .is_some_and(|h| h.contains("token"))
        );
    }
}

async fn the_key_may_come_from_api_key_key_or_the_host_name(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = Utc::now().trunc_subsecs(6).naive_utc();
    // A token as `token create` makes them: lower case, so a host name keeps it.
    let token = replyguard::auth::generate_token().unwrap();
    tokens::insert_with_scope(&mut app.conn(), "site", &hash_token(&token), "akismet", now)
        .unwrap();
    let host = format!("{token}.localhost:8080");
    let upper = format!("{}.localhost", token.to_uppercase());
    let without_key = check(HAM_TEXT, &[]);
    let without_key: Vec<_> = without_key
        .into_iter()
        .filter(|(k, _)| *k != "api_key")
        .collect();

    let by_host = akismet(&app, "/1.1/comment-check", &without_key, &[("Host", &host)]).await;
    let by_old_key = akismet(
        &app,
        "/1.1/comment-check",
        &[&without_key[..], &[("key", &token)]].concat(),
        &[],
    )
    .await;
    let body_wins = akismet(
        &app,
        "/1.1/comment-check",
        &[&without_key[..], &[("api_key", &token)]].concat(),
        &[("Host", "rest.akismet.com")],
    )
    .await;
    let ip_host = akismet(
        &app,
        "/1.1/comment-check",
        &without_key,
        &[("Host", "127.0.0.1:8080")],
    )
    .await;
    let folded = akismet(
        &app,
        "/1.1/comment-check",
        &without_key,
        &[("Host", &upper)],
    )
    .await;

    for reply in [&by_host, &by_old_key, &body_wins] {
        assert_plain(reply, "false");
    }
    assert_plain(&ip_host, "invalid");
    // Host names are case-insensitive: an upper-cased label still names the token.
    assert_plain(&folded, "false");
}

async fn comment_check_answers_ham_and_spam_and_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;

    let ham = akismet(&app, "/1.1/comment-check", &check(HAM_TEXT, &[]), &[]).await;
    let spam = akismet(&app, "/1.1/comment-check", &check(SPAM_TEXT, &[]), &[]).await;

    assert_plain(&ham, "false");
    assert_plain(&spam, "true");
    let guids: Vec<String> = [&ham, &spam]
        .iter()
        .map(|r| r.header("x-akismet-guid").unwrap())
        .collect();
    assert!(guids[0].len() >= 16 && guids[0] != guids[1], "{guids:?}");
    assert_eq!(app.stored_count(), 0, "comment-check stores nothing");
    let stats = app
        .as_admin("GET", "/api/v1/admin/training-examples/stats", None)
        .await
        .json();
    assert_eq!(stats["total"], 0);
}

async fn akismet_test_values_behave_as_on_akismet(backend: Backend) {
    let app = spawn_app(backend).await;

    let mut by_email = check(HAM_TEXT, &[]);
    by_email.insert(
        0,
        (
            "comment_author_email",
            "akismet-guaranteed-spam@example.com",
        ),
    );
    let email = akismet(&app, "/1.1/comment-check", &by_email, &[]).await;
    // The first value of a repeated name counts, so put the test values first.
    let mut by_author = check(HAM_TEXT, &[]);
    by_author.insert(0, ("comment_author", "viagra-test-123"));
    let author = akismet(&app, "/1.1/comment-check", &by_author, &[]).await;
    let admin = akismet(
        &app,
        "/1.1/comment-check",
        &check(SPAM_TEXT, &[("user_role", "administrator")]),
        &[],
    )
    .await;

    assert_plain(&author, "true");
    assert_plain(&email, "true");
    assert_plain(&admin, "false");
}

async fn blatant_spam_gets_the_discard_tip(backend: Backend) {
    let app = spawn_app(backend).await;
    let keywords = json!({"disallowed_keys": ["cheap-pills.example"]});
    app.as_admin("PUT", "/api/v1/admin/settings/keywords", Some(&keywords))
        .await;

    let trap = akismet(
        &app,
        "/1.1/comment-check",
        &check(
            HAM_TEXT,
            &[
                ("honeypot_field_name", "hp_field"),
                ("hp_field", "I am a bot"),
            ],
        ),
        &[],
    )
    .await;
    let keyword = akismet(
        &app,
        "/1.1/comment-check",
        &check("Visit cheap-pills.example today", &[]),
        &[],
    )
    .await;
    let plain_spam = akismet(&app, "/1.1/comment-check", &check(SPAM_TEXT, &[]), &[]).await;
    let empty_trap = akismet(
        &app,
        "/1.1/comment-check",
        &check(
            HAM_TEXT,
            &[("honeypot_field_name", "hp_field"), ("hp_field", "")],
        ),
        &[],
    )
    .await;

    for reply in [&trap, &keyword] {
        assert_plain(reply, "true");
        assert_eq!(
            reply.header("x-akismet-pro-tip").as_deref(),
            Some("discard")
        );
    }
    assert_plain(&empty_trap, "false");
    assert_eq!(empty_trap.header("x-akismet-pro-tip"), None);
    // The shipped model is sure of this one, but not 99% sure.
    assert_plain(&plain_spam, "true");
}

async fn missing_blog_or_user_ip_is_invalid(backend: Backend) {
    let app = spawn_app(backend).await;
    let pairs = check(HAM_TEXT, &[]);
    let no_blog: Vec<_> = pairs
        .iter()
        .copied()
        .filter(|(k, _)| *k != "blog")
        .collect();
    let no_ip: Vec<_> = pairs
        .iter()
        .copied()
        .filter(|(k, _)| *k != "user_ip")
        .collect();

    let blog = akismet(&app, "/1.1/comment-check", &no_blog, &[]).await;
    let ip = akismet(&app, "/1.1/comment-check", &no_ip, &[]).await;

    assert_plain(&blog, "invalid");
    assert!(
        blog.header("x-akismet-debug-help")
            .is_some_and(|h| h.contains("blog"))
    );
    assert_plain(&ip, "invalid");
    assert!(
        ip.header("x-akismet-debug-help")
            .is_some_and(|h| h.contains("user_ip"))
    );
}

async fn submissions_add_labelled_examples_unless_a_test(backend: Backend) {
    let app = spawn_app(backend).await;
    let thanks = "Thanks for making the web a better place.";

    let spam = akismet(&app, "/1.1/submit-spam", &check(SPAM_TEXT, &[]), &[]).await;
    let again = akismet(&app, "/1.1/submit-spam", &check(SPAM_TEXT, &[]), &[]).await;
    let ham = akismet(&app, "/1.1/submit-ham", &check(HAM_TEXT, &[]), &[]).await;
    let test = akismet(
        &app,
        "/1.1/submit-ham",
        &check("A test ham only", &[("is_test", "1")]),
        &[],
    )
    .await;

    for reply in [&spam, &again, &ham, &test] {
        assert_plain(reply, thanks);
    }
    let refused = akismet(
        &app,
        "/1.1/submit-spam",
        &check_with("wrong", "x", &[]),
        &[],
    )
    .await;
    assert_plain(&refused, "invalid");
    let stats = app
        .as_admin("GET", "/api/v1/admin/training-examples/stats", None)
        .await
        .json();
    assert_eq!(stats["by_source"]["akismet"], 2, "{stats}");
    assert_eq!(stats["by_label"], json!({"spam": 1, "ham": 1}), "{stats}");
}

async fn submissions_accept_json_bodies(backend: Backend) {
    let app = spawn_app(backend).await;
    let body: Value = json!({
        "api_key": ADMIN_TOKEN, "blog": BLOG, "user_ip": "203.0.113.7",
        "comment_content": SPAM_TEXT, "comment_author": "Spammer", "is_test": false,
    });

    let reply = app.post_json("/1.1/submit-spam", &body).await;
    let not_object = app
        .post_raw("/1.1/submit-spam", "application/json", b"[1]".to_vec())
        .await;

    assert_plain(&reply, "Thanks for making the web a better place.");
    // Akismet answers what it cannot read with `invalid`, not an HTTP error.
    assert_plain(&not_object, "invalid");
    let stats = app
        .as_admin("GET", "/api/v1/admin/training-examples/stats", None)
        .await
        .json();
    assert_eq!(stats["by_source"]["akismet"], 1, "{stats}");
}

async fn akismet_only_tokens_cannot_moderate(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = Utc::now().trunc_subsecs(6).naive_utc();
    tokens::insert_with_scope(
        &mut app.conn(),
        "plugin",
        &hash_token("rg_plugin"),
        "akismet",
        now,
    )
    .unwrap();

    let checked = akismet(
        &app,
        "/1.1/comment-check",
        &check_with("rg_plugin", HAM_TEXT, &[]),
        &[],
    )
    .await;
    let queue = app
        .admin("GET", "/api/v1/admin/comments", None, Some("rg_plugin"))
        .await;

    assert_plain(&checked, "false");
    let body = queue.assert_error(403, "forbidden");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Akismet"),
        "{body}"
    );
}

async fn usage_limit_reports_no_limit_and_counts_checks(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    akismet(&app, "/1.1/comment-check", &check(HAM_TEXT, &[]), &[]).await;
    akismet(&app, "/1.1/comment-check", &check(SPAM_TEXT, &[]), &[]).await;

    let usage = app
        .get(&format!("/1.2/usage-limit?api_key={ADMIN_TOKEN}"))
        .await;
    let refused = app.get("/1.2/usage-limit?api_key=wrong").await;

    assert_eq!(usage.status, 200);
    assert_eq!(
        usage.json(),
        json!({"limit": "none", "usage": 2, "percentage": "0", "throttled": false})
    );
    assert_plain(&refused, "invalid");
}

async fn what_real_clients_send_is_answered_not_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    // A latin-1 blog (`blog_charset=ISO-8859-1`) sends bytes that are not UTF-8.
    let latin1 = format!(
        "api_key={ADMIN_TOKEN}&blog=https%3A%2F%2Fb.example&blog_charset=ISO-8859-1\
         &user_ip=1.2.3.4&comment_author=Ren%E9&comment_content=Tr%E8s+bon+caf%E9"
    );
    let latin1 = app
        .post_raw(
            "/1.1/comment-check",
            "application/x-www-form-urlencoded",
            latin1.into_bytes(),
        )
        .await;
    let not_object = app
        .post_raw("/1.1/comment-check", "application/json", b"[1, 2]".to_vec())
        .await;
    let upper_host = format!("{}.localhost", ADMIN_TOKEN.to_uppercase());
    let without_key: Vec<_> = check(HAM_TEXT, &[])
        .into_iter()
        .filter(|(k, _)| *k != "api_key")
        .collect();
    let host = akismet(
        &app,
        "/1.1/comment-check",
        &without_key,
        &[("Host", &upper_host)],
    )
    .await;
    let zero_width_trap = akismet(
        &app,
        "/1.1/comment-check",
        &check(
            HAM_TEXT,
            &[("honeypot_field_name", "hp"), ("hp", "\u{200B}")],
        ),
        &[],
    )
    .await;
    let trap_on_blog = akismet(
        &app,
        "/1.1/comment-check",
        &check(HAM_TEXT, &[("honeypot_field_name", "blog")]),
        &[],
    )
    .await;
    let first_wins = app
        .post_raw(
            "/1.1/comment-check",
            "application/json",
            format!(
                r#"{{"api_key": "{ADMIN_TOKEN}", "blog": "b", "user_ip": "1.2.3.4",
                "comment_author": "viagra-test-123", "comment_author": "Ada"}}"#
            )
            .into_bytes(),
        )
        .await;
    let test_submit = akismet(
        &app,
        "/1.1/submit-spam",
        &check("A test that must not train", &[("is_test", "True")]),
        &[],
    )
    .await;

    assert_plain(&latin1, "false");
    assert_plain(&not_object, "invalid");
    // The bootstrap token has upper-case letters: a lower-cased host label
    // cannot match it, but an upper-case label is read as written lower.
    assert_eq!(host.status, 200);
    assert_plain(&zero_width_trap, "false");
    assert_plain(&trap_on_blog, "false");
    assert_plain(&first_wins, "true");
    assert_plain(&test_submit, "Thanks for making the web a better place.");
    let stats = app
        .as_admin("GET", "/api/v1/admin/training-examples/stats", None)
        .await
        .json();
    assert_eq!(stats["total"], 0, "is_test=True trains nothing: {stats}");
}
