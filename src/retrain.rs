//! The retraining recipe and its policies: which data a site's model is
//! trained on (the site's labelled examples, weighted up against the shipped
//! base data), when there is enough of it ([`check_enough`]), how a candidate
//! is compared with the active model ([`compare`]: every site label scored
//! by a candidate that did not train on it) and when it may replace it
//! ([`gate`]). [`crate::jobs`] runs it; this module does no scheduling.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cache::ActiveModel;
use crate::classifier::artifact::Provenance;
use crate::classifier::metrics::{self, Metrics, SplitMix64, evaluate, mcc};
use crate::classifier::train::{self, BaseModel, TrainOptions, TrainingRow};
use crate::classifier::{Artifact, ClassifierError, SpamModel};
use crate::domain::Thresholds;
use crate::domain::dataset::{DatasetError, LabelledExample, read_examples};
use crate::storage::models::{self, JobRecord, JobResult, NewModelRecord};
use crate::storage::{self, Database, DbConn, StorageError, training};

/// Bootstrap resamples of the site's labels behind the gate's confidence.
pub const RESAMPLES: usize = 2000;

/// Cross-validations the gate judges a candidate by: the one whose scores
/// chose its thresholds and weights, and this many less one again on folds
/// shuffled by the job's id (repeated cross-validation over all site labels).
pub const CV_REPEATS: usize = 3;

/// The gate's one-sided confidence…
pub const CONFIDENCE: f64 = 0.9;

/// …that the candidate's MCC is at most this much below the active model's…
pub const MCC_MARGIN: f64 = 0.02;

/// …and its false-positive rate at most this much above (a site with fewer
/// than 200 ham cannot show that with any false positive more).
pub const FPR_MARGIN: f64 = 0.005;

/// The share of a site's ham a model may mark spam. An active model above it
/// is replaced by a candidate that marks, with [`CONFIDENCE`], fewer ham
/// spam, even at a lower MCC: hiding readers' comments is the costlier error,
/// and what the spam threshold no longer catches waits for a moderator.
pub const FPR_BUDGET: f64 = 0.01;

/// How much more the site's labels may weigh than the base data, all told:
/// a training job tries each and keeps the one whose out-of-fold scores
/// give the site's labels the best MCC ([`train::train_site_scored`]).
pub const SITE_STRENGTHS: [f64; 3] = [1.0, 4.0, 16.0];

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
    /// Only if it is not worse than the active model on the same labels, each held out from the candidate scoring it.
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
    if let Err(why) = enough(
        count("spam"),
        count("ham"),
        min_per_class,
        params.include_base_data,
    ) {
        return Ok(Err(why));
    }
    let parameters = serde_json::to_string(&params).map_err(StorageError::Encode)?;
    Ok(Ok(models::create_job(conn, &parameters)?))
}

/// Whether a site's `spam` and `ham` labels are enough to train on: at
/// least `min_per_class` of each, or, with the base data (which holds both
/// classes), `min_per_class` ham and one spam. It is the site's ham that
/// calibrates its spam threshold ([`metrics::SiteBudget`]), so a site whose
/// moderators have approved a few dozen comments and caught two spam already
/// gets a threshold that answers to its own ham (on a site the base data
/// does not resemble, the day-one model can mark a tenth of its ham spam).
fn enough(spam: usize, ham: usize, min_per_class: usize, with_base: bool) -> Result<(), String> {
    let min_spam = if with_base { 1 } else { min_per_class };
    if spam < min_spam || ham < min_per_class {
        return Err(format!(
            "Not enough labelled examples to train: need at least {min_spam} spam and {min_per_class} ham, have {spam} spam and {ham} ham."
        ));
    }
    Ok(())
}

/// Refuses training data with too few examples of a class: fewer than
/// `min_per_class` ham, or spam (with the base data: no spam).
///
/// # Errors
/// A sentence saying what is missing.
pub fn check_enough(
    examples: &[LabelledExample],
    min_per_class: usize,
    with_base: bool,
) -> Result<(), String> {
    let spam = examples.iter().filter(|e| e.is_spam).count();
    enough(spam, examples.len() - spam, min_per_class, with_base)
}

