//! Moderation queries: the admin queue, status transitions with their audit
//! events and labels, erasure, and queue statistics.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::comments::PublicCursor;
use super::records::{CommentEventRecord, CommentRecord};
use super::schema::{comment_events, comments};
use super::{DbConn, StorageError, training};
use crate::domain::{CommentId, Status};

diesel::define_sql_function! {
    /// SQL `lower(text)`, the same on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Filters and page of the admin queue.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub status: Option<Status>,
    pub post_id: Option<String>,
    /// Case-insensitive substring of content, author name or email.
    pub query: Option<String>,
    pub oldest_first: bool,
    pub after: Option<PublicCursor>,
    pub limit: i64,
}

/// A page of the admin queue, keyset-paginated on (created_at, id): comments that
/// arrive or change between pages never shift the pages already seen.
///
/// # Errors
/// Any database failure.
pub fn list_queue(
    conn: &mut DbConn,
    filter: &QueueFilter,
) -> Result<Vec<CommentRecord>, StorageError> {
    let mut query = comments::table
        .select(CommentRecord::as_select())
        .into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(comments::status.eq(status.as_str()));
    }
    if let Some(post_id) = &filter.post_id {
        query = query.filter(comments::post_id.eq(post_id.clone()));
    }
    if let Some(q) = &filter.query {
        let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
        query = query.filter(
            lower(comments::content)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(comments::author_name)
                    .like(pattern.clone())
                    .escape('\\'))
                .or(lower(comments::author_email).like(pattern).escape('\\')),
        );
    }
    if let Some(after) = filter.after {
        query = if filter.oldest_first {
            query.filter(
                comments::created_at
                    .gt(after.created_at)
                    .or(comments::created_at
                        .eq(after.created_at)
                        .and(comments::id.gt(after.id))),
            )
        } else {
            query.filter(
                comments::created_at
                    .lt(after.created_at)
                    .or(comments::created_at
                        .eq(after.created_at)
                        .and(comments::id.lt(after.id))),
            )
        };
    }
    query = if filter.oldest_first {
        query.order((comments::created_at.asc(), comments::id.asc()))
    } else {
        query.order((comments::created_at.desc(), comments::id.desc()))
    };
    Ok(query.limit(filter.limit).load(conn)?)
}

pub(super) fn escape_like(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One comment, any status.
///
/// # Errors
/// Any database failure.
pub fn find(conn: &mut DbConn, id: CommentId) -> Result<Option<CommentRecord>, StorageError> {
    Ok(comments::table
        .filter(comments::id.eq(id.0))
        .select(CommentRecord::as_select())
        .first(conn)
        .optional()?)
}

/// The audit trail of a comment, oldest first.
///
/// # Errors
/// Any database failure.
pub fn events(conn: &mut DbConn, id: CommentId) -> Result<Vec<CommentEventRecord>, StorageError> {
    Ok(comment_events::table
        .filter(comment_events::comment_id.eq(id.0))
        .select(CommentEventRecord::as_select())
        .order(comment_events::id.asc())
        .load(conn)?)
}

/// What a requested status change did.
#[derive(Debug)]
pub enum Transition {
    /// Changed; an event and the label were recorded.
    Updated(CommentRecord),
    /// Already had that status: nothing recorded.
    Unchanged(CommentRecord),
    /// `if_status` did not match the current status.
    Conflict(CommentRecord),
    /// No such comment.
    Missing,
}

/// What a bulk decision did, id by id.
#[derive(Debug, Default, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkOutcome {
    pub updated: Vec<i64>,
    pub conflicts: Vec<i64>,
    pub missing: Vec<i64>,
}

/// Moves every comment in `ids` to `to` (each if its status is still
/// `if_status`) in one transaction: all of it is applied or none (a lock
/// timeout or a lost connection on any id rolls back the others), so a failed
/// call never leaves part of its work behind.
///
/// # Errors
/// Any database failure; then nothing was changed.
pub fn transition_all(
    conn: &mut DbConn,
    ids: &[CommentId],
    to: Status,
    if_status: Option<Status>,
    actor: &str,
    now: NaiveDateTime,
) -> Result<BulkOutcome, StorageError> {
    super::transaction(conn, |conn| {
        let mut outcome = BulkOutcome::default();
        for &id in ids {
            let list = match transition(conn, id, to, if_status, actor, now)? {
                Transition::Updated(_) | Transition::Unchanged(_) => &mut outcome.updated,
                Transition::Conflict(_) => &mut outcome.conflicts,
                Transition::Missing => &mut outcome.missing,
            };
            list.push(id.0);
        }
        Ok(outcome)
    })
}

