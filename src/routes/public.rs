//! Public reads: approved comments of a post, oldest first, and their count.
//! Nothing private (email, IP, user agent, score) is ever in these responses.

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::comments::rfc3339;
use super::render::content_html;
use crate::domain::{PostId, ValidationErrors};
use crate::error::ApiError;
use crate::storage::comments::{self, PublicCursor};
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
    let limit = parse_limit(query.limit.as_deref())?;
    let cursor = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let key = post_id.as_str().to_owned();
    let mut rows = state
        .db
        .run(move |conn| comments::list_approved_for_post(conn, &key, cursor, limit + 1))
        .await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|last| {
            encode_cursor(PublicCursor {
                created_at: last.created_at,
                id: last.id,
            })
        })
    } else {
        None
    };
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

fn parse_limit(raw: Option<&str>) -> Result<i64, ApiError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LIMIT);
    };
    match raw.trim().parse::<i64>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ValidationErrors::single(
            "limit",
            format!("The limit must be a whole number from 1 to {MAX_LIMIT}."),
        )
        .into()),
    }
}

/// A cursor is `<created_at in µs since the epoch>.<id>`, base64url-encoded:
/// opaque to clients, stable across backends.
fn encode_cursor(cursor: PublicCursor) -> String {
    let micros = cursor.created_at.and_utc().timestamp_micros();
    URL_SAFE_NO_PAD.encode(format!("{micros}.{}", cursor.id))
}

fn decode_cursor(raw: &str) -> Result<PublicCursor, ApiError> {
    let invalid = || {
        ApiError::from(ValidationErrors::single(
            "cursor",
            "This cursor is not valid.",
        ))
    };
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (micros, id) = text.split_once('.').ok_or_else(invalid)?;
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    let id: i64 = id.parse().map_err(|_| invalid())?;
    let created_at = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(invalid)?;
    Ok(PublicCursor {
        created_at: created_at.naive_utc(),
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let at = DateTime::<Utc>::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        let cursor = PublicCursor {
            created_at: at.naive_utc(),
            id: 99,
        };
        assert_eq!(decode_cursor(&encode_cursor(cursor)).ok(), Some(cursor));
    }

    #[test]
    fn bad_cursors_and_limits_are_validation_errors() {
        for raw in ["", "!!", "bm9wZQ", "MTIz"] {
            assert_eq!(
                decode_cursor(raw).unwrap_err().code(),
                "validation_failed",
                "{raw}"
            );
        }
        for raw in ["0", "201", "-1", "ten"] {
            assert!(parse_limit(Some(raw)).is_err(), "{raw}");
        }
        assert_eq!(parse_limit(None).ok(), Some(DEFAULT_LIMIT));
    }
}
