//! The model's life in a running deployment: training jobs, gated activation
//! and the hot swap.
//!
//! The database is the source of truth: trained models (with their
//! artifacts), which one is active, and training jobs with their state. Every
//! instance runs one background loop that, every [`POLL_INTERVAL`]:
//! - marks as failed the `running` jobs whose process stopped sending
//!   heartbeats (it died or was restarted);
//! - reloads the active model when its generation changed, and swaps it in
//!   atomically (a request keeps the snapshot it started with);
//! - claims a queued job, if no instance is training (a PostgreSQL advisory
//!   lock on a dedicated connection; on SQLite, which serves one instance, this
//!   instance trains one job at a time), and trains it on a thread of its own,
//!   off the HTTP workers. (ARCHITECTURE suggests a child process; a thread is
//!   enough now that the patched linfa-bayes no longer writes to stderr, and
//!   training memory is bounded by its batches.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::classifier::artifact::{Artifact, Provenance};
use crate::classifier::metrics::Metrics;
use crate::classifier::train::{self, Example, TrainOptions};
use crate::classifier::{ClassifierError, SpamModel};
use crate::domain::training::LabelledExample;
use crate::storage::models::{self, JobRecord, JobResult, NewModelRecord};
use crate::storage::{Database, StorageError, training};

/// How often each instance polls for model switches and queued jobs.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How often a training job proves it is alive.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);
/// A `running` job silent for longer than this is marked failed.
const STALE_AFTER: Duration = Duration::from_secs(20);
/// One labelled example in this many goes to the held-out split.
const HOLDOUT_EVERY: usize = 5;

/// The labelled training data shipped with the binary (the train splits the
/// built-in model was trained on; CC BY 4.0, see models/README.md).
const BASE_DATA: [(&str, &str); 2] = [
    (
        "youtube-train",
        include_str!("../models/base/youtube-train.jsonl"),
    ),
    ("sms-train", include_str!("../models/base/sms-train.jsonl")),
];

/// When a trained candidate becomes active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivatePolicy {
    /// Only if it is not worse than the active model on the same held-out data.
    #[default]
    IfBetter,
    /// Always.
    Always,
}

/// What a training job was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainParams {
    /// Train on the shipped base data too, with the site's data weighted up.
    pub include_base_data: bool,
    pub activate: ActivatePolicy,
}

/// Errors of a training job.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Classifier(#[from] ClassifierError),
    #[error("{0}")]
    NotEnoughData(String),
}

/// Holds the active model and runs the background loop.
pub struct Lifecycle {
    db: Database,
    models: Arc<ArcSwap<SpamModel>>,
    /// Scores when no trained model is active (the shipped or configured one).
    default_model: Arc<SpamModel>,
    generation: AtomicI64,
    /// Serializes reloads, so an older read can never replace a newer model.
    reloading: std::sync::Mutex<()>,
    min_per_class: usize,
    training_here: AtomicBool,
}

impl Lifecycle {
    /// Loads the active model from the database (else `default_model`).
    ///
    /// # Errors
    /// The database failing, or a stored active model that does not load.
    pub fn start(
        db: Database,
        default_model: SpamModel,
        min_per_class: usize,
    ) -> Result<Arc<Self>, LifecycleError> {
        let default_model = Arc::new(default_model);
        let lifecycle = Arc::new(Self {
            models: Arc::new(ArcSwap::new(default_model.clone())),
            db,
            default_model,
            generation: AtomicI64::new(-1),
            reloading: std::sync::Mutex::new(()),
            min_per_class,
            training_here: AtomicBool::new(false),
        });
        // A stored active model that does not load must not keep the service
        // down: score with the default and say so loudly.
        match lifecycle.reload_if_switched() {
            Err(LifecycleError::Storage(StorageError::Unavailable(why))) => {
                return Err(StorageError::Unavailable(why).into());
            }
            Err(err) => {
                tracing::error!(error = %err, "the active model does not load; scoring with the default model")
            }
            Ok(()) => {}
        }
        Ok(lifecycle)
    }

