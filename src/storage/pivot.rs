//! Pivot moderation: from one comment to every pending comment that shares its
//! client IP, its email or a link domain (a spam wave is usually one of these).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::moderation::{BulkOutcome, find, lower, transition_all};
use super::schema::comments;
use super::{DbConn, StorageError};
use crate::domain::links::link_domains;
use crate::domain::{CommentId, Status};

/// What the pending comments must share with the anchor comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PivotBy {
    /// The client IP address.
    Ip,
    /// The author's email, case-insensitively.
    Email,
    /// The registrable domain of the author's website or, without one, of the
    /// first link in the text.
    Domain,
}

/// The pending comments a pivot reaches, oldest first.
#[derive(Debug, serde::Serialize)]
pub struct PivotMatch {
    /// The shared value (an IP, an email, a domain).
    pub value: String,
    pub ids: Vec<i64>,
    /// More than `limit` matched; only the first `limit` are listed.
    pub more: bool,
}

/// What looking for a pivot found.
#[derive(Debug)]
pub enum Pivot {
    /// No such anchor comment.
    Missing,
    /// The anchor has no value to pivot on (no IP recorded, no link).
    NoValue,
    Found(PivotMatch),
}

/// The pending comments (the anchor itself too, if pending) sharing `by` with
/// `anchor`, at most `limit`.
///
/// # Errors
/// Any database failure.
pub fn pending_sharing(
    conn: &mut DbConn,
    anchor: CommentId,
    by: PivotBy,
    limit: usize,
) -> Result<Pivot, StorageError> {
    let Some(record) = find(conn, anchor)? else {
        return Ok(Pivot::Missing);
    };
    let value = match by {
        PivotBy::Ip => record.ip.clone(),
        PivotBy::Email => Some(record.author_email.to_lowercase()),
        PivotBy::Domain => link_domains(record.author_url.as_deref(), &record.content)
            .into_iter()
            .next(),
    };
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(Pivot::NoValue);
    };
    let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
    let pending = comments::table
        .filter(comments::status.eq(Status::Pending.as_str()))
        .order((comments::created_at.asc(), comments::id.asc()))
        .into_boxed();
    let mut capped = false;
    let mut ids: Vec<i64> = match by {
        PivotBy::Ip => pending
            .filter(comments::ip.eq(value.clone()))
            .select(comments::id)
            .limit(fetch)
            .load(conn)?,
        PivotBy::Email => pending
            .filter(lower(comments::author_email).eq(value.clone()))
            .select(comments::id)
            .limit(fetch)
            .load(conn)?,
        PivotBy::Domain => {
            // The database narrows by substring; the link rules decide.
            let pattern = format!("%{}%", super::moderation::escape_like(&value));
            // Bounded, so a huge wave cannot load every pending comment at once.
            let cap = fetch.saturating_mul(20);
            let candidates: Vec<(i64, Option<String>, String)> = pending
                .filter(
                    lower(comments::content)
                        .like(pattern.clone())
                        .escape('\\')
                        .or(comments::author_url.is_not_null().and(
                            lower(comments::author_url.assume_not_null())
                                .like(pattern)
                                .escape('\\'),
                        )),
                )
                .select((comments::id, comments::author_url, comments::content))
                .limit(cap)
                .load(conn)?;
            capped = i64::try_from(candidates.len()).unwrap_or(i64::MAX) >= cap;
            candidates
                .into_iter()
                .filter(|(_, url, content)| link_domains(url.as_deref(), content).contains(&value))
                .map(|(id, _, _)| id)
                .take(limit.saturating_add(1))
                .collect()
        }
    };
    let more = ids.len() > limit || capped;
    ids.truncate(limit);
    Ok(Pivot::Found(PivotMatch { value, ids, more }))
}

/// Finds the pending comments sharing `by` with `anchor` (of them, only those
/// in `only`, when given: the ones a preview showed) and moves them to `to`
/// (each only if still pending), in one transaction.
///
/// # Errors
/// Any database failure; then nothing was changed.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    conn: &mut DbConn,
    anchor: CommentId,
    by: PivotBy,
    limit: usize,
    only: Option<&[i64]>,
    to: Status,
    actor: &str,
    now: NaiveDateTime,
) -> Result<(Pivot, BulkOutcome), StorageError> {
    super::transaction(conn, |conn| {
        let mut pivot = pending_sharing(conn, anchor, by, limit)?;
        if let (Pivot::Found(found), Some(only)) = (&mut pivot, only) {
            // What the moderator was shown, and no comment that came since.
            found.ids.retain(|id| only.contains(id));
        }
        let outcome = match &pivot {
            Pivot::Found(found) => {
                let ids: Vec<CommentId> = found.ids.iter().copied().map(CommentId).collect();
                transition_all(conn, &ids, to, Some(Status::Pending), actor, now)?
            }
            Pivot::Missing | Pivot::NoValue => BulkOutcome::default(),
        };
        Ok((pivot, outcome))
    })
}
