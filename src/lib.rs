//! replyguard: a self-hosted backend for website comment forms.
//!
//! A site's "Leave a Reply" form posts to [`routes`]; the fields are parsed into
//! [`domain`] types, scored by the naive-Bayes [`classifier`], decided by the
//! pure rules of [`domain::moderation`] and stored through [`storage`] in
//! PostgreSQL or SQLite. [`startup`] wires it into an actix-web server; [`cli`]
//! is the `replyguard` binary's command line.
//!
//! Layering: `domain` depends on nothing in this crate; `classifier` and
//! `storage` only on `domain`; the workflows (`submission`, `akismet`,
//! `retrain`, `jobs`) and the caches (`cache`) combine them, and `routes`
//! puts HTTP in front of those.

pub mod akismet;
pub mod auth;
pub mod cache;
pub mod classifier;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod jobs;
pub mod metrics;
pub mod retrain;
pub mod routes;
pub mod startup;
pub mod state;
pub mod storage;
pub mod submission;
pub mod telemetry;
