//! Row types: what is read from and written to the tables. These never leave the
//! service as JSON; routes map them into their own response types.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::comments;

/// One row of `comments`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = comments)]
pub struct CommentRecord {
    pub id: i64,
    pub post_id: String,
    pub parent_id: Option<i64>,
    pub status: String,
    pub author_name: String,
    pub author_email: String,
    pub author_url: Option<String>,
    pub content: String,
    pub permalink: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub referrer: Option<String>,
    pub spam_score: Option<f64>,
    pub model_version: Option<String>,
    /// JSON array of strings.
    pub reasons: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// SHA-256 of the normalized text, for duplicate detection.
    pub content_fingerprint: String,
}

/// A comment to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = comments)]
pub struct NewCommentRecord<'a> {
    pub post_id: &'a str,
    pub parent_id: Option<i64>,
    pub status: &'a str,
    pub author_name: &'a str,
    pub author_email: &'a str,
    pub author_url: Option<&'a str>,
    pub content: &'a str,
    pub permalink: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub referrer: Option<&'a str>,
    pub spam_score: Option<f64>,
    pub model_version: Option<&'a str>,
    pub reasons: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub content_fingerprint: &'a str,
}

/// One row of `admin_tokens`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::admin_tokens)]
pub struct AdminTokenRecord {
    pub id: i64,
    pub name: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    /// `admin` or `akismet` ([`crate::auth::TokenScope`]).
    pub scope: String,
}

/// One row of `comment_events`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::comment_events)]
pub struct CommentEventRecord {
    pub id: i64,
    pub comment_id: i64,
    pub actor: String,
    pub from_status: String,
    pub to_status: String,
    pub at: NaiveDateTime,
}

/// A labelled example to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::training_examples)]
pub struct NewTrainingExampleRecord {
    pub comment_id: Option<i64>,
    pub source: String,
    pub label: String,
    pub content: String,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    pub author_url: Option<String>,
    pub content_hash: String,
    pub created_at: NaiveDateTime,
}
