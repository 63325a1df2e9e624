//! Storage: one diesel connection type for both backends, the pool, migrations and
//! the query functions. The backend is chosen at run time from `DATABASE_URL`.
//!
//! Query functions are plain functions over `&mut DbConn`, named after what
//! they do; one that must be atomic on its own (a decision with its event and
//! label) opens its own transaction, and a workflow that needs several in one
//! (a submission's checks with its insert) wraps them in [`transaction`];
//! nested transactions become savepoints. Blocking diesel work runs on tokio's
//! blocking pool through [`Database::run`], never on the async workers. No
//! caller above this module names diesel: its errors arrive as [`StorageError`].
//! This module knows nothing of HTTP.

mod breaker;
pub mod comments;
mod group;
pub mod models;
pub mod moderation;
pub mod pivot;
mod pool;
pub mod records;
pub mod schema;
pub mod settings;
pub mod submissions;
pub mod tokens;
pub mod training;
mod url;
pub mod writer;

pub use group::Batcher;
pub use pool::{Database, PoolOptions, PoolState};
pub use url::{DatabaseUrl, DatabaseUrlError};

use std::fmt;
use std::path::Path;
use std::time::Duration;

use chrono::{NaiveDateTime, SubsecRound, Utc};
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Key of the PostgreSQL advisory lock held while migrations run, so that several
/// instances starting together apply each migration once. Any fixed value works;
/// this one is "replygrd" in ASCII.
const MIGRATION_LOCK_KEY: i64 = 0x7265_706c_7967_7264;

/// A connection to either backend. Per-backend code matches on the variant.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database cannot be reached right now (connection refused or lost, pool
    /// wait timed out, SQLite busy past its timeout). Retrying later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A write refused by a constraint; which one says what raced.
    #[error("a {0} constraint refused the write")]
    Constraint(Constraint),
    /// Any other failed query.
    #[error("database query failed")]
    Query(#[source] DieselError),
    /// A stored value that this version cannot read (e.g. an unknown status).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// A value could not be encoded for storage.
    #[error("a value could not be encoded for storage")]
    Encode(#[source] serde_json::Error),
    /// The blocking task running the query panicked or was cancelled (a bug).
    #[error("the database task failed: {0}")]
    TaskFailed(String),
    /// A migration could not be applied.
    #[error("migration failed: {0}")]
    Migration(String),
}

/// The kinds of constraint a write can hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// A referenced row is gone (e.g. a reply whose parent was just erased).
    ForeignKey,
    /// A unique key is taken.
    Unique,
    /// A NOT NULL or CHECK constraint.
    Check,
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ForeignKey => "foreign-key",
            Self::Unique => "unique",
            Self::Check => "check",
        })
    }
}

impl From<DieselError> for StorageError {
    fn from(err: DieselError) -> Self {
        match &err {
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => Self::Unavailable(info.message().to_owned()),
            // Waits past the timeout: SQLite's busy_timeout, PostgreSQL's
            // lock_timeout and statement_timeout. All arrive as unclassified errors.
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                if is_lock_timeout(info.message()) =>
            {
                Self::Unavailable(info.message().to_owned())
            }
            // Transient: a deadlock victim, a serialization failure, a server
            // in recovery or read-only after a failover. Retrying later works.
            DieselError::DatabaseError(
                DatabaseErrorKind::SerializationFailure | DatabaseErrorKind::ReadOnlyTransaction,
                info,
            ) => Self::Unavailable(info.message().to_owned()),
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                if is_transient(info.message()) =>
            {
                Self::Unavailable(info.message().to_owned())
            }
            DieselError::BrokenTransactionManager => {
                Self::Unavailable("connection left in a broken transaction".to_owned())
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                Self::Constraint(Constraint::ForeignKey)
            }
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                Self::Constraint(Constraint::Unique)
            }
            DieselError::DatabaseError(
                DatabaseErrorKind::NotNullViolation | DatabaseErrorKind::CheckViolation,
                _,
            ) => Self::Constraint(Constraint::Check),
            _ => Self::Query(err),
        }
    }
}

