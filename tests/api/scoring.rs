//! The spam model on the request path.

use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(
    blatant_spam_is_stored_as_spam_but_reported_pending,
    filled_honeypot_is_stored_as_spam_but_reported_pending,
    known_author_is_approved_under_the_default_policy,
);

const SPAM: &str = "CHECK OUT MY CHANNEL!!! subscribe and win FREE gift cards http://free-gifts.example.com click here now!!!";

async fn blatant_spam_is_stored_as_spam_but_reported_pending(backend: Backend) {
    let app = spawn_app(backend).await;

    let reply = app.submit(json!({"content": SPAM})).await;

    assert_eq!(reply.status, 201, "{}", reply.text());
    let body = reply.json();
    assert_eq!(
        body["status"], "pending",
        "the public never learns it was caught"
    );
    assert_eq!(app.stored_status(body["id"].as_i64().unwrap()), "spam");
}

async fn filled_honeypot_is_stored_as_spam_but_reported_pending(backend: Backend) {
    let app = spawn_app(backend).await;

    // Whatever a bot puts in the trap, it is told `pending`, never a 422.
    let filled = [json!("I am a bot"), json!(1), json!(true), json!({"x": 1})];
    for (i, value) in filled.iter().enumerate() {
        let reply = app
            .submit(json!({"honeypot": value, "content": format!("Bot comment number {i}.")}))
            .await;

        assert_eq!(reply.status, 201, "{value}: {}", reply.text());
        assert_eq!(reply.json()["status"], "pending");
        assert_eq!(
            app.stored_status(reply.json()["id"].as_i64().unwrap()),
            "spam",
            "{value}"
        );
    }
}

async fn known_author_is_approved_under_the_default_policy(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.submit(json!({})).await.json()["id"].as_i64().unwrap();
    app.moderate(first, "approved").await;

    let again = app
        .submit(json!({"content": "Coming back to say the sequel post was great too."}))
        .await;

    assert_eq!(again.json()["status"], "approved", "{}", again.text());
}
