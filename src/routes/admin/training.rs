//! `POST /api/v1/admin/training-examples` (JSON array or NDJSON, all or nothing)
//! and `GET /api/v1/admin/training-examples/stats`.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

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

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Imported {
    imported: usize,
    /// Rows whose text and label were stored already.
    duplicates: usize,
}

/// Stored examples by label.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelCounts {
    spam: i64,
    ham: i64,
}

/// Stored examples by where they came from.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceCounts {
    moderation: i64,
    import: i64,
    akismet: i64,
}

/// `GET /api/v1/admin/training-examples/stats`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExampleCounts {
    total: i64,
    by_label: LabelCounts,
    by_source: SourceCounts,
}

/// Imports labelled examples.
#[utoipa::path(
    post,
    path = "/api/v1/admin/training-examples",
    tag = "admin",
    request_body(
        description = "A JSON array of examples, or one per line (NDJSON); at most 10,000 rows and 32 MiB.",
        content(
            (Vec<crate::routes::openapi::TrainingExample> = "application/json"),
            (crate::routes::openapi::TrainingExample = "application/x-ndjson"),
        )
    ),
    responses(
        (status = 200, description = "All imported (duplicates skipped).", body = Imported),
        (status = 422, description = "A bad row, named by its index or line; nothing imported.", body = crate::routes::openapi::ErrorBody),
    )
)]
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
    Ok(HttpResponse::Ok().json(Imported {
        imported,
        duplicates,
    }))
}

/// Counts of stored examples.
#[utoipa::path(
    get,
    path = "/api/v1/admin/training-examples/stats",
    tag = "admin",
    responses((status = 200, description = "The counts.", body = ExampleCounts))
)]
pub async fn example_stats(
    _admin: Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let training::ExampleStats {
        by_label,
        by_source,
    } = state.db.run(training::stats).await?;
    let count = |rows: &[(String, i64)], key: &str| {
        rows.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n)
    };
    let by_label = LabelCounts {
        spam: count(&by_label, "spam"),
        ham: count(&by_label, "ham"),
    };
    Ok(HttpResponse::Ok().json(ExampleCounts {
        total: by_label.spam + by_label.ham,
        by_label,
        by_source: SourceCounts {
            moderation: count(&by_source, SOURCE_MODERATION),
            import: count(&by_source, SOURCE_IMPORT),
            akismet: count(&by_source, SOURCE_AKISMET),
        },
    }))
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
