//! The connection pool and the settings every connection gets.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, CustomizeConnection, ManageConnection, PooledConnection};
use tokio::sync::Semaphore;

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use super::breaker::{Breaker, LogPoolError};
use super::writer::Writer;
use super::{DatabaseUrl, DbConn, StorageError, moderation};

/// How much longer than the pool timeout a whole database call may take
/// before the caller stops waiting for it (a frozen server answers nothing,
/// not even its own statement timeout).
const CALL_GRACE: Duration = Duration::from_secs(1);
/// How often a wait for a pooled connection looks at the breaker.
const CHECKOUT_SLICE: Duration = Duration::from_millis(100);

/// Settings of the connection pool.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections held open at once.
    pub max_size: u32,
    /// How long a request waits for a connection (and SQLite for a lock) before
    /// the database counts as unavailable.
    pub timeout: Duration,
}

impl PoolOptions {
    /// Most database calls of one instance in progress or waiting at once
    /// (32 per pooled connection, at least 256);
    /// more are answered 503 at once rather than piling up threads.
    pub fn max_waiting(&self) -> usize {
        usize::try_from(self.max_size)
            .unwrap_or(usize::MAX)
            .saturating_mul(32)
            .max(256)
    }
}

/// Opens connections for the pool, always of the backend the URL names (diesel's
/// generated `establish` would try every backend in turn and lose the real
/// error), and trips the breaker when one cannot be opened.
struct Manager {
    url: DatabaseUrl,
    breaker: Arc<Breaker>,
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        // An attempt that began before the database came back (it waited out
        // `connect_timeout` through the outage) says nothing about it now.
        let epoch = self.breaker.epoch();
        self.url.establish().map_err(|err| {
            self.breaker
                .trip_unless_recovered(epoch, "a connection could not be opened");
            r2d2::Error::ConnectionError(err)
        })
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
            // LOCK TABLE) or a statement running past it fails instead of
            // hanging the request.
            DbConn::Pg(c) => c
                .batch_execute(&format!(
                    "SET lock_timeout = {0}; SET statement_timeout = {0}",
                    self.busy_timeout_ms
                ))
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

/// A connection outside the pool, with the settings every pooled connection
/// gets (lock timeout, pragmas).
fn connect(url: &DatabaseUrl, busy_timeout_ms: u128) -> Result<DbConn, StorageError> {
    let mut conn = url
        .establish()
        .map_err(|err| StorageError::Unavailable(err.to_string()))?;
    Customizer { busy_timeout_ms }
        .on_acquire(&mut conn)
        .map_err(|err| StorageError::Unavailable(err.to_string()))?;
    Ok(conn)
}

/// The shared connection pool, cheap to clone. Every wait on it is bounded:
/// for a connection (the pool timeout), for a call as a whole (the pool
/// timeout and a second), and in number (calls beyond
/// [`PoolOptions::max_waiting`] are refused at once); while the database is
/// known to be unreachable, calls fail at once (a circuit breaker).
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<Manager>,
    url: DatabaseUrl,
    timeout: Duration,
    breaker: Arc<Breaker>,
    waiting: Arc<Semaphore>,
    max_waiting: usize,
    refused: Arc<AtomicU64>,
    timed_out: Arc<AtomicU64>,
    /// SQLite's one writer ([`Database::write`]); `None` on PostgreSQL.
    writer: Option<Arc<Writer>>,
    /// Writes committed together by the writer, per batch.
    write_batches: Histogram,
}

