//! `POST /api/v1/admin/comments/{id}/pivot`: from one comment, every pending
//! comment that shares its IP, email or link domain, counted first
//! (`"preview": true`) and then moved in one request.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::parse_status;
use crate::domain::{CommentId, Status, ValidationErrors};
use crate::error::ApiError;
use crate::routes::auth::Admin;
use crate::routes::body::read_json;
use crate::state::AppState;
use crate::storage::pivot::{self, Pivot, PivotBy};

/// Most comments one pivot moves; a larger wave takes several requests.
pub const MAX_PIVOT: usize = 1000;

/// Which pending comments to find from one comment, and what to do.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PivotRequest {
    /// `ip`, `email` or `domain` (of the website, or else of the first link).
    #[schema(pattern = "^(ip|email|domain)$")]
    by: String,
    /// Where the comments go (default `spam`).
    #[schema(pattern = "^(pending|approved|spam|trash)$")]
    status: Option<String>,
    /// Only count and list them.
    preview: Option<bool>,
    /// Move only these of them (the ids a preview listed), so that nothing
    /// arriving after the preview is moved unseen.
    ids: Option<Vec<i64>>,
}

/// A preview: the pending comments that share the value.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PivotPreview {
    #[schema(value_type = String, pattern = "^(ip|email|domain)$")]
    by: PivotBy,
    /// The shared IP, email or domain.
    value: String,
    count: usize,
    ids: Vec<i64>,
    /// More than 1,000 matched; only the first 1,000 are listed.
    more: bool,
}

/// What a pivot decision did, id by id.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PivotOutcome {
    #[schema(value_type = String, pattern = "^(ip|email|domain)$")]
    by: PivotBy,
    value: String,
    updated: Vec<i64>,
    /// No longer pending.
    conflicts: Vec<i64>,
    missing: Vec<i64>,
    more: bool,
}

/// The answer: a preview, or what a decision did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum PivotAnswer {
    Preview(PivotPreview),
    Outcome(PivotOutcome),
}

fn parse_by(raw: &str) -> Result<PivotBy, ApiError> {
    match raw.trim() {
        "ip" => Ok(PivotBy::Ip),
        "email" => Ok(PivotBy::Email),
        "domain" => Ok(PivotBy::Domain),
        _ => Err(ValidationErrors::single("by", "Must be one of ip, email, domain.").into()),
    }
}

fn no_value(by: PivotBy) -> ApiError {
    let message = match by {
        PivotBy::Ip => "This comment has no recorded IP address.",
        PivotBy::Email => "This comment has no email address.",
        PivotBy::Domain => "This comment links to no website.",
    };
    ValidationErrors::single("by", message).into()
}

/// Previews or applies a pivot decision.
#[utoipa::path(
    post,
    path = "/api/v1/admin/comments/{id}/pivot",
    tag = "admin",
    params(("id" = i64, Path, example = 1, description = "The comment the others must share a value with.")),
    request_body = PivotRequest,
    responses(
        (status = 200, description = "With `preview`: the matching pending comments. Without: what was moved.", body = PivotAnswer),
        (status = 415, description = "Not JSON.", body = crate::routes::openapi::ErrorBody),
        (status = 422, description = "A bad field, or the comment has no such value.", body = crate::routes::openapi::ErrorBody),
    )
)]
pub async fn pivot(
    admin: Admin,
    path: web::Path<i64>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let anchor = CommentId(path.into_inner());
    let body: PivotRequest = read_json(&req, payload).await?;
    let by = parse_by(&body.by)?;
    let to = body
        .status
        .as_deref()
        .map(|s| parse_status("status", s))
        .transpose()?
        .unwrap_or(Status::Spam);
    let missing = || ApiError::NotFound(format!("There is no comment {anchor}."));
    if body.preview.unwrap_or(false) {
        let found = state
            .db
            .run(move |conn| pivot::pending_sharing(conn, anchor, by, MAX_PIVOT))
            .await?;
        return match found {
            Pivot::Found(found) => {
                Ok(HttpResponse::Ok().json(PivotAnswer::Preview(PivotPreview {
                    by,
                    value: found.value,
                    count: found.ids.len(),
                    ids: found.ids,
                    more: found.more,
                })))
            }
            Pivot::Missing => Err(missing()),
            Pivot::NoValue => Err(no_value(by)),
        };
    }
    let now = crate::storage::now();
    let actor = admin.actor;
    let (found, outcome) = state
        .db
        .write(move |conn| {
            let only = body.ids.as_deref();
            pivot::apply(conn, anchor, by, MAX_PIVOT, only, to, &actor, now)
        })
        .await?;
    match found {
        Pivot::Found(found) => {
            if !outcome.updated.is_empty() {
                state.public.moderated().await;
            }
            tracing::info!(
                comment_id = anchor.0,
                moved = outcome.updated.len(),
                status = to.as_str(),
                "pivot decision"
            );
            Ok(HttpResponse::Ok().json(PivotAnswer::Outcome(PivotOutcome {
                by,
                value: found.value,
                updated: outcome.updated,
                conflicts: outcome.conflicts,
                missing: outcome.missing,
                more: found.more,
            })))
        }
        Pivot::Missing => Err(missing()),
        Pivot::NoValue => Err(no_value(by)),
    }
}
