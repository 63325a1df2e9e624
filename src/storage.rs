//! Storage: one diesel connection type for both backends, the pool, migrations and
//! the query functions. The backend is chosen at run time from `DATABASE_URL`.
//!
//! Query functions are plain functions over `&mut DbConn`; the caller owns the
//! transaction. Blocking diesel work runs on tokio's blocking pool through
//! [`Database::run`], never on the async workers. This module knows nothing of HTTP.

pub mod comments;
pub mod models;
pub mod moderation;
pub mod records;
pub mod schema;
pub mod settings;
pub mod tokens;
pub mod training;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, CustomizeConnection, ManageConnection};
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

/// Where the data lives, parsed from `DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A `postgres://` or `postgresql://` URL, passed to libpq unchanged.
    Postgres(String),
    /// A SQLite database file (created on first use, with its folder).
    Sqlite(PathBuf),
}

/// Why a `DATABASE_URL` was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("DATABASE_URL is empty")]
    Empty,
    #[error(
        "DATABASE_URL scheme `{0}` is not supported: use postgres://USER@HOST/DB or sqlite://PATH"
    )]
    UnknownScheme(String),
    #[error(
        "DATABASE_URL `sqlite://` names no file: use sqlite://PATH, e.g. sqlite://data/replyguard.db"
    )]
    MissingPath,
}

impl DatabaseUrl {
    /// Parses `postgres://…`, `postgresql://…`, `sqlite://PATH`, `sqlite:PATH` or a
    /// plain file path. Any other `scheme://` is refused rather than opened as a
    /// file, since SQLite would silently create a new, empty database under that name.
    ///
    /// # Errors
    /// An empty value, an unknown scheme, or `sqlite://` without a path.
    pub fn parse(raw: &str) -> Result<Self, DatabaseUrlError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(DatabaseUrlError::Empty);
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_owned()));
        }
        let path = if let Some(rest) = raw.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = raw.strip_prefix("sqlite:") {
            rest
        } else if let Some((scheme, _)) = raw.split_once("://") {
            return Err(DatabaseUrlError::UnknownScheme(scheme.to_owned()));
        } else {
            raw
        };
        if path.is_empty() {
            return Err(DatabaseUrlError::MissingPath);
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// `"postgres"` or `"sqlite"`, for logs and readiness reports.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

    fn establish(&self) -> ConnectionResult<DbConn> {
        match self {
            Self::Postgres(url) => PgConnection::establish(url).map(DbConn::Pg),
            Self::Sqlite(path) => {
                SqliteConnection::establish(&path.to_string_lossy()).map(DbConn::Sqlite)
            }
        }
    }
}

/// Never prints credentials: a PostgreSQL URL is shown without its user info.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Postgres(url) => match url::Url::parse(url) {
                Ok(parsed) => write!(
                    f,
                    "postgres://{}{}",
                    parsed.host_str().unwrap_or(""),
                    parsed.path()
                ),
                Err(_) => f.write_str("postgres://(unparsable)"),
            },
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database cannot be reached right now (connection refused or lost, pool
    /// wait timed out, SQLite busy past its timeout). Retrying later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other failed query.
    #[error("database query failed")]
    Query(#[source] DieselError),
    /// A stored value that this version cannot read (e.g. an unknown status).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// A migration could not be applied.
    #[error("migration failed: {0}")]
    Migration(String),
}

impl From<DieselError> for StorageError {
    fn from(err: DieselError) -> Self {
        match &err {
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => Self::Unavailable(info.message().to_owned()),
            // Lock contention past the timeout: SQLite's busy_timeout, PostgreSQL's
            // lock_timeout. Both arrive as unclassified errors.
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
}

/// Settings of the connection pool.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections held open at once.
    pub max_size: u32,
    /// How long a request waits for a connection (and SQLite for a lock) before
    /// the database counts as unavailable.
    pub timeout: Duration,
}

/// Opens connections for the pool, always of the backend the URL names (diesel's
/// generated `establish` would try every backend in turn and lose the real error).
struct Manager {
    url: DatabaseUrl,
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        self.url.establish().map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        <DbConn as r2d2::R2D2Connection>::is_broken(conn)
    }
}

/// Applies per-connection settings when the pool opens a connection.
#[derive(Debug)]
struct Customizer {
    busy_timeout_ms: u128,
}

impl CustomizeConnection<DbConn, r2d2::Error> for Customizer {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        match conn {
            DbConn::Sqlite(c) => {
                c.batch_execute(&sqlite_pragmas(self.busy_timeout_ms))
                    .map_err(r2d2::Error::QueryError)?;
                // SQLite's own lower() folds ASCII only; the admin search must
                // find `Müller` for `müller` as PostgreSQL does. No index or
                // stored value depends on lower(), so replacing it is safe.
                moderation::lower_utils::register_impl(c, |text: String| text.to_lowercase())
                    .map_err(r2d2::Error::QueryError)
            }
            // A lock held past the timeout (a long migration, an operator's
            // LOCK TABLE) fails the statement instead of hanging the request.
            DbConn::Pg(c) => c
                .batch_execute(&format!("SET lock_timeout = {}", self.busy_timeout_ms))
                .map_err(r2d2::Error::QueryError),
        }
    }
}

