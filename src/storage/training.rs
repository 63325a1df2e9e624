//! Labelled training examples: labels from moderation decisions (one per
//! comment, the latest decision wins) and imported ones.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::records::{CommentRecord, NewTrainingExampleRecord};
use super::schema::training_examples;
use super::{DbConn, StorageError};
use crate::domain::CommentId;
use crate::domain::dataset::LabelledExample;

/// Where an example came from.
pub const SOURCE_MODERATION: &str = "moderation";
pub const SOURCE_IMPORT: &str = "import";
pub const SOURCE_AKISMET: &str = "akismet";

fn label_name(is_spam: bool) -> &'static str {
    if is_spam { "spam" } else { "ham" }
}

/// SHA-256 of label and text: two examples with the same text and label are the same.
pub fn content_hash(is_spam: bool, content: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(label_name(is_spam).as_bytes());
    hasher.update([0]);
    hasher.update(content.as_bytes());
    format!("{:x}", hasher.finalize())
}

/// Labels a comment (replacing any label it had), copying the fields the model uses.
///
/// # Errors
/// Any database failure.
pub fn label_comment(
    conn: &mut DbConn,
    comment: &CommentRecord,
    is_spam: bool,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    unlabel_comment(conn, CommentId(comment.id))?;
    diesel::insert_into(training_examples::table)
        .values(NewTrainingExampleRecord {
            comment_id: Some(comment.id),
            source: SOURCE_MODERATION.to_owned(),
            label: label_name(is_spam).to_owned(),
            content: comment.content.clone(),
            author_name: Some(comment.author_name.clone()),
            author_email: Some(comment.author_email.clone()),
            author_url: comment.author_url.clone(),
            content_hash: content_hash(is_spam, &comment.content),
            created_at: now,
        })
        .execute(conn)?;
    Ok(())
}

/// Labelled examples stored since the newest training job was queued (all of
/// them when none ever was): what an automatic retrain waits for.
///
/// # Errors
/// Any database failure.
pub fn added_since_last_job(conn: &mut DbConn) -> Result<i64, StorageError> {
    use super::schema::training_jobs;
    let last: Option<NaiveDateTime> = training_jobs::table
        .select(diesel::dsl::max(training_jobs::created_at))
        .first(conn)?;
    Ok(match last {
        Some(last) => training_examples::table
            .filter(training_examples::created_at.gt(last))
            .count()
            .get_result(conn)?,
        None => training_examples::table.count().get_result(conn)?,
    })
}

/// Removes a comment's label, if any.
///
/// # Errors
/// Any database failure.
pub fn unlabel_comment(conn: &mut DbConn, id: CommentId) -> Result<(), StorageError> {
    diesel::delete(training_examples::table.filter(training_examples::comment_id.eq(id.0)))
        .execute(conn)?;
    Ok(())
}

/// Stores examples in one transaction, skipping any whose text and label are
/// already stored (or repeat within `rows`). Returns (imported, duplicates).
///
/// # Errors
/// Any database failure; then nothing is stored.
pub fn import(
    conn: &mut DbConn,
    rows: &[LabelledExample],
    source: &str,
    now: NaiveDateTime,
) -> Result<(usize, usize), StorageError> {
    // Looked up before the write transaction: on SQLite a transaction that
    // reads first cannot always upgrade to a writer when others commit meanwhile.
    let hashes: Vec<String> = rows
        .iter()
        .map(|r| content_hash(r.is_spam, r.text.trim()))
        .collect();
    let mut seen: HashSet<String> = HashSet::new();
    for chunk in hashes.chunks(500) {
        let existing: Vec<String> = training_examples::table
            .filter(training_examples::content_hash.eq_any(chunk))
            .select(training_examples::content_hash)
            .load(conn)?;
        seen.extend(existing);
    }
    conn.transaction(|conn| {
        let mut imported = 0;
        for (row, hash) in rows.iter().zip(hashes) {
            if !seen.insert(hash.clone()) {
                continue;
            }
            diesel::insert_into(training_examples::table)
                .values(NewTrainingExampleRecord {
                    comment_id: None,
                    source: source.to_owned(),
                    label: label_name(row.is_spam).to_owned(),
                    // Stored as a comment's text is, trimmed, so that an
                    // import and a moderator's label of the same text agree.
                    content: row.text.trim().to_owned(),
                    author_name: row.author_name.clone(),
                    author_email: row.author_email.clone(),
                    author_url: row.author_url.clone(),
                    content_hash: hash,
                    created_at: now,
                })
                .execute(conn)?;
            imported += 1;
        }
        Ok((imported, rows.len() - imported))
    })
}

/// Stored examples by label and by source.
#[derive(Debug, Clone)]
pub struct ExampleStats {
    pub by_label: Vec<(String, i64)>,
    pub by_source: Vec<(String, i64)>,
}

/// # Errors
/// Any database failure.
pub fn stats(conn: &mut DbConn) -> Result<ExampleStats, StorageError> {
    let by_label = training_examples::table
        .group_by(training_examples::label)
        .select((training_examples::label, count_star()))
        .load::<(String, i64)>(conn)?;
    let by_source = training_examples::table
        .group_by(training_examples::source)
        .select((training_examples::source, count_star()))
        .load::<(String, i64)>(conn)?;
    Ok(ExampleStats {
        by_label,
        by_source,
    })
}

/// (label, content, author name, author email, author URL).
type StoredExample = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Every stored example (moderation labels and imports), oldest first.
///
/// # Errors
/// Any database failure.
pub fn list_examples(conn: &mut DbConn) -> Result<Vec<LabelledExample>, StorageError> {
    let rows: Vec<StoredExample> = training_examples::table
        .select((
            training_examples::label,
            training_examples::content,
            training_examples::author_name,
            training_examples::author_email,
            training_examples::author_url,
        ))
        .order(training_examples::id.asc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(label, text, author_name, author_email, author_url)| LabelledExample {
                is_spam: label == "spam",
                text,
                author_name,
                author_email,
                author_url,
            },
        )
        .collect())
}
