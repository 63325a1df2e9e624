//! The circuit breaker: once the database is known to be unreachable (a
//! connection refused or timed out, a query that never answered), every
//! request is answered 503 at once instead of each waiting out the pool
//! timeout, and one background probe reconnects every
//! [`PROBE_INTERVAL`] until the database answers again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
}

impl Breaker {
    pub(super) fn new(url: DatabaseUrl) -> Arc<Self> {
        Arc::new(Self {
            url,
            open: AtomicBool::new(false),
            probing: AtomicBool::new(false),
        })
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
                self.open.store(false, Ordering::Release);
                self.probing.store(false, Ordering::Release);
                tracing::info!("database reachable again");
                return;
            }
        }
    }
}

/// Trips the breaker when the pool fails to open a connection.
#[derive(Debug)]
pub(super) struct TripOnConnectError(pub(super) Arc<Breaker>);

impl r2d2::HandleError<r2d2::Error> for TripOnConnectError {
    fn handle_error(&self, error: r2d2::Error) {
        if matches!(error, r2d2::Error::ConnectionError(_)) {
            self.0.trip("a connection could not be opened");
        } else {
            tracing::debug!(error = %error, "a new connection was refused its settings");
        }
    }
}