    /// The active model, for scoring.
    pub fn models(&self) -> Arc<ArcSwap<SpamModel>> {
        self.models.clone()
    }

    /// The built-in (or configured) default model.
    pub fn default_model(&self) -> Arc<SpamModel> {
        self.default_model.clone()
    }

    /// The version of the built-in (or configured) default model.
    pub fn default_version(&self) -> &str {
        self.default_model.version()
    }

    pub fn min_per_class(&self) -> usize {
        self.min_per_class
    }

    /// Swaps in the active model if another instance (or this one) switched it.
    ///
    /// # Errors
    /// The database failing, or an active model that does not load.
    pub fn reload_if_switched(&self) -> Result<(), LifecycleError> {
        let _one_at_a_time = self
            .reloading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (version, generation) = self.db.run_blocking(models::active)?;
        if generation == self.generation.load(Ordering::Acquire) {
            return Ok(());
        }
        let model = match &version {
            None => self.default_model.clone(),
            Some(version) => {
                let version = version.clone();
                let json = self
                    .db
                    .run_blocking(move |conn| models::artifact(conn, &version))?
                    .ok_or_else(|| {
                        StorageError::Corrupt("the active model is not stored".into())
                    })?;
                Arc::new(SpamModel::from_artifact(Artifact::from_json(
                    json.as_bytes(),
                )?)?)
            }
        };
        tracing::info!(
            model_version = model.version(),
            generation,
            "active model loaded"
        );
        self.models.store(model);
        self.generation.store(generation, Ordering::Release);
        Ok(())
    }

    /// Starts the background loop on the current runtime.
    pub fn spawn(self: &Arc<Self>) {
        let this = self.clone();
        actix_web::rt::spawn(async move {
            let mut interval = actix_web::rt::time::interval(POLL_INTERVAL);
            loop {
                interval.tick().await;
                let worker = this.clone();
                let outcome = tokio::task::spawn_blocking(move || worker.tick()).await;
                match outcome {
                    Ok(Err(err)) => tracing::warn!(error = %err, "model lifecycle check failed"),
                    Err(err) => tracing::warn!(error = %err, "model lifecycle task failed"),
                    Ok(Ok(())) => {}
                }
            }
        });
    }

    /// One round of the loop (blocking).
    fn tick(self: &Arc<Self>) -> Result<(), LifecycleError> {
        let stale_after = chrono::TimeDelta::from_std(STALE_AFTER).unwrap_or_default();
        let failed = self
            .db
            .run_blocking(move |conn| models::fail_stale_jobs(conn, stale_after))?;
        if failed > 0 {
            tracing::warn!(
                failed,
                "training jobs interrupted by a stopped process were marked failed"
            );
        }
        self.reload_if_switched()?;
        // Training runs on its own thread, so this loop keeps polling for model
        // switches meanwhile.
        if !self.training_here.swap(true, Ordering::AcqRel) {
            let this = self.clone();
            std::thread::spawn(move || {
                if let Err(err) = this.run_next_job() {
                    tracing::warn!(error = %err, "could not look for training jobs");
                }
                this.training_here.store(false, Ordering::Release);
            });
        }
        Ok(())
    }

    /// Claims and runs the next queued job, if no instance is training.
    ///
    /// # Errors
    /// The database failing (a failing job is recorded, not returned).
    pub fn run_next_job(self: &Arc<Self>) -> Result<Option<i64>, LifecycleError> {
        // The lock lives on a connection of its own, outside the pool, so a long
        // job never takes a connection from request handling.
        let mut lock = self.db.dedicated_connection()?;
        if !models::try_lock_training(&mut lock)? {
            return Ok(None);
        }
        let claimed = self.db.run_blocking(models::claim_next_job);
        let outcome = match claimed {
            Ok(Some(job)) => {
                self.run_job(&job);
                Ok(Some(job.id))
            }
            Ok(None) => Ok(None),
            Err(err) => Err(err.into()),
        };
        models::unlock_training(&mut lock)?;
        outcome
    }

