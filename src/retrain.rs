//! The retraining recipe and its policies: which data a site's model is
//! trained on (the site's labelled examples, weighted up against the shipped
//! base data), how it is held out ([`split`]), when there is enough of it
//! ([`check_enough`]), and when a candidate may replace the active model
//! ([`gate`]). [`crate::jobs`] runs it; this module does no scheduling.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cache::ActiveModel;
use crate::classifier::artifact::Provenance;
use crate::classifier::metrics::{Metrics, evaluate_model};
use crate::classifier::train::{self, TrainOptions, TrainingRow};
use crate::classifier::{ClassifierError, SpamModel};
use crate::domain::dataset::{DatasetError, LabelledExample, read_examples};
use crate::storage::models::{self, JobRecord, JobResult, NewModelRecord};
use crate::storage::{self, Database, DbConn, StorageError, training};

/// One labelled example in this many goes to the held-out split.
pub const HOLDOUT_EVERY: usize = 5;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
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

/// Why a retraining could not produce a candidate.
#[derive(Debug, thiserror::Error)]
pub enum RetrainError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Classifier(#[from] ClassifierError),
    #[error("{0}")]
    NotEnoughData(String),
    #[error("the job's parameters are not readable: {0}")]
    Parameters(#[source] serde_json::Error),
    #[error("the shipped base data {name} is invalid: {source}")]
    BaseData {
        name: &'static str,
        #[source]
        source: DatasetError,
    },
}

/// Queues a training job, unless there are too few labelled examples of a
/// class. Returns the job id, or the sentence explaining the refusal.
///
/// # Errors
/// Any database failure.
pub fn queue_job(
    conn: &mut DbConn,
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
    if let Err(why) = enough(count("spam"), count("ham"), min_per_class) {
        return Ok(Err(why));
    }
    let parameters = serde_json::to_string(&params).map_err(StorageError::Encode)?;
    Ok(Ok(models::create_job(conn, &parameters)?))
}

fn enough(spam: usize, ham: usize, min_per_class: usize) -> Result<(), String> {
    if spam < min_per_class || ham < min_per_class {
        return Err(format!(
            "Not enough labelled examples to train: need at least {min_per_class} spam and {min_per_class} ham, have {spam} spam and {ham} ham."
        ));
    }
    Ok(())
}

/// Refuses training data with too few examples of a class.
///
/// # Errors
/// A sentence saying what is missing.
pub fn check_enough(examples: &[LabelledExample], min_per_class: usize) -> Result<(), String> {
    let spam = examples.iter().filter(|e| e.is_spam).count();
    enough(spam, examples.len() - spam, min_per_class)
}

/// Trains a candidate for `job` on the site's examples (and the base data if
/// asked), compares it with the active model on the held-out site examples,
/// stores it, and activates it if the gate allows and nobody switched models
/// meanwhile.
///
/// # Errors
/// Too little data, the database failing, or training failing.
pub fn train_candidate(
    db: &Database,
    active: &ActiveModel,
    min_per_class: usize,
    base: &BaseData,
    job: &JobRecord,
) -> Result<JobResult, RetrainError> {
    let params: TrainParams =
        serde_json::from_str(&job.parameters).map_err(RetrainError::Parameters)?;
    let site = db.run_blocking(training::list_examples)?;
    check_enough(&site, min_per_class).map_err(RetrainError::NotEnoughData)?;
    let (mut train_set, holdout) = split(site);
    let site_rows = train_set.len();
    if params.include_base_data {
        let base = base.rows()?;
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
    let mut artifact = train::train(&train_set, &TrainOptions::default(), &version, provenance)?;
    let candidate = SpamModel::from_artifact(artifact.clone())?;
    // The generation this comparison is against: if an operator switches
    // models while this job trains, the job must not override them.
    let generation = active.generation();
    let current = active.current();
    let candidate_metrics = evaluate_model(&candidate, &holdout, candidate.thresholds());
    let active_metrics = evaluate_model(&current, &holdout, current.thresholds());
    let (mut activate, mut reason) = gate(
        params.activate,
        &candidate_metrics,
        &active_metrics,
        current.version(),
    );
    artifact.metrics = Some(candidate_metrics.clone());
    let metrics_json = serde_json::to_string(&candidate_metrics).map_err(StorageError::Encode)?;
    let record = NewModelRecord {
        version: version.clone(),
        created_at: storage::now(),
        training_rows: i64::try_from(train_set.len()).unwrap_or(i64::MAX),
        training_hash: training_hash(&train_set),
        parameters: job.parameters.clone(),
        metrics: metrics_json.clone(),
        artifact: serde_json::to_string(&artifact).map_err(StorageError::Encode)?,
    };
    let now = storage::now();
    let switched = db.run_blocking(|conn| {
        storage::transaction(conn, |conn| {
            models::insert(conn, &record)?;
            if activate {
                return models::set_active(conn, Some(&version), Some(generation), now);
            }
            Ok::<_, StorageError>(false)
        })
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

/// Whether a candidate may replace the active model, and why: with
/// [`ActivatePolicy::IfBetter`], only when its MCC is at least the active
/// model's and its false-positive rate at most the active model's, both on
/// the same held-out examples.
pub fn gate(
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

/// A deterministic stratified split into (training rows, held-out examples):
/// within each label, examples ordered by a hash of their text, every
/// [`HOLDOUT_EVERY`]th held out.
pub fn split(examples: Vec<LabelledExample>) -> (Vec<TrainingRow>, Vec<LabelledExample>) {
    let mut train_set = Vec::new();
    let mut holdout = Vec::new();
    for label in [true, false] {
        let mut rows: Vec<(String, &LabelledExample)> = examples
            .iter()
            .filter(|e| e.is_spam == label)
            .map(|e| (format!("{:x}", Sha256::digest(e.text.as_bytes())), e))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (_, e)) in rows.into_iter().enumerate() {
            if i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1 {
                holdout.push(e.clone());
            } else {
                train_set.push(TrainingRow::from(e.clone()));
            }
        }
    }
    (train_set, holdout)
}

/// The public data a retrain adds to the site's own examples.
#[derive(Debug, Clone)]
pub enum BaseData {
    /// The data the built-in model ships with (`models/base/`).
    Shipped,
    /// Other rows (`replyguard replay --base`), sources numbered from 1.
    Rows(std::sync::Arc<Vec<TrainingRow>>),
}

impl BaseData {
    fn rows(&self) -> Result<Vec<TrainingRow>, RetrainError> {
        match self {
            Self::Shipped => base_examples(),
            Self::Rows(rows) => Ok(rows.as_ref().clone()),
        }
    }
}

/// The shipped base data, one source per file (sources 1, 2, …; the site's
/// rows are source 0), read with the same reader and rules as any data.
fn base_examples() -> Result<Vec<TrainingRow>, RetrainError> {
    let mut all = Vec::new();
    for (i, (name, text)) in BASE_DATA.iter().enumerate() {
        let rows = read_examples(text.as_bytes(), None)
            .map_err(|source| RetrainError::BaseData { name, source })?;
        all.extend(rows.into_iter().map(|e| TrainingRow::new(e, i + 1)));
    }
    Ok(all)
}

fn training_hash(examples: &[TrainingRow]) -> String {
    let mut hasher = Sha256::new();
    for e in examples {
        hasher.update([u8::from(e.is_spam)]);
        hasher.update(e.text.as_bytes());
        hasher.update([0]);
    }
    format!("{:x}", hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(text: &str, is_spam: bool) -> LabelledExample {
        LabelledExample {
            text: text.to_owned(),
            author_name: None,
            author_email: None,
            author_url: None,
            is_spam,
        }
    }

    fn metrics(mcc: f64, fpr: f64) -> Metrics {
        Metrics {
            mcc,
            fpr,
            ..Metrics::default()
        }
    }

    #[test]
    fn gate_activates_only_a_candidate_not_worse_on_both_counts() {
        let active = metrics(0.80, 0.02);
        let cases = [
            ("better on both", metrics(0.85, 0.01), true),
            ("equal", metrics(0.80, 0.02), true),
            (
                "better MCC, more false positives",
                metrics(0.90, 0.03),
                false,
            ),
            (
                "fewer false positives, worse MCC",
                metrics(0.70, 0.0),
                false,
            ),
        ];
        for (case, candidate, expected) in cases {
            let (activate, reason) = gate(ActivatePolicy::IfBetter, &candidate, &active, "v1");
            assert_eq!(activate, expected, "{case}: {reason}");
            assert!(
                reason.contains("v1") && reason.contains("MCC"),
                "{case}: {reason}"
            );
        }
        let (forced, reason) = gate(ActivatePolicy::Always, &metrics(0.1, 0.5), &active, "v1");
        assert!(forced && reason.contains("as requested"), "{reason}");
    }

    #[test]
    fn split_holds_out_every_fifth_of_each_label_deterministically() {
        let examples: Vec<LabelledExample> = (0..50)
            .map(|i| example(&format!("comment number {i}"), i % 5 == 0))
            .collect();
        let (train_set, holdout) = split(examples.clone());
        assert_eq!((train_set.len(), holdout.len()), (40, 10));
        assert_eq!(holdout.iter().filter(|e| e.is_spam).count(), 2);
        let (_, again) = split(examples.into_iter().rev().collect());
        assert_eq!(
            holdout, again,
            "the split depends on the texts, not their order"
        );
        assert!(
            train_set
                .iter()
                .all(|row| row.weight == 1.0 && !holdout.contains(&row.example)),
            "held-out examples are not trained on"
        );
    }

    #[test]
    fn enough_data_means_the_minimum_of_each_class() {
        let examples: Vec<LabelledExample> =
            (0..7).map(|i| example(&format!("t{i}"), i < 3)).collect();
        assert!(check_enough(&examples, 3).is_ok());
        let refusal = check_enough(&examples, 4).unwrap_err();
        assert!(refusal.contains("have 3 spam and 4 ham"), "{refusal}");
        assert!(check_enough(&[], 1).is_err());
    }

    #[test]
    fn the_shipped_base_data_passes_the_dataset_rules() {
        let base = base_examples().unwrap();
        assert!(base.len() > 5_000, "{}", base.len());
        assert_eq!(
            base.iter().map(|r| r.source).max(),
            Some(BASE_DATA.len()),
            "each base file is a source of its own"
        );
    }
}
