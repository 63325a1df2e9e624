//! `/api/v1/admin/…`: the moderation queue, decisions with their audit trail,
//! erasure and statistics. Every handler takes an [`Admin`], so every request
//! is authenticated; the token's name is recorded as the actor of decisions.

pub mod keywords;
pub mod models;
pub mod pivot;
pub mod training;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Admin;
use super::body::read_json;
use super::comments::rfc3339;
use super::cursor;
use crate::domain::{CommentId, Status, ValidationErrors};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::moderation::{self, QueueFilter, Transition};
use crate::storage::records::{CommentEventRecord, CommentRecord};

/// Page size of the queue when `limit` is absent.
const DEFAULT_LIMIT: i64 = 50;
/// Largest queue page.
const MAX_LIMIT: i64 = 200;
/// Most ids in one bulk request.
pub const MAX_BULK_IDS: usize = 500;

/// A comment as moderators see it: everything stored.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentResponse {
    id: i64,
    post_id: String,
    parent_id: Option<i64>,
    #[schema(pattern = "^(pending|approved|spam|trash)$")]
    status: String,
    author_name: String,
    author_email: String,
    author_url: Option<String>,
    content: String,
    ip: Option<String>,
    user_agent: Option<String>,
    referrer: Option<String>,
    spam_score: Option<f64>,
    model_version: Option<String>,
    reasons: Vec<String>,
    created_at: String,
    updated_at: String,
}

impl From<CommentRecord> for CommentResponse {
    fn from(r: CommentRecord) -> Self {
        Self {
            reasons: serde_json::from_str(&r.reasons).unwrap_or_default(),
            id: r.id,
            post_id: r.post_id,
            parent_id: r.parent_id,
            status: r.status,
            author_name: r.author_name,
            author_email: r.author_email,
            author_url: r.author_url,
            content: r.content,
            ip: r.ip,
            user_agent: r.user_agent,
            referrer: r.referrer,
            spam_score: r.spam_score,
            model_version: r.model_version,
            created_at: rfc3339(r.created_at.and_utc()),
            updated_at: rfc3339(r.updated_at.and_utc()),
        }
    }
}

/// One decision in a comment's audit trail.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventResponse {
    actor: String,
    from: String,
    to: String,
    at: String,
}

impl From<CommentEventRecord> for EventResponse {
    fn from(e: CommentEventRecord) -> Self {
        Self {
            actor: e.actor,
            from: e.from_status,
            to: e.to_status,
            at: rfc3339(e.at.and_utc()),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// Only comments with this status.
    #[param(pattern = "^(pending|approved|spam|trash)$")]
    status: Option<String>,
    /// Only comments of this post.
    post_id: Option<String>,
    /// Only comments whose text, name, email or website contains this.
    q: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `desc` (newest first, the default) or `asc`.
    #[param(pattern = "^(asc|desc)$")]
    order: Option<String>,
}

/// A page of the queue.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueuePage {
    comments: Vec<CommentResponse>,
    /// The next page's `cursor`; `null` on the last page.
    next_cursor: Option<String>,
}

/// A comment's audit trail, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventList {
    events: Vec<EventResponse>,
}

/// Counts per status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusCounts {
    pending: i64,
    approved: i64,
    spam: i64,
    trash: i64,
}

/// The model this instance scores with.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSummary {
    version: String,
    /// Held-out metrics (precision, recall, F1, MCC, false-positive rate, …).
    #[schema(value_type = Option<Object>)]
    metrics: Option<crate::classifier::metrics::Metrics>,
}

/// `GET /api/v1/admin/stats`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Stats {
    counts: StatusCounts,
    oldest_pending_age_seconds: Option<i64>,
    model: ModelSummary,
}

/// The `id` path parameter of a comment.
const COMMENT_ID: &str = "The comment's id.";

/// The requested status and the optional expected current one.
fn parse_decision(
    status: &str,
    if_status: Option<&str>,
) -> Result<(Status, Option<Status>), ApiError> {
    let to = parse_status("status", status)?;
    let expected = if_status
        .map(|s| parse_status("if_status", s))
        .transpose()?;
    Ok((to, expected))
}

pub(crate) fn parse_status(field: &'static str, raw: &str) -> Result<Status, ApiError> {
    raw.trim().parse::<Status>().map_err(|_| {
        ValidationErrors::single(field, "Must be one of pending, approved, spam, trash.").into()
    })
}