    fn run_job(self: &Arc<Self>, job: &JobRecord) {
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
        let attempt =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.train_and_gate(job)));
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
            && let Err(err) = self.reload_if_switched()
        {
            tracing::error!(error = %err, "the new model could not be loaded");
        }
    }

    fn train_and_gate(&self, job: &JobRecord) -> Result<JobResult, LifecycleError> {
        let params: TrainParams = serde_json::from_str(&job.parameters)
            .map_err(|err| StorageError::Corrupt(format!("job parameters: {err}")))?;
        let site = self.db.run_blocking(training::list_examples)?;
        check_enough(&site, self.min_per_class).map_err(LifecycleError::NotEnoughData)?;
        let (mut train_set, holdout) = split(&site);
        let site_rows = train_set.len();
        if params.include_base_data {
            let base = base_examples()?;
            // The site's own decisions should matter as much as the large public corpus.
            let weight = (base.len() as f64 / site_rows.max(1) as f64).max(1.0);
            train_set.iter_mut().for_each(|e| e.weight = weight);
            train_set.extend(base);
        }
        let version = format!("site-{}-{}", Utc::now().format("%Y%m%d%H%M%S"), job.id);
        let provenance = Provenance {
            trained_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            command: format!("training job {} ({:?})", job.id, params),
            data: Vec::new(),
            rows: train_set.len(),
            spam: train_set.iter().filter(|e| e.is_spam).count(),
            ham: train_set.iter().filter(|e| !e.is_spam).count(),
        };
        let mut artifact =
            train::train(&train_set, &TrainOptions::default(), &version, provenance)?;
        let candidate = SpamModel::from_artifact(artifact.clone())?;
        // The generation this comparison is against: if an operator switches
        // models while this job trains, the job must not override them.
        let generation = self.generation.load(Ordering::Acquire);
        let active = self.models.load_full();
        let candidate_metrics = train::evaluate(&candidate, &holdout, candidate.thresholds());
        let active_metrics = train::evaluate(&active, &holdout, active.thresholds());
        let (mut activate, mut reason) = gate(
            params.activate,
            &candidate_metrics,
            &active_metrics,
            active.version(),
        );
        artifact.metrics = Some(candidate_metrics.clone());
        let metrics_json = serde_json::to_string(&candidate_metrics)
            .map_err(|err| StorageError::Corrupt(err.to_string()))?;
        let artifact_json = serde_json::to_string(&artifact)
            .map_err(|err| StorageError::Corrupt(err.to_string()))?;
        let record = NewModelRecord {
            version: version.clone(),
            created_at: Utc::now().trunc_subsecs(6).naive_utc(),
            training_rows: i64::try_from(train_set.len()).unwrap_or(i64::MAX),
            training_hash: training_hash(&train_set),
            parameters: job.parameters.clone(),
            metrics: metrics_json.clone(),
            artifact: artifact_json,
        };
        let now = Utc::now().trunc_subsecs(6).naive_utc();
        let switched = self.db.run_blocking(|conn| {
            models::insert(conn, &record)?;
            if activate {
                return models::set_active_if(conn, Some(&version), generation, now);
            }
            Ok(false)
        })?;
        if activate && !switched {
            activate = false;
            reason = format!(
                "the active model was changed while this job trained, so it was left alone; {reason}"
            );
        }
        Ok(JobResult {
            succeeded: true,
            model_version: Some(version),
            metrics: Some(metrics_json),
            error: None,
            activated: activate,
            reason: Some(reason),
        })
    }
}

