//! The circuit breaker: once the database is known to be unreachable (a
//! connection refused or timed out, a query that never answered), every
//! request is answered 503 at once instead of each waiting out the pool
//! timeout, and one background probe reconnects every
//! [`PROBE_INTERVAL`] until the database answers again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2;

use super::DatabaseUrl;

/// How often the probe tries the database while the breaker is open.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// Whether the database is known to be unreachable.
#[derive(Debug)]
pub(super) struct Breaker {
    url: DatabaseUrl,
    open: AtomicBool,
    probing: AtomicBool,
    /// How many times the probe found the database reachable again.
    recoveries: AtomicU64,
}

impl Breaker {
    pub(super) fn new(url: DatabaseUrl) -> Arc<Self> {
        Arc::new(Self {
            url,
            open: AtomicBool::new(false),
            probing: AtomicBool::new(false),
            recoveries: AtomicU64::new(0),
        })
    }

    /// A mark to pass to [`Breaker::trip_unless_recovered`]: take it when a
    /// call starts.
    pub(super) fn epoch(&self) -> u64 {
        self.recoveries.load(Ordering::Acquire)
    }

    /// Opens the breaker for a call that started at `epoch` and never
    /// answered, unless the database was found reachable since: a call that
    /// hung through an outage and times out after it is old news, and must
    /// not shut the service again once the probe has seen the database answer.
    pub(super) fn trip_unless_recovered(self: &Arc<Self>, epoch: u64, why: &str) {
        if self.epoch() == epoch {
            self.trip(why);
        }
    }

    pub(super) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Opens the breaker and starts the probe (one at a time).
    pub(super) fn trip(self: &Arc<Self>, why: &str) {
        if !self.open.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                reason = why,
                "database unreachable: answering 503 at once until it answers again"
            );
        }
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        let started = std::thread::Builder::new()
            .name("replyguard-db-probe".into())
            .spawn(move || this.probe());
        if started.is_err() {
            // No thread for the probe: let the next request try for itself.
            self.probing.store(false, Ordering::Release);
            self.open.store(false, Ordering::Release);
        }
    }

    fn probe(&self) {
        loop {
            std::thread::sleep(PROBE_INTERVAL);
            let answered = self
                .url
                .establish()
                .is_ok_and(|mut conn| conn.batch_execute("SELECT 1").is_ok());
            if answered {
                self.recoveries.fetch_add(1, Ordering::AcqRel);
                self.open.store(false, Ordering::Release);
                self.probing.store(false, Ordering::Release);
                tracing::info!("database reachable again");
                return;
            }
        }
    }
}

/// Logs what the pool could not do (the breaker is tripped where a
/// connection fails to open, in the pool's manager).
#[derive(Debug)]
pub(super) struct LogPoolError;

impl r2d2::HandleError<r2d2::Error> for LogPoolError {
    fn handle_error(&self, error: r2d2::Error) {
        tracing::debug!(error = %error, "the pool could not open a connection");
    }
}
