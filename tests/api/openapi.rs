//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document is generated from the
//! code and checked against the route table the server is built from, both
//! ways: an endpoint missing from the document, or an operation in the
//! document that nothing serves, fails here.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};
use replyguard::routes::{Gate, endpoints};

both_backends!(the_served_document_matches_the_route_table);

/// `(method, path)` of every operation in the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "head", "post", "put", "patch", "delete", "options"] {
            if item.get(method).is_some() {
                found.insert((method.to_owned(), path.clone()));
            }
        }
    }
    found
}

async fn the_served_document_matches_the_route_table(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app.get("/api/v1/openapi.json").await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"))
    );
    let doc = reply.json();
    assert_eq!(doc["openapi"], "3.1.0");

    let table = endpoints();
    let served: BTreeSet<(String, String)> = table
        .iter()
        .filter(|e| e.api)
        .map(|e| (e.method.as_str().to_ascii_lowercase(), e.path.to_owned()))
        .collect();
    let documented = operations(&doc);
    let undocumented: Vec<_> = served.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in the OpenAPI document: {undocumented:?}"
    );
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        unserved.is_empty(),
        "in the OpenAPI document but not served: {unserved:?}"
    );
    // Only the web pages stay out of the document.
    for page in table.iter().filter(|e| !e.api) {
        assert!(
            ["/admin", "/demo", "/embed"]
                .iter()
                .any(|p| page.path.starts_with(p)),
            "{} is left out of the document but is not a web page",
            page.path
        );
    }

    for endpoint in table.iter().filter(|e| e.api) {
        let operation = &doc["paths"][endpoint.path][endpoint.method.as_str().to_ascii_lowercase()];
        let responses = operation["responses"].as_object().expect("responses");
        let admin = endpoint.gate == Gate::Admin;
        assert_eq!(
            operation["security"][0].get("admin_token").is_some(),
            admin,
            "{} {}: the admin token is required exactly on admin routes",
            endpoint.method,
            endpoint.path
        );
        let mut expected: Vec<&str> = Vec::new();
        if admin {
            expected.extend(["401", "403"]);
        }
        if matches!(endpoint.gate, Gate::Submissions | Gate::Reads) {
            expected.push("429");
        }
        if endpoint.path != "/healthz" {
            expected.push("503");
        }
        if endpoint.path.contains('{') {
            expected.extend(["400", "404"]);
        }
        for status in expected {
            assert!(
                responses.contains_key(status),
                "{} {} does not document {status}",
                endpoint.method,
                endpoint.path
            );
        }
        assert!(
            responses.keys().any(|s| s.starts_with('2') || s == "303"),
            "{} {} documents no success",
            endpoint.method,
            endpoint.path
        );
        // Every JSON error is the SPEC §3 envelope.
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/ErrorBody",
                    "{} {} {status}",
                    endpoint.method, endpoint.path
                );
            }
        }
    }

    // Both encodings of a submission.
    let submission = &doc["paths"]["/api/v1/comments"]["post"]["requestBody"]["content"];
    assert!(submission.get("application/json").is_some());
    assert!(
        submission
            .get("application/x-www-form-urlencoded")
            .is_some()
    );
    assert!(doc["components"]["securitySchemes"]["admin_token"].is_object());
}