/// Moves a comment to `to`, if its status is still `if_status` (when given), in
/// one transaction with its audit event and label. The transaction starts by
/// writing the row, which takes PostgreSQL's row lock and SQLite's write lock, so
/// of two moderators acting at once exactly one sees the old status and wins.
///
/// # Errors
/// Any database failure.
pub fn transition(
    conn: &mut DbConn,
    id: CommentId,
    to: Status,
    if_status: Option<Status>,
    actor: &str,
    now: NaiveDateTime,
) -> Result<Transition, StorageError> {
    conn.transaction(|conn| {
        let locked = diesel::update(comments::table.filter(comments::id.eq(id.0)))
            .set(comments::updated_at.eq(comments::updated_at))
            .execute(conn)?;
        if locked == 0 {
            return Ok(Transition::Missing);
        }
        let current =
            find(conn, id)?.ok_or_else(|| StorageError::Corrupt("comment vanished".into()))?;
        let from: Status =
            current
                .status
                .parse()
                .map_err(|err: crate::domain::moderation::UnknownStatus| {
                    StorageError::Corrupt(err.to_string())
                })?;
        if if_status.is_some_and(|expected| expected != from) {
            return Ok(Transition::Conflict(current));
        }
        if from == to {
            // No event, but a moderator confirming the classifier's spam (or an
            // approval) is still a decision, and so a label.
            apply_label(conn, &current, to, now)?;
            return Ok(Transition::Unchanged(current));
        }
        diesel::update(comments::table.filter(comments::id.eq(id.0)))
            .set((
                comments::status.eq(to.as_str()),
                comments::updated_at.eq(now),
            ))
            .execute(conn)?;
        diesel::insert_into(comment_events::table)
            .values((
                comment_events::comment_id.eq(id.0),
                comment_events::actor.eq(actor),
                comment_events::from_status.eq(from.as_str()),
                comment_events::to_status.eq(to.as_str()),
                comment_events::at.eq(now),
            ))
            .execute(conn)?;
        apply_label(conn, &current, to, now)?;
        let updated =
            find(conn, id)?.ok_or_else(|| StorageError::Corrupt("comment vanished".into()))?;
        Ok(Transition::Updated(updated))
    })
}

/// The label a decision gives: spam → spam, approved → ham; trash and pending
/// leave the comment unlabelled.
fn apply_label(
    conn: &mut DbConn,
    comment: &CommentRecord,
    to: Status,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    match to {
        Status::Spam => training::label_comment(conn, comment, true, now),
        Status::Approved => training::label_comment(conn, comment, false, now),
        Status::Trash | Status::Pending => training::unlabel_comment(conn, CommentId(comment.id)),
    }
}

/// Erases a comment with its label and audit events (a privacy request); its
/// replies stay, as top-level comments. One statement: the schema's foreign keys
/// delete the label and events (`ON DELETE CASCADE`) and detach the replies
/// (`ON DELETE SET NULL`), in the same order on every path, so an erase cannot
/// deadlock with a status change. `false` if there was no such comment.
///
/// # Errors
/// Any database failure.
pub fn erase(conn: &mut DbConn, id: CommentId) -> Result<bool, StorageError> {
    let deleted = diesel::delete(comments::table.filter(comments::id.eq(id.0))).execute(conn)?;
    Ok(deleted > 0)
}

/// How many comments wait for a moderator.
///
/// # Errors
/// Any database failure.
pub fn count_pending(conn: &mut DbConn) -> Result<i64, StorageError> {
    Ok(comments::table
        .filter(comments::status.eq(Status::Pending.as_str()))
        .count()
        .get_result(conn)?)
}

/// Comments per status and the creation time of the oldest pending one.
#[derive(Debug, Clone)]
pub struct QueueStats {
    pub counts: Vec<(String, i64)>,
    pub oldest_pending: Option<NaiveDateTime>,
}

/// # Errors
/// Any database failure.
pub fn queue_stats(conn: &mut DbConn) -> Result<QueueStats, StorageError> {
    let counts = comments::table
        .group_by(comments::status)
        .select((comments::status, count_star()))
        .load::<(String, i64)>(conn)?;
    let oldest = comments::table
        .filter(comments::status.eq(Status::Pending.as_str()))
        .select(diesel::dsl::min(comments::created_at))
        .first::<Option<NaiveDateTime>>(conn)?;
    Ok(QueueStats {
        counts,
        oldest_pending: oldest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
    }
}