/// The pool's state, for metrics.
#[derive(Debug, Clone, Copy)]
pub struct PoolState {
    pub connections: u64,
    pub idle: u64,
    pub max: u64,
    /// Calls in progress or waiting.
    pub waiting: u64,
    /// Calls answered 503 at once since start (breaker open, too many waiting).
    pub refused: u64,
    /// Calls that did not finish within the pool timeout and a second.
    pub timed_out: u64,
    /// The breaker is open.
    pub unreachable: bool,
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
        let breaker = Breaker::new(url.clone());
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(0))
            .connection_timeout(options.timeout)
            .error_handler(Box::new(LogPoolError))
            .connection_customizer(Box::new(Customizer {
                busy_timeout_ms: options.timeout.as_millis(),
            }))
            .build_unchecked(Manager {
                url: url.clone(),
                breaker: breaker.clone(),
            });
        let write_batches = Histogram::new(exponential_buckets(1.0, 2.0, 7));
        let writer = matches!(url, DatabaseUrl::Sqlite(_)).then(|| {
            let connect_url = url.clone();
            let busy_timeout_ms = options.timeout.as_millis();
            let observed = write_batches.clone();
            Arc::new(Writer::start(
                move || connect(&connect_url, busy_timeout_ms),
                "UPDATE submission_lock SET ticks = ticks",
                move |size| observed.observe(size as f64),
            ))
        });
        Self {
            pool,
            url,
            timeout: options.timeout,
            breaker,
            waiting: Arc::new(Semaphore::new(options.max_waiting())),
            max_waiting: options.max_waiting(),
            refused: Arc::default(),
            timed_out: Arc::default(),
            writer,
            write_batches,
        }
    }

    /// Sizes of the write batches committed together (for metrics): SQLite's
    /// writer, and PostgreSQL's group commit of submissions.
    pub fn write_batches(&self) -> Histogram {
        self.write_batches.clone()
    }

    /// Runs `f`, a write (which opens its own transaction where it needs one).
    /// On SQLite it goes to the one writer (see [`super::writer`]): committed
    /// with whatever other writes are waiting, in a savepoint of its own,
    /// answered after that commit, never waiting in SQLite's busy handler for
    /// another request of this instance. On PostgreSQL it is [`Database::run`].
    ///
    /// # Errors
    /// As [`Database::run`]; also [`StorageError::Unavailable`] when too many
    /// writes wait, or when the batch holding this one was not committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        let Some(writer) = &self.writer else {
            return self.run(f).await;
        };
        if self.breaker.is_open() {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(unreachable());
        }
        let patience = self.timeout + CALL_GRACE;
        let answer = writer
            .submit(f, Instant::now() + patience)
            .inspect_err(|_| {
                self.refused.fetch_add(1, Ordering::Relaxed);
            })?;
        match tokio::time::timeout(patience, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(StorageError::Unavailable(
                "the database could not take the write".into(),
            )),
            Err(_) => {
                self.timed_out.fetch_add(1, Ordering::Relaxed);
                Err(StorageError::Unavailable(
                    "the write did not finish in time".into(),
                ))
            }
        }
    }

    /// How long a call may take before its caller is answered 503: the pool
    /// timeout and a second.
    pub fn call_patience(&self) -> Duration {
        self.timeout + CALL_GRACE
    }

    /// The pool's state now.
    pub fn state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            connections: u64::from(state.connections),
            idle: u64::from(state.idle_connections),
            max: u64::from(self.pool.max_size()),
            waiting: u64::try_from(self.max_waiting - self.waiting.available_permits())
                .unwrap_or(0),
            refused: self.refused.load(Ordering::Relaxed),
            timed_out: self.timed_out.load(Ordering::Relaxed),
            unreachable: self.breaker.is_open(),
        }
    }

    /// Which backend this pool talks to.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Runs `f` with a pooled connection on tokio's blocking pool, in the caller's span.
    ///
    /// # Errors
    /// [`StorageError::Unavailable`] at once when the database is known to be
    /// unreachable or too many calls are waiting; after the pool timeout when no
    /// connection can be had; when the call has not finished within the pool
    /// timeout and a second. Otherwise whatever `f` returns.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        if self.breaker.is_open() {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(unreachable());
        }
        let epoch = self.breaker.epoch();
        // Held by the blocking call until it returns, however long the caller
        // waits: a frozen database can hold only so many threads.
        let permit = self.waiting.clone().try_acquire_owned().map_err(|_| {
            self.refused.fetch_add(1, Ordering::Relaxed);
            StorageError::Unavailable("too many requests are waiting for the database".into())
        })?;
        let this = self.clone();
        let span = tracing::Span::current();
        let call = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            span.in_scope(|| {
                let mut conn = this.checkout()?;
                f(&mut conn)
            })
        });
        match tokio::time::timeout(self.timeout + CALL_GRACE, call).await {
            Ok(joined) => joined.map_err(|err| StorageError::TaskFailed(err.to_string()))?,
            Err(_) => {
                self.timed_out.fetch_add(1, Ordering::Relaxed);
                self.breaker
                    .trip_unless_recovered(epoch, "a database call did not finish in time");
                Err(StorageError::Unavailable(
                    "the database did not answer in time".into(),
                ))
            }
        }
    }

    /// A pooled connection within the pool timeout, giving up early when the
    /// breaker opens meanwhile (a refused connection trips it within
    /// milliseconds, where the pool itself would keep retrying).
    fn checkout(&self) -> Result<PooledConnection<Manager>, StorageError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if self.breaker.is_open() {
                return Err(unreachable());
            }
            let slice = CHECKOUT_SLICE.min(deadline.saturating_duration_since(Instant::now()));
            match self.pool.get_timeout(slice) {
                Ok(conn) => return Ok(conn),
                Err(err) if Instant::now() >= deadline => {
                    return Err(StorageError::Unavailable(err.to_string()));
                }
                Err(_) => {}
            }
        }
    }

    /// A connection outside the pool, for holding a session lock a long time.
    ///
    /// # Errors
    /// [`StorageError::Unavailable`] when the database cannot be reached.
    pub fn dedicated_connection(&self) -> Result<DbConn, StorageError> {
        connect(&self.url, self.timeout.as_millis())
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
        let mut conn = self.checkout()?;
        f(&mut conn)
    }

    /// Checks, within `within`, that the database answers with replyguard's
    /// tables (a database re-created empty under a running instance is not
    /// ready).
    ///
    /// # Errors
    /// [`StorageError::Unavailable`] when it does not, or not in time.
    pub async fn ping(&self, within: Duration) -> Result<(), StorageError> {
        let epoch = self.breaker.epoch();
        let ping = self.run(|conn| {
            conn.batch_execute("SELECT 1 FROM comments WHERE 1 = 0")
                .map_err(|err| StorageError::Unavailable(err.to_string()))
        });
        match tokio::time::timeout(within, ping).await {
            Ok(answer) => answer,
            Err(_) => {
                // Nothing reachable takes that long for no rows: treat it as
                // down (the probe closes the breaker as soon as it answers).
                self.breaker
                    .trip_unless_recovered(epoch, "the readiness check did not answer in time");
                Err(StorageError::Unavailable(format!(
                    "the database did not answer within {within:?}"
                )))
            }
        }
    }
}

fn unreachable() -> StorageError {
    StorageError::Unavailable("the database is unreachable; retrying in the background".into())
}