/// Trains a candidate for `job` on all the site's examples (and the base data
/// if asked), compares it with the active model on every site example, each
/// scored by a candidate that did not train on it ([`compare`]), stores it,
/// and activates it if the gate allows and nobody switched models meanwhile.
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
    check_enough(&site, min_per_class, params.include_base_data)
        .map_err(RetrainError::NotEnoughData)?;
    let mut train_set: Vec<TrainingRow> = site.iter().cloned().map(TrainingRow::from).collect();
    let site_rows = train_set.len();
    if params.include_base_data {
        train_set.extend(base.examples()?);
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
    // The site's thresholds answer to the site's ham (source 0), not to the
    // base data's.
    let options = TrainOptions {
        budget_source: Some(0),
        ..TrainOptions::default()
    };
    // With the base data, two ways of learning from the site compete
    // (`choose_site_model`); without, one model of the site's labels.
    let seeds = repeat_seeds(job.id);
    let (mut artifact, out_of_fold, repeats, how) = if params.include_base_data {
        choose_site_model(
            &mut train_set,
            site_rows,
            base,
            &options,
            &version,
            provenance,
            &seeds,
        )?
    } else {
        let (artifact, out_of_fold) =
            train::train_scored(&train_set, &options, &version, provenance)?;
        let repeats = train::repeated_out_of_fold(&train_set, &options, &seeds)?
            .into_iter()
            .map(|scores| scores.iter().map(|s| (s.0, s.1)).collect())
            .collect();
        (artifact, out_of_fold, repeats, String::new())
    };
    let candidate = SpamModel::from_artifact(artifact.clone())?;
    // The generation this comparison is against: if an operator switches
    // models while this job trains, the job must not override them.
    let generation = active.generation();
    let current = active.current();
    // The site's rows come first in the training set, in `site`'s order.
    // (The default recipe always calibrates, so there are out-of-fold
    // scores; without them the candidate's own scores would be used.)
    let mut candidate_scores: Vec<Vec<(f64, bool)>> = vec![if out_of_fold.len() >= site_rows {
        out_of_fold
            .iter()
            .take(site_rows)
            .map(|s| (s.0, s.1))
            .collect()
    } else {
        site.iter()
            .map(|e| (candidate.spam_probability(&train::input(e)), e.is_spam))
            .collect()
    }];
    candidate_scores.extend(
        repeats
            .into_iter()
            .map(|scores: Vec<(f64, bool)>| scores.into_iter().take(site_rows).collect()),
    );
    let active_scores: Vec<(f64, bool)> = site
        .iter()
        .map(|e| (current.spam_probability(&train::input(e)), e.is_spam))
        .collect();
    let comparison = compare(
        &candidate_scores,
        candidate.thresholds(),
        &active_scores,
        current.thresholds(),
        u64::try_from(job.id).unwrap_or(0),
    )
    .with_budget_held({
        // Below 299 site ham, the budget as the calibration estimates it.
        // Against an active model at its cautious day-one threshold (not a
        // record on this site: it trades recall for a site nothing is known
        // about, and marks next to no ham spam), the budget at any count.
        let day_one_active = current.thresholds() != current.calibrated_thresholds();
        metrics::budget_holds(
            &out_of_fold,
            candidate.thresholds().spam,
            options.max_fpr,
            options.fpr_confidence,
            options.budget_source,
        )
        .is_some_and(|check| check.holds && (check.by_estimate || day_one_active))
    });
    let (mut activate, mut reason) = gate(params.activate, &comparison, current.version());
    if !how.is_empty() {
        reason = format!("{reason}; {how}");
    }
    let candidate_metrics = comparison.candidate.clone();
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

/// The site's candidate when it learns with the base data: the better, by
/// the MCC the site's labels get out of fold at each candidate's calibrated
/// thresholds (a tie keeps the first), of
/// - the site's labels pooled with the base data, at the strength of
///   [`SITE_STRENGTHS`] they choose ([`train::train_site_scored`]); and
/// - a model of the base data plus a model of the site's labels, their
///   evidence added ([`train::train_with_site`]), which moves the ranking
///   more but is overconfident on few labels.
///
/// `train_set` holds the site's rows first (`site_rows` of them), then the
/// base data's. Returns the candidate, its out-of-fold scores (the site's
/// first) and a sentence for the job's reason.
fn choose_site_model(
    train_set: &mut [TrainingRow],
    site_rows: usize,
    base: &BaseData,
    options: &TrainOptions,
    version: &str,
    provenance: Provenance,
    seeds: &[u64],
) -> Result<SiteCandidate, RetrainError> {
    let base_rows = train_set.len() - site_rows;
    // Weights at which the site's labels weigh as much as the base data
    // and SITE_STRENGTHS times as much.
    let balanced = (base_rows as f64 / site_rows.max(1) as f64).max(1.0);
    let weights: Vec<f64> = SITE_STRENGTHS.iter().map(|s| s * balanced).collect();
    let (base_set, site_set) = (
        train_set[site_rows..].to_vec(),
        train_set[..site_rows].to_vec(),
    );
    let pooled = train::PooledSite::choose(train_set, &weights, options)?;
    let strength = pooled.weight * site_rows as f64 / base_rows.max(1) as f64;
    let pooled_mcc = site_mcc(pooled.thresholds(options), &pooled.out_of_fold, site_rows);
    // Only the candidate kept is fitted.
    let keep_pooled = |pooled: train::PooledSite,
                       train_set: &[TrainingRow],
                       how: String|
     -> Result<SiteCandidate, RetrainError> {
        let repeats = pooled
            .repeated(train_set, options, seeds)
            .into_iter()
            .map(|scores| scores.iter().take(site_rows).map(|s| (s.0, s.1)).collect())
            .collect();
        let (artifact, scores) = pooled.finish(train_set, options, version, provenance.clone())?;
        Ok((artifact, scores, repeats, how))
    };
    // A model of the site's labels alone needs each class in every fold.
    let spam = site_set.iter().filter(|e| e.is_spam).count();
    if spam.min(site_rows - spam) < options.folds {
        let how = format!(
            "the site's labels weighed {strength:.1} times the base data (the strength under which they scored best out of fold: MCC {pooled_mcc:.4}; too few of a class for a model of the site's labels alone)"
        );
        return keep_pooled(pooled, train_set, how);
    }
    let (added, added_scores, added_repeats) = train::train_with_site_repeated(
        base.model(base_set)?,
        &site_set,
        options,
        version,
        provenance.clone(),
        seeds,
    )?;
    let added_mcc = site_mcc(
        Thresholds {
            spam: added.thresholds.spam,
            ham: added.thresholds.ham,
        },
        &added_scores,
        site_rows,
    );
    if added_mcc > pooled_mcc {
        let how = format!(
            "the candidate adds a model of the site's {site_rows} labels (weight {:.4}) to one of the base data (weight {:.4}): out of fold, the site's labels got MCC {added_mcc:.4} from it, {pooled_mcc:.4} with its labels pooled at {strength:.1} times the base data",
            added.site_weight.unwrap_or(1.0),
            added.base_weight.unwrap_or(1.0)
        );
        Ok((added, added_scores, added_repeats, how))
    } else {
        let how = format!(
            "the site's labels weighed {strength:.1} times the base data (the strength under which they scored best out of fold: MCC {pooled_mcc:.4}; a model of the site's labels added to one of the base data got {added_mcc:.4})"
        );
        keep_pooled(pooled, train_set, how)
    }
}

/// A site's candidate: the artifact, its out-of-fold scores (the site's
/// first), the site's labels scored again on other folds (one list per
/// seed, [`CV_REPEATS`]) and a sentence for the job's reason.
type SiteCandidate = (Artifact, Vec<train::OutOfFold>, train::Repeats, String);

/// The seeds of a job's repeated cross-validations (the same job id gives
/// the same folds).
fn repeat_seeds(job_id: i64) -> Vec<u64> {
    let mut random = SplitMix64::new(u64::try_from(job_id).unwrap_or(0));
    (1..CV_REPEATS).map(|_| random.next_u64()).collect()
}

/// The MCC of the first `site_rows` out-of-fold scores (the site's) at a
/// candidate's thresholds `t`.
fn site_mcc(t: Thresholds, scores: &[train::OutOfFold], site_rows: usize) -> f64 {
    let pairs: Vec<(f64, bool)> = scores.iter().take(site_rows).map(|s| (s.0, s.1)).collect();
    evaluate(&pairs, t).mcc
}

/// A candidate and the active model on the same site labels, with how sure
/// the difference is.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The candidate's scores are out of fold: each label scored by a model
    /// that did not train on it (the cross-validation whose scores chose the
    /// candidate's thresholds).
    pub candidate: Metrics,
    /// Cross-validations of the candidate judged ([`CV_REPEATS`])…
    pub repetitions: usize,
    /// …and its MCC and false-positive rate over all of them, each label
    /// counted once per cross-validation.
    pub repeated_mcc: f64,
    pub repeated_fpr: f64,
    /// The active model as it is (it may have trained on some of these
    /// labels, which can only flatter it).
    pub active: Metrics,
    /// With [`CONFIDENCE`], the candidate's MCC minus the active model's is
    /// at least this…
    pub mcc_low: f64,
    /// …and its false-positive rate minus the active model's at most this.
    pub fpr_high: f64,
    /// The site has too few ham to show the false-positive budget on its
    /// own, and the candidate's spam threshold keeps it as its calibration
    /// estimates it with the base data's ham ([`metrics::SiteBudget`]). Its
    /// threshold was chosen to keep it, so this holds for nearly every
    /// candidate trained with the base data on such a site: there the
    /// budget, not the active model's record, bounds its false positives.
    /// Against an active model at its day-one threshold (no record on the
    /// site), also from 299 site ham on: the candidate keeps the site's own
    /// count ([`metrics::budget_holds`]).
    pub budget_held: bool,
}

