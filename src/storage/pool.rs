//! The connection pool and the settings every connection gets.

use std::fmt;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, CustomizeConnection, ManageConnection};

use super::{DatabaseUrl, DbConn, StorageError, moderation};

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

pub(super) fn sqlite_pragmas(busy_timeout_ms: u128) -> String {
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
    /// SQLite's busy timeout on connections opened outside the pool.
    busy_timeout_ms: u128,
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
        Self {
            pool,
            url,
            busy_timeout_ms: options.timeout.as_millis(),
        }
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
        .map_err(|err| StorageError::TaskFailed(err.to_string()))?
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
        // The settings every pooled connection gets (lock timeout, pragmas).
        Customizer {
            busy_timeout_ms: self.busy_timeout_ms,
        }
        .on_acquire(&mut conn)
        .map_err(|err| StorageError::Unavailable(err.to_string()))?;
        Ok(conn)
    }

    /// Runs `f` with a pooled connection on the current thread (the CLI, and
    /// threads of this crate's own that are not async workers).
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
