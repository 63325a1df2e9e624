//! Training jobs: the scheduler and the runner.
//!
//! Jobs are rows in the database (queued → running → succeeded | failed). Each
//! instance runs one long-lived worker thread with one connection of its own,
//! outside the pool, on which it polls and holds the training lock.
//! Every [`POLL_INTERVAL`] the worker marks as failed the `running` jobs whose
//! process stopped sending heartbeats, asks whether anything is queued (one
//! cheap query), and only then takes the cluster-wide training lock (a
//! PostgreSQL advisory lock on its connection; SQLite serves one instance, and
//! the atomic claim keeps two claimers apart), claims the oldest job and runs
//! [`crate::retrain`]'s recipe on its thread, off the HTTP workers.

use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use crate::cache::{ActiveModel, POLL_INTERVAL};
use crate::metrics::{Metrics, OutcomeLabels};
use crate::retrain::{ActivatePolicy, BaseData, TrainParams, queue_job, train_candidate};
use crate::storage::models::{self, JobRecord, JobResult};
use crate::storage::{Database, DbConn, StorageError};

/// How often a training job proves it is alive.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);
/// A `running` job silent for longer than this is marked failed.
const STALE_AFTER: Duration = Duration::from_secs(20);
/// How many rounds pass between two looks for enough new labels to retrain.
const AUTO_RETRAIN_EVERY: u32 = 5;

/// Runs this instance's share of the training jobs.
pub struct JobRunner {
    db: Database,
    model: Arc<ActiveModel>,
    min_per_class: usize,
    metrics: Arc<Metrics>,
    base: BaseData,
}

impl JobRunner {
    pub fn new(
        db: Database,
        model: Arc<ActiveModel>,
        min_per_class: usize,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Self::with_base_data(db, model, min_per_class, metrics, BaseData::shipped())
    }

    /// A runner whose jobs add `base` rather than the shipped base data to the
    /// site's examples (`replyguard replay --base`).
    pub fn with_base_data(
        db: Database,
        model: Arc<ActiveModel>,
        min_per_class: usize,
        metrics: Arc<Metrics>,
        base: BaseData,
    ) -> Arc<Self> {
        Arc::new(Self {
            db,
            model,
            min_per_class,
            metrics,
            base,
        })
    }

    /// Starts the worker: a thread of its own, so that a long training job
    /// neither occupies the runtime's blocking pool nor holds up shutdown. It
    /// lives as long as the current runtime does (the runtime holds the only
    /// strong handle), so a stopped server, or a test's, leaves no worker behind.
    ///
    /// Every fifth round (10 s) it queues a job by itself once
    /// `retrain_after` labelled examples were added since the last one (0:
    /// never).
    pub fn spawn(self: &Arc<Self>, retrain_after: usize) {
        let worker = Arc::downgrade(self);
        let owner = self.clone();
        actix_web::rt::spawn(async move {
            let _owner = owner;
            std::future::pending::<()>().await;
        });
        let started = std::thread::Builder::new()
            .name("replyguard-jobs".into())
            .spawn(move || {
                let mut conn: Option<DbConn> = None;
                let mut round: u32 = 0;
                loop {
                    std::thread::sleep(POLL_INTERVAL);
                    let Some(runner) = worker.upgrade() else {
                        return;
                    };
                    if let Err(err) = runner.tick(&mut conn, retrain_after, round) {
                        // Reconnect next round: the connection may be broken.
                        tracing::warn!(error = %err, "training job check failed");
                        conn = None;
                    }
                    round = round.wrapping_add(1);
                }
            });
        if let Err(err) = started {
            tracing::error!(error = %err, "the training-job worker could not start");
        }
    }

    /// One round of the worker (blocking).
    fn tick(
        &self,
        conn: &mut Option<DbConn>,
        retrain_after: usize,
        round: u32,
    ) -> Result<(), StorageError> {
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
        if retrain_after > 0 && round.is_multiple_of(AUTO_RETRAIN_EVERY) {
            self.queue_if_enough_new_labels(conn, retrain_after)?;
        }
        self.run_next_job_on(conn)?;
        Ok(())
    }

    /// Queues a training job when enough labelled examples arrived since the
    /// last one, under the training lock so that instances sharing the
    /// database queue one job between them.
    fn queue_if_enough_new_labels(
        &self,
        conn: &mut DbConn,
        retrain_after: usize,
    ) -> Result<(), StorageError> {
        if !models::try_lock_training(conn)? {
            return Ok(());
        }
        let queued = (|| {
            let added = crate::storage::training::added_since_last_job(conn)?;
            if usize::try_from(added).unwrap_or(0) < retrain_after || models::has_queued_job(conn)?
            {
                return Ok(());
            }
            let params = TrainParams {
                include_base_data: true,
                activate: ActivatePolicy::IfBetter,
            };
            match queue_job(conn, params, self.min_per_class)? {
                Ok(job_id) => {
                    tracing::info!(job_id, added, "training job queued after new labels");
                }
                Err(why) => tracing::debug!(reason = %why, "no automatic retrain yet"),
            }
            Ok(())
        })();
        models::unlock_training(conn)?;
        queued
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
        // The heartbeat stops as soon as the job ends (the sender dropped),
        // not at its next beat.
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let beat = {
            let (db, id) = (self.db.clone(), job.id);
            std::thread::spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(HEARTBEAT_INTERVAL)
                {
                    let _ = db.run_blocking(|conn| models::heartbeat(conn, id, "training"));
                }
            })
        };
        let started = std::time::Instant::now();
        tracing::info!(job_id = job.id, "training job started");
        // A panic in training must still end the job, stop the heartbeat and
        // release the lock, or no instance could train again.
        let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            train_candidate(&self.db, &self.model, self.min_per_class, &self.base, job)
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
        let seconds = started.elapsed().as_secs_f64();
        drop(stop);
        let _ = beat.join();
        if let Err(err) = self
            .db
            .run_blocking(|conn| models::finish_job(conn, job.id, &result))
        {
            tracing::error!(job_id = job.id, error = %err, "training job result could not be stored");
        }
        let outcome = match (result.succeeded, result.activated) {
            (false, _) => "failed",
            (true, true) => "activated",
            (true, false) => "kept",
        };
        self.metrics
            .training_jobs
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
        tracing::info!(
            job_id = job.id,
            succeeded = result.succeeded,
            activated = result.activated,
            seconds,
            // Figures only: which model is better and why.
            reason = result.reason.as_deref().unwrap_or(""),
            "training job finished"
        );
        if result.activated
            && let Err(err) = self.model.reload_if_switched()
        {
            tracing::error!(error = %err, "the new model could not be loaded");
        }
    }
}
