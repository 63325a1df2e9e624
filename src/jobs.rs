//! Training jobs: the scheduler and the runner.
//!
//! Jobs are rows in the database (queued → running → succeeded | failed). Each
//! instance runs one long-lived worker with one connection of its own (outside
//! the pool, so a long job never takes a connection from request handling).
//! Every [`POLL_INTERVAL`] the worker marks as failed the `running` jobs whose
//! process stopped sending heartbeats, asks whether anything is queued (one
//! cheap query), and only then takes the cluster-wide training lock (a
//! PostgreSQL advisory lock on its connection; SQLite serves one instance, and
//! the atomic claim keeps two claimers apart), claims the oldest job and runs
//! [`crate::retrain`]'s recipe on the blocking pool, off the HTTP workers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::cache::{ActiveModel, POLL_INTERVAL};
use crate::retrain::train_candidate;
use crate::storage::models::{self, JobRecord, JobResult};
use crate::storage::{Database, DbConn, StorageError};

/// How often a training job proves it is alive.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);
/// A `running` job silent for longer than this is marked failed.
const STALE_AFTER: Duration = Duration::from_secs(20);

/// Runs this instance's share of the training jobs.
pub struct JobRunner {
    db: Database,
    model: Arc<ActiveModel>,
    min_per_class: usize,
}

impl JobRunner {
    pub fn new(db: Database, model: Arc<ActiveModel>, min_per_class: usize) -> Arc<Self> {
        Arc::new(Self {
            db,
            model,
            min_per_class,
        })
    }

    /// Starts the worker on the current runtime; it lives as long as the
    /// runtime does.
    pub fn spawn(self: &Arc<Self>) {
        let this = self.clone();
        actix_web::rt::spawn(async move {
            let mut interval = actix_web::rt::time::interval(POLL_INTERVAL);
            let mut conn: Option<DbConn> = None;
            loop {
                interval.tick().await;
                let worker = this.clone();
                let round = tokio::task::spawn_blocking(move || {
                    let outcome = worker.tick(&mut conn);
                    (conn, outcome)
                })
                .await;
                conn = match round {
                    Ok((kept, Ok(()))) => kept,
                    Ok((_, Err(err))) => {
                        // Reconnect next round: the connection may be broken.
                        tracing::warn!(error = %err, "training job check failed");
                        None
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "training job task failed");
                        None
                    }
                };
            }
        });
    }

    /// One round of the worker (blocking).
    fn tick(&self, conn: &mut Option<DbConn>) -> Result<(), StorageError> {
        let conn = match conn {
            Some(conn) => conn,
            None => conn.insert(self.db.dedicated_connection()?),
        };
        let stale_after = chrono::TimeDelta::from_std(STALE_AFTER).unwrap_or_default();
        let failed = models::fail_stale_jobs(conn, stale_after)?;
        if failed > 0 {
            tracing::warn!(
                failed,
                "training jobs interrupted by a stopped process were marked failed"
            );
        }
        self.run_next_job_on(conn)?;
        Ok(())
    }

    /// Claims and runs the next queued job, if any and no instance is
    /// training, on a connection of its own (the CLI's `retrain`).
    ///
    /// # Errors
    /// The database failing (a failing job is recorded, not returned).
    pub fn run_next_job(&self) -> Result<Option<i64>, StorageError> {
        let mut conn = self.db.dedicated_connection()?;
        self.run_next_job_on(&mut conn)
    }

    fn run_next_job_on(&self, conn: &mut DbConn) -> Result<Option<i64>, StorageError> {
        if !models::has_queued_job(conn)? || !models::try_lock_training(conn)? {
            return Ok(None);
        }
        let outcome = match models::claim_next_job(conn) {
            Ok(Some(job)) => {
                self.run_job(&job);
                Ok(Some(job.id))
            }
            other => other.map(|_| None),
        };
        models::unlock_training(conn)?;
        outcome
    }

    fn run_job(&self, job: &JobRecord) {
        let done = Arc::new(AtomicBool::new(false));
        let beat = {
            let (db, done, id) = (self.db.clone(), done.clone(), job.id);
            std::thread::spawn(move || {
                while !done.load(Ordering::Acquire) {
                    std::thread::sleep(HEARTBEAT_INTERVAL);
                    let _ = db.run_blocking(|conn| models::heartbeat(conn, id, "training"));
                }
            })
        };
        tracing::info!(job_id = job.id, "training job started");
        // A panic in training must still end the job, stop the heartbeat and
        // release the lock, or no instance could train again.
        let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            train_candidate(&self.db, &self.model, self.min_per_class, job)
        }));
        let result = match attempt {
            Ok(Ok(result)) => result,
            Ok(Err(err)) => JobResult {
                succeeded: false,
                error: Some(err.to_string()),
                ..JobResult::default()
            },
            Err(_) => JobResult {
                succeeded: false,
                error: Some("training failed unexpectedly (a bug): see the server log".into()),
                ..JobResult::default()
            },
        };
        done.store(true, Ordering::Release);
        let _ = beat.join();
        if let Err(err) = self
            .db
            .run_blocking(|conn| models::finish_job(conn, job.id, &result))
        {
            tracing::error!(job_id = job.id, error = %err, "training job result could not be stored");
        }
        tracing::info!(
            job_id = job.id,
            succeeded = result.succeeded,
            activated = result.activated,
            "training job finished"
        );
        if result.activated
            && let Err(err) = self.model.reload_if_switched()
        {
            tracing::error!(error = %err, "the new model could not be loaded");
        }
    }
}