impl Comparison {
    /// Records whether the candidate keeps the site's budget.
    #[must_use]
    pub fn with_budget_held(self, budget_held: bool) -> Self {
        Self {
            budget_held,
            ..self
        }
    }

    /// Not worse, with [`CONFIDENCE`]: MCC at most [`MCC_MARGIN`] lower,
    /// and the false-positive rate at most [`FPR_MARGIN`] higher or within
    /// the site's budget. (A few dozen site ham cannot show half a point:
    /// one more ham marked spam among 100 is a point, so the rate is held
    /// by the budget the candidate's threshold keeps, not by the active
    /// model's record.)
    ///
    /// A candidate that shows no skill on the site's labels (MCC at most 0
    /// over its cross-validations: it catches none of the site's spam out of
    /// fold, or no more often than it marks ham spam) is not judged not worse
    /// by a tie: against an active model that shows none either, the labels
    /// cannot tell the two apart (49 ham and one spam that neither catches
    /// give both MCC 0 in every resample), and an untold candidate does not
    /// replace the model the site has.
    fn not_worse(&self) -> bool {
        self.shows_skill()
            && self.mcc_low >= -MCC_MARGIN
            && (self.fpr_high <= FPR_MARGIN || self.budget_held)
    }

    /// Whether the candidate scores the site's labels better than chance
    /// over its cross-validations.
    fn shows_skill(&self) -> bool {
        self.repeated_mcc > 0.0
    }

