//! `POST /api/v1/admin/training-examples` (JSON array or NDJSON, all or nothing)
//! and `GET /api/v1/admin/training-examples/stats`.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::domain::dataset::read_examples;
use crate::error::ApiError;
use crate::routes::auth::Admin;
use crate::routes::body::read_body;
use crate::state::AppState;
use crate::storage::training::{self, SOURCE_AKISMET, SOURCE_IMPORT, SOURCE_MODERATION};

/// Largest import body (SPEC §3).
pub const IMPORT_LIMIT_BYTES: usize = 32 * 1024 * 1024;
/// Most rows in one import.
pub const MAX_IMPORT_ROWS: usize = 10_000;

/// Imports labelled examples.
pub async fn import_examples(
    _admin: Admin,
    req: actix_web::HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // Read only once the token is checked: no stranger makes the server buffer 32 MiB.
    let body = read_body(&req, payload, IMPORT_LIMIT_BYTES).await?;
    let examples = read_examples(&body, Some(MAX_IMPORT_ROWS))?;
    let now = crate::storage::now();
    let (imported, duplicates) = state
        .db
        .run(move |conn| training::import(conn, &examples, SOURCE_IMPORT, now))
        .await?;
    tracing::info!(imported, duplicates, "training examples imported");
    Ok(HttpResponse::Ok().json(json!({"imported": imported, "duplicates": duplicates})))
}

/// Counts of stored examples.
pub async fn example_stats(
    _admin: Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let training::ExampleStats {
        by_label,
        by_source,
    } = state.db.run(training::stats).await?;
    let mut labels: BTreeMap<&str, i64> = [("spam", 0), ("ham", 0)].into();
    for (label, n) in &by_label {
        if let Some(slot) = labels.get_mut(label.as_str()) {
            *slot = *n;
        }
    }
    let mut sources: BTreeMap<&str, i64> = [
        (SOURCE_MODERATION, 0),
        (SOURCE_IMPORT, 0),
        (SOURCE_AKISMET, 0),
    ]
    .into();
    for (source, n) in &by_source {
        if let Some(slot) = sources.get_mut(source.as_str()) {
            *slot = *n;
        }
    }
    let total: i64 = labels.values().sum();
    Ok(HttpResponse::Ok().json(json!({"total": total, "by_label": labels, "by_source": sources})))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::dataset::LabelledExample;

    /// What the import endpoint makes of a body.
    fn parse_examples(body: &[u8]) -> Result<Vec<LabelledExample>, ApiError> {
        Ok(read_examples(body, Some(MAX_IMPORT_ROWS))?)
    }

    #[test]
    fn arrays_and_ndjson_are_both_read() {
        let array = br#"[{"content": "buy", "label": "spam"}, {"text": "hi", "label": "ham"}]"#;
        assert_eq!(parse_examples(array).unwrap().len(), 2);
        let ndjson = b"{\"content\": \"buy\", \"label\": \"spam\"}\n\n{\"content\": \"hi\", \"label\": \"ham\"}\n";
        assert_eq!(parse_examples(ndjson).unwrap().len(), 2);
    }

    #[test]
    fn bad_rows_are_named_by_index_or_line() {
        let array = br#"[{"content": "ok", "label": "spam"}, {"content": "x", "label": "maybe"}]"#;
        let err = parse_examples(array).unwrap_err();
        assert!(
            err.fields()
                .is_some_and(|f| f.fields().contains_key("rows[1]")),
            "{err:?}"
        );
        let ndjson = b"{\"content\": \"ok\", \"label\": \"ham\"}\nnot json\n5\n";
        let err = parse_examples(ndjson).unwrap_err();
        let fields = err.fields().map(|f| f.fields().clone()).unwrap_or_default();
        assert_eq!(fields["line 2"], ["This line is not valid JSON."]);
        assert_eq!(fields["line 3"], ["Each example must be a JSON object."]);
        let typed = br#"[5, {"content": 7, "label": "spam"}]"#;
        let err = parse_examples(typed).unwrap_err();
        let fields = err.fields().map(|f| f.fields().clone()).unwrap_or_default();
        assert_eq!(fields["rows[0]"], ["Each example must be a JSON object."]);
        assert!(
            fields["rows[1]"][0].contains("must be strings"),
            "{fields:?}"
        );
    }
}