/// The queue, newest first unless `order=asc`, keyset-paginated.
#[utoipa::path(
    get,
    path = "/api/v1/admin/comments",
    tag = "admin",
    params(QueueQuery),
    responses(
        (status = 200, description = "A page of comments.", body = QueuePage),
        (status = 422, description = "A bad filter, limit, order or cursor.", body = crate::routes::openapi::ErrorBody),
    )
)]
pub async fn list_comments(
    _admin: Admin,
    query: web::Query<QueueQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let oldest_first = match query.order.as_deref().map(str::trim) {
        None | Some("" | "desc") => false,
        Some("asc") => true,
        Some(_) => return Err(ValidationErrors::single("order", "Must be asc or desc.").into()),
    };
    let limit = cursor::parse_limit(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let filter = QueueFilter {
        status: query
            .status
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_status("status", s))
            .transpose()?,
        post_id: query
            .post_id
            .filter(|p| !p.trim().is_empty())
            .map(|p| crate::domain::PostId::parse(Some(&p)).map(|p| p.as_str().to_owned()))
            .transpose()
            .map_err(|message| ApiError::from(ValidationErrors::single("post_id", message)))?,
        query: match query
            .q
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty())
        {
            Some(q) if q.chars().any(char::is_control) => {
                return Err(ValidationErrors::single(
                    "q",
                    "The search may not contain control characters.",
                )
                .into());
            }
            q => q,
        },
        oldest_first,
        after: query.cursor.as_deref().map(cursor::decode).transpose()?,
        limit: limit + 1,
    };
    let mut rows = state
        .db
        .run(move |conn| moderation::list_queue(conn, &filter))
        .await?;
    let next_cursor = cursor::next_page(&mut rows, limit, |r| (r.created_at, r.id));
    let comments: Vec<CommentResponse> = rows.into_iter().map(CommentResponse::from).collect();
    Ok(HttpResponse::Ok().json(QueuePage {
        comments,
        next_cursor,
    }))
}

async fn find_or_404(state: &AppState, id: CommentId) -> Result<CommentRecord, ApiError> {
    state
        .db
        .run(move |conn| moderation::find(conn, id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("There is no comment {id}.")))
}

/// One comment with everything stored about it.
#[utoipa::path(
    get,
    path = "/api/v1/admin/comments/{id}",
    tag = "admin",
    params(("id" = i64, Path, example = 1, description = COMMENT_ID)),
    responses((status = 200, description = "The comment.", body = CommentResponse))
)]
pub async fn get_comment(
    _admin: Admin,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let record = find_or_404(&state, CommentId(path.into_inner())).await?;
    Ok(HttpResponse::Ok().json(CommentResponse::from(record)))
}

/// The audit trail of one comment, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/admin/comments/{id}/events",
    tag = "admin",
    params(("id" = i64, Path, example = 1, description = COMMENT_ID)),
    responses((status = 200, description = "The decisions, oldest first.", body = EventList))
)]
pub async fn get_events(
    _admin: Admin,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = CommentId(path.into_inner());
    find_or_404(&state, id).await?;
    let events = state
        .db
        .run(move |conn| moderation::events(conn, id))
        .await?;
    let events: Vec<EventResponse> = events.into_iter().map(EventResponse::from).collect();
    Ok(HttpResponse::Ok().json(EventList { events }))
}

/// A decision on one comment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchRequest {
    #[schema(pattern = "^(pending|approved|spam|trash)$")]
    status: String,
    /// Apply only if the comment still has this status (else 409).
    #[schema(pattern = "^(pending|approved|spam|trash)$")]
    if_status: Option<String>,
}

/// Sets a comment's status, optionally only if it still has `if_status`.
#[utoipa::path(
    patch,
    path = "/api/v1/admin/comments/{id}",
    tag = "admin",
    params(("id" = i64, Path, example = 1, description = COMMENT_ID)),
    request_body = PatchRequest,
    responses(
        (status = 200, description = "The comment as it now stands.", body = CommentResponse),
        (status = 409, description = "`status_conflict`: it no longer has `if_status`.", body = crate::routes::openapi::ErrorBody),
        (status = 415, description = "Not JSON.", body = crate::routes::openapi::ErrorBody),
        (status = 422, description = "An unknown status.", body = crate::routes::openapi::ErrorBody),
    )
)]
pub async fn patch_comment(
    admin: Admin,
    path: web::Path<i64>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = CommentId(path.into_inner());
    let body: PatchRequest = read_json(&req, payload).await?;
    let (to, if_status) = parse_decision(&body.status, body.if_status.as_deref())?;
    let now = crate::storage::now();
    let outcome = state
        .db
        .write(move |conn| moderation::transition(conn, id, to, if_status, &admin.actor, now))
        .await?;
    match outcome {
        Transition::Updated(record) => {
            state.public.moderated().await;
            tracing::info!(comment_id = id.0, status = to.as_str(), "moderated");
            Ok(HttpResponse::Ok().json(CommentResponse::from(record)))
        }
        Transition::Unchanged(record) => Ok(HttpResponse::Ok().json(CommentResponse::from(record))),
        Transition::Conflict(current) => Err(ApiError::StatusConflict {
            current: current.status,
            expected: if_status.map_or_else(String::new, |s| s.as_str().to_owned()),
        }),
        Transition::Missing => Err(ApiError::NotFound(format!("There is no comment {id}."))),
    }
}