    /// The active model is over the [`FPR_BUDGET`] and the candidate marks
    /// fewer of the site's ham spam: with [`CONFIDENCE`]; or, when its
    /// threshold keeps the site's budget, over its cross-validations, and
    /// with [`CONFIDENCE`] not more. (Against an active model marking 2 of
    /// a small site's 45 ham spam, a candidate marking none is not "fewer
    /// with 90% confidence": in one resample in eight neither ham is drawn.)
    fn fewer_false_positives(&self) -> bool {
        self.active.fpr > FPR_BUDGET
            && (self.fpr_high < 0.0
                || (self.budget_held
                    && self.fpr_high <= 0.0
                    && self.repeated_fpr < self.active.fpr))
    }
}

/// Compares the two models' answers on the same labels (`(score, is spam)`,
/// one per label, in the same order) at their own thresholds, with a paired
/// bootstrap over the labels (seeded: the same data gives the same answer).
/// `candidate` holds one list per cross-validation of the candidate (the
/// first is the one its thresholds were chosen on, [`CV_REPEATS`]): each
/// resampled label counts once per list, so the candidate is judged by all
/// its repetitions together, and the active model (scored once) by its
/// answers.
pub fn compare(
    candidate: &[Vec<(f64, bool)>],
    candidate_thresholds: Thresholds,
    active: &[(f64, bool)],
    active_thresholds: Thresholds,
    seed: u64,
) -> Comparison {
    let called = |scores: &[(f64, bool)], t: Thresholds| -> Vec<bool> {
        scores.iter().map(|s| s.0 >= t.spam).collect()
    };
    let first: &[(f64, bool)] = candidate.first().map_or(&[], Vec::as_slice);
    let by_candidate: Vec<Vec<bool>> = candidate
        .iter()
        .map(|scores| called(scores, candidate_thresholds))
        .collect();
    let by_active = called(active, active_thresholds);
    let labels: Vec<bool> = first.iter().map(|s| s.1).collect();
    let n = by_candidate
        .iter()
        .map(Vec::len)
        .fold(labels.len().min(by_active.len()), usize::min);
    // Cells: [tn, fp, fn, tp].
    let cell = |i: usize, spam_called: bool| usize::from(labels[i]) * 2 + usize::from(spam_called);
    let rates = |m: [usize; 4]| {
        let fpr = if m[0] + m[1] == 0 {
            0.0
        } else {
            m[1] as f64 / (m[0] + m[1]) as f64
        };
        (mcc(m[3], m[1], m[0], m[2]), fpr)
    };
    let mut all = [0usize; 4];
    for calls in &by_candidate {
        for (i, &call) in calls.iter().enumerate().take(n) {
            all[cell(i, call)] += 1;
        }
    }
    let (repeated_mcc, repeated_fpr) = rates(all);
    let mut random = SplitMix64::new(seed);
    let mut mcc_deltas = Vec::with_capacity(RESAMPLES);
    let mut fpr_deltas = Vec::with_capacity(RESAMPLES);
    for _ in 0..RESAMPLES {
        let (mut c, mut a) = ([0usize; 4], [0usize; 4]);
        for _ in 0..n {
            let i = random.below(n);
            for calls in &by_candidate {
                c[cell(i, calls[i])] += 1;
            }
            a[cell(i, by_active[i])] += 1;
        }
        let ((c_mcc, c_fpr), (a_mcc, a_fpr)) = (rates(c), rates(a));
        mcc_deltas.push(c_mcc - a_mcc);
        fpr_deltas.push(c_fpr - a_fpr);
    }
    mcc_deltas.sort_by(f64::total_cmp);
    fpr_deltas.sort_by(f64::total_cmp);
    let at = |sorted: &[f64], share: f64| -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let i = ((sorted.len() - 1) as f64 * share).round() as usize;
        sorted[i.min(sorted.len() - 1)]
    };
    Comparison {
        candidate: evaluate(first, candidate_thresholds),
        repetitions: candidate.len(),
        repeated_mcc,
        repeated_fpr,
        active: evaluate(active, active_thresholds),
        mcc_low: at(&mcc_deltas, 1.0 - CONFIDENCE),
        fpr_high: at(&fpr_deltas, CONFIDENCE),
        budget_held: false,
    }
}

