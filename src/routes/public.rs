//! Public reads: approved comments of a post, oldest first, and their count,
//! answered from [`crate::cache::PublicCache`] with an `ETag` and a short
//! `Cache-Control`.
//! Nothing private (email, IP, user agent, score) is ever in these responses.

use actix_web::http::header::{self, ContentType};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::comments::rfc3339;
use super::cursor;
use super::render::content_html;
use crate::cache::public::{CachedRead, ReadKey};
use crate::domain::{PostId, ValidationErrors};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::records::CommentRecord;
use crate::storage::{StorageError, comments};

/// Page size when `limit` is absent.
const DEFAULT_LIMIT: i64 = 50;
/// Largest page a client may ask for.
const MAX_LIMIT: i64 = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1–200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// An approved comment as the public sees it: never an email, IP or score.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicComment {
    id: i64,
    parent_id: Option<i64>,
    author_name: String,
    author_url: Option<String>,
    content: String,
    content_html: String,
    created_at: String,
}

impl From<CommentRecord> for PublicComment {
    fn from(record: CommentRecord) -> Self {
        Self {
            id: record.id,
            parent_id: record.parent_id,
            content_html: content_html(&record.content),
            author_name: record.author_name,
            author_url: record.author_url,
            content: record.content,
            created_at: rfc3339(record.created_at.and_utc()),
        }
    }
}

/// A page of a post's approved comments, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListResponse {
    post_id: String,
    comments: Vec<PublicComment>,
    /// The next page's `cursor`; `null` on the last page.
    next_cursor: Option<String>,
}

/// How many approved comments a post has.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountResponse {
    post_id: String,
    count: i64,
}

/// The `post_id` path parameter of the public reads.
const POST_ID: &str = "The site's id of the post: 1–255 characters.";

fn post_id_from_path(raw: &str) -> Result<PostId, ApiError> {
    PostId::parse(Some(raw)).map_err(|message| ValidationErrors::single("post_id", message).into())
}

/// How long a browser or CDN may keep a public read without asking again.
/// Short, because a moderator's decision should show soon; after that the
/// `ETag` makes asking cheap (`304`).
pub const CACHE_CONTROL: &str = "public, max-age=10";

/// The answer to a public read: from the cache, or read, rendered and kept.
async fn cached<F>(state: &AppState, key: ReadKey, read: F) -> Result<CachedRead, ApiError>
where
    F: FnOnce(&mut crate::storage::DbConn) -> Result<Vec<u8>, StorageError> + Send + 'static,
{
    if let Some(hit) = state.public.get(&key) {
        return Ok(hit);
    }
    let generation = state.public.generation();
    let body = state.db.run(read).await?;
    let etag = super::etag::of(&body);
    Ok(state.public.put(key, Bytes::from(body), etag, generation))
}

/// `200` with the body, or `304` when the client holds it already; both
/// with the tag and how long to keep it.
fn respond(req: &HttpRequest, read: CachedRead) -> HttpResponse {
    let fresh = super::etag::matches(req, &read.etag);
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, read.etag))
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL));
    if fresh {
        return response.finish();
    }
    response.content_type(ContentType::json()).body(read.body)
}

fn to_json(value: &impl Serialize) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(value).map_err(StorageError::Encode)
}

/// Approved comments of one post, oldest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/posts/{post_id}/comments",
    tag = "public",
    params(("post_id" = String, Path, example = "hello-world", description = POST_ID), ListQuery),
    responses(
        (status = 200, description = "A page of approved comments.", body = ListResponse, headers(
            ("ETag" = String, description = "Send it back as `If-None-Match`."),
            ("Cache-Control" = String, description = "`public, max-age=10`."),
        )),
        (status = 304, description = "The client's copy (its `If-None-Match`) is current."),
        (status = 422, description = "A bad post id, limit or cursor.", body = crate::routes::openapi::ErrorBody),
    )
)]
pub async fn list_comments(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let post_id = post_id_from_path(&path)?;
    let query = query.into_inner();
    let limit = cursor::parse_limit(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = query.cursor.as_deref().map(cursor::decode).transpose()?;
    let key = ReadKey::Page {
        post_id: post_id.as_str().to_owned(),
        limit,
        // Keyed on the position, not on how the client spelled it.
        cursor: after.map(|a| cursor::encode(a.created_at, a.id)),
    };
    let post = post_id.as_str().to_owned();
    let read = cached(&state, key, move |conn| {
        let mut rows = comments::list_approved_for_post(conn, &post, after, limit + 1)?;
        let next_cursor = cursor::next_page(&mut rows, limit, |r| (r.created_at, r.id));
        to_json(&ListResponse {
            post_id: post,
            comments: rows.into_iter().map(PublicComment::from).collect(),
            next_cursor,
        })
    })
    .await?;
    Ok(respond(&req, read))
}

/// Number of approved comments of one post.
#[utoipa::path(
    get,
    path = "/api/v1/posts/{post_id}/comments/count",
    tag = "public",
    params(("post_id" = String, Path, example = "hello-world", description = POST_ID)),
    responses(
        (status = 200, description = "The count.", body = CountResponse, headers(
            ("ETag" = String, description = "Send it back as `If-None-Match`."),
            ("Cache-Control" = String, description = "`public, max-age=10`."),
        )),
        (status = 304, description = "The client's copy (its `If-None-Match`) is current."),
        (status = 422, description = "A bad post id.", body = crate::routes::openapi::ErrorBody),
    )
)]
pub async fn count_comments(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let post_id = post_id_from_path(&path)?;
    let key = ReadKey::Count {
        post_id: post_id.as_str().to_owned(),
    };
    let post = post_id.as_str().to_owned();
    let read = cached(&state, key, move |conn| {
        let count = comments::count_approved_for_post(conn, &post)?;
        to_json(&CountResponse {
            post_id: post,
            count,
        })
    })
    .await?;
    Ok(respond(&req, read))
}
