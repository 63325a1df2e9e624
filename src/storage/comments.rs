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

/// What the public reads depend on, cheap to poll: the moderation counter
/// ([`super::settings::PUBLIC_COMMENTS`]) and the newest approved comment (a
/// comment approved on arrival bumps no counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicVersion {
    pub moderation: i64,
    pub newest_approved: Option<i64>,
}

/// The current [`PublicVersion`] (two index lookups).
///
/// # Errors
/// Any database failure.
pub fn public_version(conn: &mut DbConn) -> Result<PublicVersion, StorageError> {
    let moderation = super::settings::get(conn, super::settings::PUBLIC_COMMENTS)?
        .map_or(0, |(_, version)| version);
    let newest_approved = comments::table
        .filter(comments::status.eq(Status::Approved.as_str()))
        .order((comments::created_at.desc(), comments::id.desc()))
        .select(comments::id)
        .first(conn)
        .optional()?;
    Ok(PublicVersion {
        moderation,
        newest_approved,
    })
}

/// Records that the approved set changed by a moderator's hand (other
/// instances then forget their cached public reads).
///
/// # Errors
/// Any database failure.
pub fn bump_public_version(conn: &mut DbConn, now: NaiveDateTime) -> Result<(), StorageError> {
    super::settings::put(conn, super::settings::PUBLIC_COMMENTS, "", now)
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

/// Number of stored comments (any status), for tests and operators.
///
/// # Errors
/// Any database failure.
pub fn count_all(conn: &mut DbConn) -> Result<i64, StorageError> {
    Ok(comments::table.count().get_result(conn)?)
}

/// Serializes submissions that could conflict, for the rest of the caller's
/// transaction: PostgreSQL takes transaction-scoped advisory locks on the
/// client IP and the email (so instances sharing the database agree, and
/// unrelated submitters do not wait for each other); SQLite, which has one
/// writer anyway, takes its write lock at once by writing `submission_lock`.
///
/// # Errors
/// Any database failure.
pub fn lock_submitter(
    conn: &mut DbConn,
    ip: Option<&str>,
    email: &str,
) -> Result<(), StorageError> {
    match conn {
        DbConn::Pg(pg) => {
            let mut keys = vec![submitter_key("email", &email.to_lowercase())];
            if let Some(ip) = ip {
                keys.push(submitter_key("ip", ip));
            }
            // Always in the same order, so two transactions cannot deadlock.
            keys.sort_unstable();
            for key in keys {
                diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                    .bind::<diesel::sql_types::BigInt, _>(key)
                    .execute(pg)?;
            }
        }
        DbConn::Sqlite(sqlite) => {
            use super::schema::submission_lock;
            diesel::update(submission_lock::table)
                .set(submission_lock::ticks.eq(submission_lock::ticks + 1))
                .execute(sqlite)?;
        }
    }
    Ok(())
}

/// A stable 64-bit lock key for a submitter attribute.
pub(super) fn submitter_key(kind: &str, value: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("replyguard:{kind}:{value}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// The id of an earlier comment with the same post, parent, email (any case)
/// and normalized text, whatever its status.
///
/// # Errors
/// Any database failure.
pub fn find_duplicate(
    conn: &mut DbConn,
    post_id: &str,
    parent_id: Option<i64>,
    email: &str,
    fingerprints: &[String],
) -> Result<Option<i64>, StorageError> {
    let mut query = comments::table
        .filter(comments::post_id.eq(post_id))
        .filter(comments::content_fingerprint.eq_any(fingerprints))
        .select((comments::id, comments::author_email))
        .into_boxed();
    query = match parent_id {
        Some(parent) => query.filter(comments::parent_id.eq(parent)),
        None => query.filter(comments::parent_id.is_null()),
    };
    // Emails are stored lower-cased (see `AuthorEmail`); rows from older
    // versions may not be, so compare without case here.
    let candidates: Vec<(i64, String)> = query.load(conn)?;
    Ok(candidates
        .into_iter()
        .find(|(_, e)| e.to_lowercase() == email.to_lowercase())
        .map(|(id, _)| id))
}

/// When the latest stored comment from this IP or email was made.
///
/// # Errors
/// Any database failure.
pub fn latest_from(
    conn: &mut DbConn,
    ip: Option<&str>,
    email: &str,
) -> Result<Option<NaiveDateTime>, StorageError> {
    let by_email: Option<NaiveDateTime> = comments::table
        .filter(comments::author_email.eq(email))
        .select(diesel::dsl::max(comments::created_at))
        .first(conn)?;
    let by_ip: Option<NaiveDateTime> = match ip {
        Some(ip) => comments::table
            .filter(comments::ip.eq(ip))
            .select(diesel::dsl::max(comments::created_at))
            .first(conn)?,
        None => None,
    };
    Ok(by_email.max(by_ip))
}
