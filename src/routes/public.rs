//! Public reads: approved comments of a post, oldest first, and their count.
//! Nothing private (email, IP, user agent, score) is ever in these responses.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::comments::rfc3339;
use super::cursor;
use super::render::content_html;
use crate::domain::{PostId, ValidationErrors};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::comments;
use crate::storage::records::CommentRecord;

/// Page size when `limit` is absent.
const DEFAULT_LIMIT: i64 = 50;
/// Largest page a client may ask for.
const MAX_LIMIT: i64 = 200;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
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

#[derive(Debug, Serialize)]
pub struct ListResponse {
    post_id: String,
    comments: Vec<PublicComment>,
    next_cursor: Option<String>,
}

fn post_id_from_path(raw: &str) -> Result<PostId, ApiError> {
    PostId::parse(Some(raw)).map_err(|message| ValidationErrors::single("post_id", message).into())
}

/// Approved comments of one post, oldest first, a page at a time.
pub async fn list_comments(
    path: web::Path<String>,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let post_id = post_id_from_path(&path)?;
    let query = query.into_inner();
    let limit = cursor::parse_limit(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = query.cursor.as_deref().map(cursor::decode).transpose()?;
    let key = post_id.as_str().to_owned();
    let mut rows = state
        .db
        .run(move |conn| comments::list_approved_for_post(conn, &key, after, limit + 1))
        .await?;
    let next_cursor = cursor::next_page(&mut rows, limit, |r| (r.created_at, r.id));
    Ok(HttpResponse::Ok().json(ListResponse {
        post_id: post_id.as_str().to_owned(),
        comments: rows.into_iter().map(PublicComment::from).collect(),
        next_cursor,
    }))
}

/// Number of approved comments of one post.
pub async fn count_comments(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let post_id = post_id_from_path(&path)?;
    let key = post_id.as_str().to_owned();
    let count = state
        .db
        .run(move |conn| comments::count_approved_for_post(conn, &key))
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"post_id": post_id.as_str(), "count": count})))
}