/// Queues a training job, unless there are too few labelled examples of a
/// class. Returns the job id, or the sentence explaining the refusal.
///
/// # Errors
/// Any database failure.
pub fn queue_job(
    conn: &mut crate::storage::DbConn,
    params: TrainParams,
    min_per_class: usize,
) -> Result<Result<i64, String>, StorageError> {
    let stats = training::stats(conn)?;
    let count = |label: &str| {
        stats
            .by_label
            .iter()
            .find(|(l, _)| l == label)
            .map_or(0, |(_, n)| usize::try_from(*n).unwrap_or(0))
    };
    let (spam, ham) = (count("spam"), count("ham"));
    if spam < min_per_class || ham < min_per_class {
        return Ok(Err(not_enough(min_per_class, spam, ham)));
    }
    let parameters =
        serde_json::to_string(&params).map_err(|err| StorageError::Corrupt(err.to_string()))?;
    Ok(Ok(models::create_job(conn, &parameters)?))
}

fn not_enough(min_per_class: usize, spam: usize, ham: usize) -> String {
    format!(
        "Not enough labelled examples to train: need at least {min_per_class} spam and {min_per_class} ham, have {spam} spam and {ham} ham."
    )
}

/// Refuses training data with too few examples of a class.
///
/// # Errors
/// A sentence saying what is missing.
pub fn check_enough(examples: &[LabelledExample], min_per_class: usize) -> Result<(), String> {
    let spam = examples.iter().filter(|e| e.is_spam).count();
    let ham = examples.len() - spam;
    if spam < min_per_class || ham < min_per_class {
        return Err(not_enough(min_per_class, spam, ham));
    }
    Ok(())
}

/// Whether a candidate may replace the active model, and why.
fn gate(
    policy: ActivatePolicy,
    candidate: &Metrics,
    active: &Metrics,
    active_version: &str,
) -> (bool, String) {
    let not_worse = candidate.mcc >= active.mcc && candidate.fpr <= active.fpr;
    let comparison = format!(
        "on the held-out split: candidate MCC {:.4} FPR {:.4}, active {active_version} MCC {:.4} FPR {:.4}",
        candidate.mcc, candidate.fpr, active.mcc, active.fpr
    );
    match (policy, not_worse) {
        (ActivatePolicy::Always, _) => (
            true,
            format!("activated as requested (\"always\"); {comparison}"),
        ),
        (ActivatePolicy::IfBetter, true) => (
            true,
            format!("not worse than the active model {comparison}"),
        ),
        (ActivatePolicy::IfBetter, false) => {
            (false, format!("worse than the active model {comparison}"))
        }
    }
}

/// A deterministic stratified split: within each label, examples ordered by a
/// hash of their text, every [`HOLDOUT_EVERY`]th held out.
fn split(examples: &[LabelledExample]) -> (Vec<Example>, Vec<Example>) {
    let mut train_set = Vec::new();
    let mut holdout = Vec::new();
    for label in [true, false] {
        let mut rows: Vec<(String, &LabelledExample)> = examples
            .iter()
            .filter(|e| e.is_spam == label)
            .map(|e| (format!("{:x}", Sha256::digest(e.content.as_bytes())), e))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (_, e)) in rows.into_iter().enumerate() {
            let example = Example {
                text: e.content.clone(),
                author_name: e.author_name.clone(),
                author_email: e.author_email.clone(),
                author_url: e.author_url.clone(),
                is_spam: e.is_spam,
                weight: 1.0,
                source: 0,
            };
            if i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1 {
                holdout.push(example);
            } else {
                train_set.push(example);
            }
        }
    }
    (train_set, holdout)
}

fn base_examples() -> Result<Vec<Example>, ClassifierError> {
    let mut all = Vec::new();
    for (i, (name, text)) in BASE_DATA.iter().enumerate() {
        let mut rows = train::parse_jsonl(name, text)?;
        rows.iter_mut().for_each(|e| e.source = i + 1);
        all.extend(rows);
    }
    Ok(all)
}

fn training_hash(examples: &[Example]) -> String {
    let mut hasher = Sha256::new();
    for e in examples {
        hasher.update([u8::from(e.is_spam)]);
        hasher.update(e.text.as_bytes());
        hasher.update([0]);
    }
    format!("{:x}", hasher.finalize())
}