fn is_transient(message: &str) -> bool {
    message.contains("deadlock detected")
        || message.contains("terminating connection")
        || message.contains("the database system is")
}

fn is_lock_timeout(message: &str) -> bool {
    message.contains("database is locked")
        || message.contains("database table is locked")
        || message.contains("canceling statement due to lock timeout")
        || message.contains("canceling statement due to statement timeout")
}

/// This process's clock in UTC, to the microsecond both backends store. For
/// times that instances sharing a database compare, use [`database_now`].
pub fn now() -> NaiveDateTime {
    Utc::now().trunc_subsecs(6).naive_utc()
}

/// The database's clock, in UTC to the microsecond: times that instances
/// sharing one PostgreSQL compare (flood control with comments' `created_at`,
/// job heartbeats) come from it, so that instances whose clocks differ still agree. It is the time
/// of the call, not of the transaction's start (`clock_timestamp()`, in UTC
/// whatever the session's time zone). A SQLite file serves the machine it is
/// on, and that machine's clock is the database's.
///
/// # Errors
/// Any database failure.
pub fn database_now(conn: &mut DbConn) -> Result<NaiveDateTime, StorageError> {
    #[derive(QueryableByName)]
    struct Now {
        #[diesel(sql_type = diesel::sql_types::Timestamp)]
        now: NaiveDateTime,
    }
    match conn {
        DbConn::Pg(pg) => {
            let row: Now = diesel::sql_query("SELECT clock_timestamp() AT TIME ZONE 'UTC' AS now")
                .get_result(pg)?;
            Ok(row.now)
        }
        DbConn::Sqlite(_) => Ok(now()),
    }
}

/// Runs `f` in a transaction: committed if it returns `Ok`, rolled back
/// otherwise (a savepoint when already inside one).
///
/// # Errors
/// Whatever `f` returns, or the commit failing.
pub fn transaction<T, E>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<StorageError>,
{
    let mut inner = None;
    let outcome = conn.transaction(|conn| match f(conn) {
        Ok(value) => Ok(value),
        Err(err) => {
            inner = Some(err);
            Err(DieselError::RollbackTransaction)
        }
    });
    match (outcome, inner) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(err)) => Err(err),
        (Err(err), None) => Err(StorageError::from(err).into()),
    }
}

/// Applies pending migrations for the backend `url` names and returns their names.
/// On PostgreSQL this holds an advisory lock, so concurrent starts apply each
/// migration exactly once; on SQLite it creates the file's folder first and
/// waits up to `busy_timeout` for another writer.
///
/// # Errors
/// [`StorageError::Unavailable`] if the database cannot be reached,
/// [`StorageError::Migration`] if a migration fails.
pub fn run_migrations(
    url: &DatabaseUrl,
    busy_timeout: Duration,
) -> Result<Vec<String>, StorageError> {
    if let DatabaseUrl::Sqlite(path) = url {
        create_parent_dir(path)?;
    }
    let mut conn = url
        .establish()
        .map_err(|err| StorageError::Unavailable(err.to_string()))?;
    let applied = match &mut conn {
        DbConn::Pg(c) => {
            diesel::sql_query("SELECT pg_advisory_lock($1)")
                .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK_KEY)
                .execute(c)?;
            let result = c
                .run_pending_migrations(PG_MIGRATIONS)
                .map(|done| done.iter().map(ToString::to_string).collect());
            diesel::sql_query("SELECT pg_advisory_unlock($1)")
                .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK_KEY)
                .execute(c)?;
            result
        }
        DbConn::Sqlite(c) => {
            c.batch_execute(&pool::sqlite_pragmas(busy_timeout.as_millis()))?;
            c.run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|done| done.iter().map(ToString::to_string).collect())
        }
    };
    applied.map_err(|err| StorageError::Migration(err.to_string()))
}

fn create_parent_dir(path: &Path) -> Result<(), StorageError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir).map_err(|err| {
            StorageError::Unavailable(format!("cannot create {}: {err}", dir.display()))
        }),
        _ => Ok(()),
    }
}