/// One decision on many comments.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// 1–500 comment ids.
    #[schema(min_items = 1, max_items = 500)]
    ids: Vec<i64>,
    #[schema(pattern = "^(pending|approved|spam|trash)$")]
    status: String,
    /// Move only those that still have this status.
    #[schema(pattern = "^(pending|approved|spam|trash)$")]
    if_status: Option<String>,
}

/// Applies one status to many comments, all or nothing (one transaction).
#[utoipa::path(
    post,
    path = "/api/v1/admin/comments/bulk",
    tag = "admin",
    request_body = BulkRequest,
    responses(
        (status = 200, description = "What became of each id.", body = moderation::BulkOutcome),
        (status = 415, description = "Not JSON.", body = crate::routes::openapi::ErrorBody),
        (status = 422, description = "No ids, too many, or an unknown status.", body = crate::routes::openapi::ErrorBody),
    )
)]
pub async fn bulk_update(
    admin: Admin,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: BulkRequest = read_json(&req, payload).await?;
    let (to, if_status) = parse_decision(&body.status, body.if_status.as_deref())?;
    if body.ids.is_empty() || body.ids.len() > MAX_BULK_IDS {
        return Err(ValidationErrors::single(
            "ids",
            format!("Send between 1 and {MAX_BULK_IDS} comment ids."),
        )
        .into());
    }
    // An id sent twice is decided once and reported once.
    let mut ids = body.ids;
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(*id));
    let now = crate::storage::now();
    let actor = admin.actor;
    let ids: Vec<CommentId> = ids.into_iter().map(CommentId).collect();
    let outcome = state
        .db
        .write(move |conn| moderation::transition_all(conn, &ids, to, if_status, &actor, now))
        .await?;
    if !outcome.updated.is_empty() {
        state.public.moderated().await;
    }
    Ok(HttpResponse::Ok().json(outcome))
}

/// Erases a comment, its label and its audit trail (privacy requests).
#[utoipa::path(
    delete,
    path = "/api/v1/admin/comments/{id}",
    tag = "admin",
    params(("id" = i64, Path, example = 1, description = COMMENT_ID)),
    responses((status = 204, description = "Erased."))
)]
pub async fn delete_comment(
    _admin: Admin,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = CommentId(path.into_inner());
    if state
        .db
        .write(move |conn| moderation::erase(conn, id))
        .await?
    {
        state.public.moderated().await;
        tracing::info!(comment_id = id.0, "comment erased");
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound(format!("There is no comment {id}.")))
    }
}

/// Counts per status, the age of the oldest pending comment and the model.
#[utoipa::path(
    get,
    path = "/api/v1/admin/stats",
    tag = "admin",
    responses((status = 200, description = "The queue and the model.", body = Stats))
)]
pub async fn stats(_admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let moderation::QueueStats {
        counts,
        oldest_pending: oldest,
    } = state.db.run(moderation::queue_stats).await?;
    let count = |status: Status| {
        counts
            .iter()
            .find(|(s, _)| s == status.as_str())
            .map_or(0, |(_, n)| *n)
    };
    let age = oldest.map(|at| (Utc::now().naive_utc() - at).num_seconds().max(0));
    let model = state.model.current();
    Ok(HttpResponse::Ok().json(Stats {
        counts: StatusCounts {
            pending: count(Status::Pending),
            approved: count(Status::Approved),
            spam: count(Status::Spam),
            trash: count(Status::Trash),
        },
        oldest_pending_age_seconds: age,
        model: ModelSummary {
            version: model.version().to_owned(),
            metrics: model.metrics().cloned(),
        },
    }))
}
