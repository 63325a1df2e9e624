//! One integration-test binary: each module's tests run against the real server
//! on a random port, once on SQLite (a temp file) and once on PostgreSQL (a fresh
//! schema per test on `TEST_DATABASE_URL`, default the local `test` database).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod abuse;
mod admin;
mod akismet;

mod comments;
mod errors;
mod health;
mod metrics;
mod models;
mod openapi;
mod pages;
mod public;
mod reliability;
mod scoring;