/// Whether a candidate may replace the active model, and why: with
/// [`ActivatePolicy::IfBetter`], only when, with [`CONFIDENCE`], its MCC is
/// not more than [`MCC_MARGIN`] below the active model's and its
/// false-positive rate not more than [`FPR_MARGIN`] above, on the same site
/// labels, or within the site's budget as estimated with the base data
/// ([`Comparison::budget_held`]); or when the active model marks more than
/// [`FPR_BUDGET`] of the site's ham spam and the candidate fewer.
pub fn gate(policy: ActivatePolicy, c: &Comparison, active_version: &str) -> (bool, String) {
    let comparison = format!(
        "on {} site labels, each scored by a candidate that did not train on it in each of {} cross-validations: candidate MCC {:.4} FPR {:.4} (in the one that chose its thresholds: {:.4} / {:.4}), active {active_version} MCC {:.4} FPR {:.4}; with {:.0}% confidence the candidate's MCC is at least {:+.4} against the active model's (allowed: {:+.4}) and its false-positive rate at most {:+.4} (allowed: {:+.4}, or any within the site's {:.0}% budget as estimated with the base data, which the candidate's threshold {})",
        c.candidate.n,
        c.repetitions,
        c.repeated_mcc,
        c.repeated_fpr,
        c.candidate.mcc,
        c.candidate.fpr,
        c.active.mcc,
        c.active.fpr,
        CONFIDENCE * 100.0,
        c.mcc_low,
        -MCC_MARGIN,
        c.fpr_high,
        FPR_MARGIN,
        FPR_BUDGET * 100.0,
        if c.budget_held {
            "keeps"
        } else {
            "does not keep or is not judged by"
        },
    );
    match policy {
        ActivatePolicy::Always => (
            true,
            format!("activated as requested (\"always\"); {comparison}"),
        ),
        ActivatePolicy::IfBetter if c.not_worse() => (
            true,
            format!("not worse than the active model {comparison}"),
        ),
        ActivatePolicy::IfBetter if c.fewer_false_positives() => (
            true,
            format!(
                "marks fewer of the site's ham spam than the active model, which marks more than {:.0}% {comparison}",
                FPR_BUDGET * 100.0
            ),
        ),
        ActivatePolicy::IfBetter if !c.shows_skill() => (
            false,
            format!(
                "kept the active model: the candidate shows no skill on the site's labels (MCC at most 0), so they cannot tell it is not worse {comparison}"
            ),
        ),
        ActivatePolicy::IfBetter => (false, format!("worse than the active model {comparison}")),
    }
}

