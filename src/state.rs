//! State shared by every HTTP worker: the database, the settings and the caches
//! an instance keeps (the active model, the keyword matcher). Only
//! [`crate::startup`] builds it; `routes` and the workflows read it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};

use crate::cache::{ActiveModel, KeywordCache, PublicCache};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::storage::Database;
use crate::storage::submissions::SubmissionQueue;

/// State shared by every worker.
pub struct AppState {
    pub db: Database,
    /// PostgreSQL's group commit of submissions; `None` on SQLite, whose one
    /// writer batches every write ([`Database::write`]).
    pub submissions: Option<SubmissionQueue>,
    pub settings: Arc<Settings>,
    /// The active model and its hot swap; a request takes one snapshot and
    /// finishes on it.
    pub model: Arc<ActiveModel>,
    /// The compiled keyword lists, rebuilt when their version changes.
    pub keywords: Arc<KeywordCache>,
    /// Public reads as answered, forgotten when comments change.
    pub public: Arc<PublicCache>,
    /// Akismet `comment-check` calls this instance answered since it started
    /// (`GET /1.2/usage-limit`).
    pub akismet_checks: AtomicU64,
    /// The database is migrated and the caches loaded; until then every
    /// request but `/healthz` gets 503 (start-up before the database).
    pub ready: AtomicBool,
    /// What `GET /metrics` reports.
    pub metrics: Arc<Metrics>,
}