fn sqlite_pragmas(busy_timeout_ms: u128) -> String {
    // WAL lets readers proceed while one writer commits; it is a property of the
    // file, set again here so that every connection agrees. synchronous=FULL
    // syncs every commit, so an acknowledged comment survives a power loss
    // (NORMAL could lose the last commits).
    format!(
        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = {busy_timeout_ms}; \
         PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;"
    )
}

/// The shared connection pool, cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<Manager>,
    url: DatabaseUrl,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database").field("url", &self.url).finish()
    }
}

impl Database {
    /// Builds the pool without opening a connection, so that a service started
    /// while the database is briefly down still comes up and recovers by itself.
    pub fn new(url: DatabaseUrl, options: &PoolOptions) -> Self {
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(0))
            .connection_timeout(options.timeout)
            .connection_customizer(Box::new(Customizer {
                busy_timeout_ms: options.timeout.as_millis(),
            }))
            .build_unchecked(Manager { url: url.clone() });
        Self { pool, url }
    }

    /// Which backend this pool talks to.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Runs `f` with a pooled connection on tokio's blocking pool, in the caller's span.
    ///
    /// # Errors
    /// [`StorageError::Unavailable`] when no connection can be had within the pool
    /// timeout; otherwise whatever `f` returns.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            span.in_scope(|| {
                let mut conn = pool
                    .get()
                    .map_err(|err| StorageError::Unavailable(err.to_string()))?;
                f(&mut conn)
            })
        })
        .await
        .map_err(|err| StorageError::Corrupt(format!("database task failed: {err}")))?
    }

    /// A connection outside the pool, for holding a session lock a long time.
    ///
    /// # Errors
    /// [`StorageError::Unavailable`] when the database cannot be reached.
    pub fn dedicated_connection(&self) -> Result<DbConn, StorageError> {
        let mut conn = self
            .url
            .establish()
            .map_err(|err| StorageError::Unavailable(err.to_string()))?;
        if let DbConn::Sqlite(c) = &mut conn {
            c.batch_execute(&sqlite_pragmas(5_000))?;
        }
        Ok(conn)
    }

    /// Runs `f` with a pooled connection on the current thread (CLI tools).
    ///
    /// # Errors
    /// As [`Database::run`].
    pub fn run_blocking<T>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut conn = self
            .pool
            .get()
            .map_err(|err| StorageError::Unavailable(err.to_string()))?;
        f(&mut conn)
    }

    /// Checks that the database answers a trivial query.
    ///
    /// # Errors
    /// [`StorageError::Unavailable`] when it does not.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.run(|conn| {
            // Reads the schema, not just the connection: a database re-created
            // empty under a running instance is not ready.
            conn.batch_execute("SELECT 1 FROM comments WHERE 1 = 0")
                .map_err(|err| StorageError::Unavailable(err.to_string()))
        })
        .await
    }
}

/// Applies pending migrations for the backend `url` names and returns their names.
/// On PostgreSQL this holds an advisory lock, so concurrent starts apply each
/// migration exactly once; on SQLite it creates the file's folder first.
///
/// # Errors
/// [`StorageError::Unavailable`] if the database cannot be reached,
/// [`StorageError::Migration`] if a migration fails.
pub fn run_migrations(url: &DatabaseUrl) -> Result<Vec<String>, StorageError> {
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
            c.batch_execute(&sqlite_pragmas(5_000))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_selects_backend_by_scheme() {
        let cases = [
            ("postgres://u@h/db", Ok("postgres")),
            ("postgresql://h/db", Ok("postgres")),
            ("sqlite://data/x.db", Ok("sqlite")),
            ("sqlite:x.db", Ok("sqlite")),
            ("data/x.db", Ok("sqlite")),
            (
                "mysql://h/db",
                Err(DatabaseUrlError::UnknownScheme("mysql".into())),
            ),
            (
                "postgress://h/db",
                Err(DatabaseUrlError::UnknownScheme("postgress".into())),
            ),
            ("sqlite://", Err(DatabaseUrlError::MissingPath)),
            ("  ", Err(DatabaseUrlError::Empty)),
        ];
        for (raw, expected) in cases {
            let got = DatabaseUrl::parse(raw).map(|u| u.backend());
            assert_eq!(got, expected, "case {raw:?}");
        }
    }

    #[test]
    fn sqlite_url_keeps_relative_and_absolute_paths() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/replyguard.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("data/replyguard.db")))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/rg.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("/var/lib/rg.db")))
        );
    }

    #[test]
    fn debug_output_hides_postgres_credentials() {
        let url =
            DatabaseUrl::parse("postgres://admin:hunter2@db.internal/rg").map(|u| format!("{u:?}"));
        assert_eq!(url, Ok("postgres://db.internal/rg".to_owned()));
    }
}
