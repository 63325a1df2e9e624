//! Queries on `comments`. Each takes the caller's connection (and so its
//! transaction) and is named after what it is for.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::records::{CommentRecord, NewCommentRecord};
use super::schema::comments;
use super::{DbConn, StorageError};
use crate::domain::{CommentId, Status};

/// Inserts a comment and returns its id.
///
/// # Errors
/// Any database failure.
pub fn insert(conn: &mut DbConn, record: &NewCommentRecord<'_>) -> Result<CommentId, StorageError> {
    let id = diesel::insert_into(comments::table)
        .values(record)
        .returning(comments::id)
        .get_result::<i64>(conn)?;
    Ok(CommentId(id))
}

/// True when `id` is an approved comment of `post_id` (a valid reply target).
///
/// # Errors
/// Any database failure.
pub fn is_approved_in_post(
    conn: &mut DbConn,
    id: CommentId,
    post_id: &str,
) -> Result<bool, StorageError> {
    let found = comments::table
        .filter(comments::id.eq(id.0))
        .filter(comments::post_id.eq(post_id))
        .filter(comments::status.eq(Status::Approved.as_str()))
        .select(comments::id)
        .first::<i64>(conn)
        .optional()?;
    Ok(found.is_some())
}

/// True when the address has an approved comment (a "known author").
///
/// # Errors
/// Any database failure.
pub fn has_approved_by_email(conn: &mut DbConn, email: &str) -> Result<bool, StorageError> {
    let found = comments::table
        .filter(comments::author_email.eq(email))
        .filter(comments::status.eq(Status::Approved.as_str()))
        .select(comments::id)
        .first::<i64>(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Where a page of approved comments starts: after this (created_at, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicCursor {
    pub created_at: NaiveDateTime,
    pub id: i64,
}

/// Up to `limit` approved comments of a post, oldest first, after `cursor`.
///
/// # Errors
/// Any database failure.
pub fn list_approved_for_post(
    conn: &mut DbConn,
    post_id: &str,
    cursor: Option<PublicCursor>,
    limit: i64,
) -> Result<Vec<CommentRecord>, StorageError> {
    let mut query = comments::table
        .filter(comments::post_id.eq(post_id))
        .filter(comments::status.eq(Status::Approved.as_str()))
        .select(CommentRecord::as_select())
        .order((comments::created_at.asc(), comments::id.asc()))
        .limit(limit)
        .into_boxed();
    if let Some(after) = cursor {
        // `(created_at, id) > (c, i)`, with a first term that bounds the index scan.
        query = query
            .filter(comments::created_at.ge(after.created_at))
            .filter(
                comments::created_at
                    .gt(after.created_at)
                    .or(comments::id.gt(after.id)),
            );
    }
    Ok(query.load(conn)?)
}

/// Number of approved comments of a post.
///
/// # Errors
/// Any database failure.
pub fn count_approved_for_post(conn: &mut DbConn, post_id: &str) -> Result<i64, StorageError> {
    Ok(comments::table
        .filter(comments::post_id.eq(post_id))
        .filter(comments::status.eq(Status::Approved.as_str()))
        .count()
        .get_result(conn)?)
}

/// Number of stored comments (any status); used by tests and stats.
///
/// # Errors
/// Any database failure.
pub fn count_all(conn: &mut DbConn) -> Result<i64, StorageError> {
    Ok(comments::table.count().get_result(conn)?)
}