/// The public data a retrain adds to the site's own examples, and the model
/// trained on it alone (trained by the first job that needs it, then kept:
/// clones share it).
#[derive(Debug, Clone, Default)]
pub struct BaseData {
    /// `None`: the data the built-in model ships with (`models/base/`);
    /// else other rows (`replyguard replay --base`), sources numbered from 1.
    rows: Option<std::sync::Arc<Vec<TrainingRow>>>,
    model: std::sync::Arc<std::sync::OnceLock<BaseModel>>,
}

impl BaseData {
    /// The data the built-in model ships with.
    pub fn shipped() -> Self {
        Self::default()
    }

    /// Other rows, sources numbered from 1.
    pub fn rows(rows: Vec<TrainingRow>) -> Self {
        Self {
            rows: Some(std::sync::Arc::new(rows)),
            ..Self::default()
        }
    }

    fn examples(&self) -> Result<Vec<TrainingRow>, RetrainError> {
        match &self.rows {
            None => base_examples(),
            Some(rows) => Ok(rows.as_ref().clone()),
        }
    }

    /// The model of `examples` (this data's) alone, with each row's
    /// out-of-fold score.
    fn model(&self, examples: Vec<TrainingRow>) -> Result<&BaseModel, RetrainError> {
        if let Some(model) = self.model.get() {
            return Ok(model);
        }
        let model = BaseModel::train(examples, &TrainOptions::default())?;
        Ok(self.model.get_or_init(|| model))
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

    const T: Thresholds = Thresholds {
        spam: 0.5,
        ham: 0.2,
    };

    /// `n` labels, half spam; a model calling spam right except on the
    /// `missed` first spam and the `false_alarms` first ham.
    fn answers(n: usize, missed: usize, false_alarms: usize) -> Vec<(f64, bool)> {
        (0..n)
            .map(|i| {
                let spam = i % 2 == 0;
                let wrong = if spam {
                    i / 2 < missed
                } else {
                    i / 2 < false_alarms
                };
                (if spam != wrong { 0.9 } else { 0.1 }, spam)
            })
            .collect()
    }

    #[test]
    fn gate_activates_only_a_candidate_not_worse_with_confidence() {
        let active = answers(400, 40, 4);
        let cases = [
            ("better on both", answers(400, 10, 0), true),
            ("the same", answers(400, 40, 4), true),
            (
                "better MCC, more false positives",
                answers(400, 0, 20),
                false,
            ),
            ("clearly worse MCC", answers(400, 100, 4), false),
        ];
        // An active model over the false-positive budget (10 of 200 ham)
        // gives way to one that marks none, though it catches less.
        let over_budget = answers(400, 0, 10);
        let cautious = compare(&[answers(400, 60, 0)], T, &over_budget, T, 1);
        assert!(cautious.mcc_low < -MCC_MARGIN, "{cautious:?}");
        let (activate, reason) = gate(ActivatePolicy::IfBetter, &cautious, "v1");
        assert!(activate && reason.starts_with("marks fewer"), "{reason}");
        for (case, candidate, expected) in cases {
            let comparison = compare(&[candidate], T, &active, T, 1);
            let (activate, reason) = gate(ActivatePolicy::IfBetter, &comparison, "v1");
            assert_eq!(activate, expected, "{case}: {reason}");
            assert!(
                reason.contains("v1")
                    && reason.contains("MCC")
                    && reason.contains("400 site labels"),
                "{case}: {reason}"
            );
        }
        let comparison = compare(&[answers(400, 200, 100)], T, &active, T, 1);
        let (forced, reason) = gate(ActivatePolicy::Always, &comparison, "v1");
        assert!(forced && reason.contains("as requested"), "{reason}");
    }

    #[test]
    fn the_gate_judges_a_candidate_by_every_cross_validation_of_it() {
        // Within the budget (2 of 200 ham marked spam).
        let active = answers(400, 40, 2);
        // Better than the active model on the folds that chose it, clearly
        // worse on two others: judged by all three, it stays out.
        let lucky = vec![
            answers(400, 10, 0),
            answers(400, 100, 2),
            answers(400, 100, 2),
        ];
        let comparison = compare(&lucky, T, &active, T, 3);
        assert_eq!(comparison.repetitions, 3);
        // Each label counts once per cross-validation: 210 of 600 spam
        // missed, 4 of 600 ham marked spam.
        assert!((comparison.repeated_mcc - mcc(390, 4, 596, 210)).abs() < 1e-12);
        assert!((comparison.repeated_fpr - 4.0 / 600.0).abs() < 1e-12);
        assert_eq!(comparison.candidate, evaluate(&lucky[0], T));
        let (activate, reason) = gate(ActivatePolicy::IfBetter, &comparison, "v1");
        assert!(!activate, "{reason}");
        assert!(reason.contains("each of 3 cross-validations"), "{reason}");
        // The first alone would have passed; so do three that agree.
        assert!(
            gate(
                ActivatePolicy::IfBetter,
                &compare(&lucky[..1], T, &active, T, 3),
                "v1"
            )
            .0
        );
        let steady = vec![answers(400, 10, 0), answers(400, 12, 0), answers(400, 9, 1)];
        assert!(
            gate(
                ActivatePolicy::IfBetter,
                &compare(&steady, T, &active, T, 3),
                "v1"
            )
            .0
        );
    }

    #[test]
    fn a_tie_of_two_models_without_skill_keeps_the_active_one() {
        // 49 ham and one spam that neither model catches: both MCC 0 in
        // every resample, which tells nothing about the candidate.
        let labels = |spam_score: f64| -> Vec<(f64, bool)> {
            (0..50)
                .map(|i| {
                    if i == 7 {
                        (spam_score, true)
                    } else {
                        (0.1, false)
                    }
                })
                .collect()
        };
        let untold =
            compare(&[labels(0.3), labels(0.3)], T, &labels(0.3), T, 3).with_budget_held(true);
        assert!(
            untold.mcc_low >= -MCC_MARGIN && untold.repeated_mcc <= 0.0,
            "{untold:?}"
        );
        let (activate, reason) = gate(ActivatePolicy::IfBetter, &untold, "v1");
        assert!(!activate, "{reason}");
        assert!(reason.contains("no skill"), "{reason}");
        // The same labels with the spam caught out of fold do tell.
        let caught =
            compare(&[labels(0.9), labels(0.9)], T, &labels(0.3), T, 3).with_budget_held(true);
        assert!(
            gate(ActivatePolicy::IfBetter, &caught, "v1").0,
            "{caught:?}"
        );
        // "always" activates all the same.
        assert!(gate(ActivatePolicy::Always, &untold, "v1").0);
    }

    #[test]
    fn a_false_positive_more_keeps_a_candidate_out_unless_it_keeps_the_sites_budget() {
        // One spam more caught, one ham more marked spam, out of 20.
        let active = answers(20, 3, 0);
        let comparison = compare(&[answers(20, 2, 1)], T, &active, T, 7);
        assert!(comparison.fpr_high > FPR_MARGIN, "{comparison:?}");
        assert!(!gate(ActivatePolicy::IfBetter, &comparison, "v1").0);
        // Unless its threshold keeps the site's budget as its calibration
        // estimates it (with the base data's ham for the ham the site lacks):
        // 30 spam more caught, 2 ham more marked spam, out of 400.
        let active = answers(400, 40, 0);
        let comparison = compare(&[answers(400, 10, 2)], T, &active, T, 7);
        assert!(comparison.fpr_high > FPR_MARGIN, "{comparison:?}");
        assert!(!gate(ActivatePolicy::IfBetter, &comparison, "v1").0);
        let held = comparison.clone().with_budget_held(true);
        let (activate, reason) = gate(ActivatePolicy::IfBetter, &held, "v1");
        assert!(
            activate && reason.contains("which the candidate's threshold keeps"),
            "{reason}"
        );
        // Against an active model over the budget (2 of 25 ham marked spam),
        // a candidate keeping the budget that marks fewer over its
        // cross-validations, and with confidence not more, comes in though
        // 50 labels cannot show its MCC is not worse.
        let active = answers(50, 0, 2);
        let fewer = compare(&[answers(50, 8, 0), answers(50, 9, 1)], T, &active, T, 7);
        assert!(
            fewer.mcc_low < -MCC_MARGIN && fewer.fpr_high <= 0.0,
            "{fewer:?}"
        );
        assert!(!gate(ActivatePolicy::IfBetter, &fewer, "v1").0);
        let (activate, reason) = gate(
            ActivatePolicy::IfBetter,
            &fewer.with_budget_held(true),
            "v1",
        );
        assert!(activate && reason.starts_with("marks fewer"), "{reason}");
        let active = answers(400, 40, 0);
        // A clearly worse MCC stays out all the same.
        let worse = compare(&[answers(400, 100, 2)], T, &active, T, 7).with_budget_held(true);
        assert!(!gate(ActivatePolicy::IfBetter, &worse, "v1").0, "{worse:?}");
        // The same seed gives the same bounds.
        let again = compare(&[answers(400, 10, 2)], T, &active, T, 7);
        assert_eq!(comparison.mcc_low, again.mcc_low);
    }

    #[test]
    fn enough_data_means_the_minimum_of_each_class_or_the_sites_ham_with_the_base_data() {
        let examples: Vec<LabelledExample> =
            (0..7).map(|i| example(&format!("t{i}"), i < 3)).collect();
        assert!(check_enough(&examples, 3, false).is_ok());
        let refusal = check_enough(&examples, 4, false).unwrap_err();
        assert!(refusal.contains("have 3 spam and 4 ham"), "{refusal}");
        assert!(check_enough(&[], 1, false).is_err());
        // With the base data, the site's ham and one spam are enough.
        assert!(check_enough(&examples, 4, true).is_ok());
        let one_spam: Vec<LabelledExample> =
            (0..6).map(|i| example(&format!("t{i}"), i == 0)).collect();
        assert!(check_enough(&one_spam, 5, true).is_ok());
        let no_spam = &one_spam[1..];
        let refusal = check_enough(no_spam, 5, true).unwrap_err();
        assert!(
            refusal.contains("need at least 1 spam and 5 ham"),
            "{refusal}"
        );
        assert!(check_enough(&one_spam[..5], 5, true).is_err());
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
