//! Training: labelled examples → vocabulary → linfa-bayes `MultinomialNb`,
//! fitted in dense batches with `fit_with` so memory stays bounded however many
//! rows there are. Thresholds come from [`super::calibration`] (out-of-fold
//! scores on the training data only); held-out figures from [`super::metrics`].
//!
//! linfa-bayes 0.8.1's `fit_with` prints the whole model to stderr with a
//! leftover `dbg!`, and copies out each class's rows of a batch; the build
//! uses a copy without the `dbg!` that uses a batch of one class as it is
//! (`vendor/linfa-bayes/PATCHED.md`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::ops::Deref;

use linfa::prelude::*;
use linfa_bayes::MultinomialNb;
use ndarray::{Array1, Array2, Axis, Slice};

use super::ClassifierError;
use super::artifact::{self, Artifact, Provenance, ThresholdSettings};
use super::calibration::out_of_fold_scores;
use super::features::{FeatureConfig, FeatureSink, NameHash, ScoringInput, extract};
use super::metrics;
use super::vectorizer::{IdentityHasher, Norm, SparseVector, VectorizerConfig, Weighting};
use crate::domain::Thresholds;
use crate::domain::dataset::LabelledExample;

/// Bytes of dense matrix per `fit_with` batch: one buffer, allocated once per
/// fit, whatever the data size. Every batch is of one class, which linfa
/// sums in place (`vendor/linfa-bayes`); a larger buffer would save little
/// of linfa's per-batch work (a pass over the vocabulary) and cost memory.
const BATCH_BYTES: usize = 16 * 1024 * 1024;

/// A labelled example as training uses it: with a sample weight and the data
/// source it came from. It reads as the example itself (`row.text`,
/// `row.is_spam`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingRow {
    pub example: LabelledExample,
    /// Sample weight (1 by default): the row's vector is scaled by it, which
    /// for multinomial naive Bayes is exactly a sample weight.
    pub weight: f64,
    /// Which data source (file) the example came from; thresholds are
    /// calibrated to hold in each source.
    pub source: usize,
}

impl TrainingRow {
    /// A row of weight 1 from `source`.
    pub fn new(example: LabelledExample, source: usize) -> Self {
        Self {
            example,
            weight: 1.0,
            source,
        }
    }
}

impl TrainingRow {
    /// What the row's features are computed from.
    pub fn input(&self) -> ScoringInput<'_> {
        input(&self.example)
    }
}

/// Reads a labelled data file (JSONL or a JSON array) into rows of weight 1,
/// with the one reader every part of replyguard uses
/// ([`crate::domain::dataset::read_examples`]).
///
/// # Errors
/// An unreadable file, or any bad row.
pub fn read_jsonl(path: &std::path::Path) -> Result<Vec<TrainingRow>, ClassifierError> {
    let bytes = std::fs::read(path)
        .map_err(|err| ClassifierError::Io(format!("cannot read {}: {err}", path.display())))?;
    let examples = crate::domain::dataset::read_examples(&bytes, None)
        .map_err(|err| ClassifierError::Data(format!("{}: {err}", path.display())))?;
    Ok(examples.into_iter().map(TrainingRow::from).collect())
}

impl From<LabelledExample> for TrainingRow {
    fn from(example: LabelledExample) -> Self {
        Self::new(example, 0)
    }
}

impl AsRef<LabelledExample> for TrainingRow {
    fn as_ref(&self) -> &LabelledExample {
        &self.example
    }
}

impl Deref for TrainingRow {
    type Target = LabelledExample;

    fn deref(&self) -> &LabelledExample {
        &self.example
    }
}

/// What the features of an example are computed from.
pub fn input(example: &LabelledExample) -> ScoringInput<'_> {
    ScoringInput {
        text: &example.text,
        author_name: example.author_name.as_deref(),
        author_email: example.author_email.as_deref(),
        author_url: example.author_url.as_deref(),
    }
}

/// Everything that shapes a model, apart from its data.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    pub features: FeatureConfig,
    pub vectorizer: VectorizerConfig,
    /// Lidstone smoothing.
    pub alpha: f64,
    /// Keep features seen in at least this many training documents.
    pub min_df: usize,
    /// Keep at most this many features (the most frequent).
    pub max_features: usize,
    /// Folds for threshold calibration (0 = keep `fallback_thresholds`).
    pub folds: usize,
    /// Most ham (share) a calibrated spam threshold may mark spam…
    pub max_fpr: f64,
    /// …shown with this confidence on the out-of-fold scores
    /// ([`metrics::allowed_false_positives`]).
    pub fpr_confidence: f64,
    /// Most spam (share) a calibrated ham threshold may let through as ham.
    pub max_missed_spam: f64,
    /// Hold the false-positive budget on this source's ham only (a site's own
    /// labels, source 0, when it trains with the public base data); `None`:
    /// on every source's.
    pub budget_source: Option<usize>,
    /// Most ham (share) of a corpus the model never learned from that the
    /// spam threshold for a site without labels may mark spam, shown with
    /// `fpr_confidence` ([`metrics::new_site_threshold`]): 2%, what a new
    /// site should see at most on day one (issue #12).
    pub new_site_max_fpr: f64,
    pub fallback_thresholds: Thresholds,
}

impl TrainOptions {
    /// The thresholds these options choose on out-of-fold scores.
    pub fn calibrate(&self, out_of_fold: &[OutOfFold]) -> Thresholds {
        metrics::calibrate_for(
            out_of_fold,
            self.max_fpr,
            self.fpr_confidence,
            self.max_missed_spam,
            self.budget_source,
        )
    }
}

impl Default for TrainOptions {
    /// The recipe of the shipped model, chosen by cross-validation on the train
    /// splits (see `models/README.md`).
    fn default() -> Self {
        Self {
            features: FeatureConfig {
                word_ngrams: Some([1, 2]),
                char_ngrams: Some([3, 5]),
                signals: true,
                author: false,
            },
            vectorizer: VectorizerConfig {
                weighting: Weighting::Binary,
                norm: Norm::L2,
                group_weights: BTreeMap::from([("c".to_owned(), 0.5), ("s".to_owned(), 10.0)]),
                scale: 1.0,
            },
            alpha: 0.01,
            min_df: 2,
            max_features: 200_000,
            folds: 5,
            max_fpr: 0.01,
            fpr_confidence: 0.95,
            max_missed_spam: 0.05,
            budget_source: None,
            new_site_max_fpr: 0.02,
            fallback_thresholds: Thresholds {
                spam: 0.9,
                ham: 0.5,
            },
        }
    }
}

/// A fitted model and its vocabulary.
pub struct Fitted {
    pub vocabulary: Vec<String>,
    pub model: MultinomialNb<f64, usize>,
}

/// Examples turned into vectors over one vocabulary.
pub struct Vectorized {
    pub vocabulary: Vec<String>,
    /// One vector per example, normalized and then scaled by its weight.
    pub rows: Vec<SparseVector>,
    /// The same before normalization (weighting × group weight only), for
    /// calibration on other vocabularies.
    pub weighed: Vec<SparseVector>,
}

/// Builds the vocabulary from `examples` and vectorizes them with it.
///
/// # Errors
/// No examples of one class, or a vocabulary hash collision.
pub fn vectorize(
    examples: &[TrainingRow],
    options: &TrainOptions,
) -> Result<Vectorized, ClassifierError> {
    let spam = examples.iter().filter(|e| e.is_spam).count();
    if spam == 0 || spam == examples.len() {
        return Err(ClassifierError::Training(
            "training needs examples of both spam and ham".into(),
        ));
    }
    let vocabulary = build_vocabulary(examples, options);
    let vectorizer = super::vectorizer::Vectorizer::new(
        options.features.clone(),
        options.vectorizer.clone(),
        &vocabulary,
    )?;
    let weighed: Vec<SparseVector> = examples
        .iter()
        .map(|example| vectorizer.weigh(&input(example)))
        .collect();
    let rows = weighed
        .iter()
        .zip(examples)
        .map(|(weighed, example)| {
            let mut vector = weighed.clone();
            vectorizer.normalize(&mut vector);
            for (_, v) in &mut vector {
                *v *= example.weight;
            }
            vector
        })
        .collect();
    Ok(Vectorized {
        vocabulary,
        rows,
        weighed,
    })
}

pub(super) fn class_of(example: &LabelledExample) -> usize {
    if example.is_spam {
        artifact::SPAM
    } else {
        artifact::HAM
    }
}

/// Fits linfa-bayes' `MultinomialNb` on the vectorized rows, in dense batches
/// of at most [`BATCH_BYTES`], each of one class: linfa then sums a batch as
/// it is instead of copying out each class's rows first (`vendor/linfa-bayes`),
/// which took most of a fit's time at a 50,000-wide vocabulary.
fn fit_rows(
    vectorized: &Vectorized,
    examples: &[TrainingRow],
    alpha: f64,
) -> Result<MultinomialNb<f64, usize>, ClassifierError> {
    let width = vectorized.vocabulary.len();
    let rows_per_batch = (BATCH_BYTES / (width.max(1) * 8)).clamp(16, 4096);
    let params = MultinomialNb::<f64, usize>::params().alpha(alpha);
    let mut model: Option<MultinomialNb<f64, usize>> = None;
    // One buffer for every batch: only the cells a batch set are cleared again.
    let mut x = Array2::<f64>::zeros((rows_per_batch.min(examples.len()), width));
    for class in [artifact::HAM, artifact::SPAM] {
        let rows: Vec<&SparseVector> = vectorized
            .rows
            .iter()
            .zip(examples)
            .filter(|(_, example)| class_of(example) == class)
            .map(|(row, _)| row)
            .collect();
        for batch in rows.chunks(rows_per_batch) {
            for (r, row) in batch.iter().enumerate() {
                for &(c, v) in row.iter() {
                    x[[r, c as usize]] = v;
                }
            }
            let y = Array1::from_elem(batch.len(), class);
            let records = x.slice_axis(Axis(0), Slice::from(0..batch.len()));
            let dataset = DatasetBase::new(records, y.view());
            model = Some(
                params
                    .fit_with(model, &dataset)
                    .map_err(|err| ClassifierError::Training(err.to_string()))?,
            );
            for (r, row) in batch.iter().enumerate() {
                for &(c, _) in row.iter() {
                    x[[r, c as usize]] = 0.0;
                }
            }
        }
    }
    model.ok_or_else(|| ClassifierError::Training("no training data".into()))
}

fn build_vocabulary(examples: &[TrainingRow], options: &TrainOptions) -> Vec<String> {
    /// Counts documents per feature, keyed by the feature's 64-bit name hash
    /// (the key serving uses too), allocating a name only for a new feature.
    struct DfSink<'a> {
        df: &'a mut HashMap<u64, (usize, String), BuildHasherDefault<IdentityHasher>>,
        seen: &'a mut HashSet<u64, BuildHasherDefault<IdentityHasher>>,
    }
    impl FeatureSink for DfSink<'_> {
        fn feature(&mut self, prefix: &str, parts: &[&str]) {
            let mut hash = NameHash::new();
            hash.write(prefix.as_bytes());
            for part in parts {
                hash.write(part.as_bytes());
            }
            let hash = hash.finish();
            if self.seen.insert(hash) {
                self.df
                    .entry(hash)
                    .or_insert_with(|| (0, [prefix].iter().chain(parts).copied().collect()))
                    .0 += 1;
            }
        }
    }
    let mut df = HashMap::default();
    let mut seen = HashSet::default();
    for example in examples {
        seen.clear();
        let mut sink = DfSink {
            df: &mut df,
            seen: &mut seen,
        };
        extract(&options.features, &input(example), &mut sink);
    }
    let mut kept: Vec<(String, usize)> = df
        .into_values()
        .filter(|(n, _)| *n >= options.min_df)
        .map(|(n, name)| (name, n))
        .collect();
    if kept.len() > options.max_features {
        kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        kept.truncate(options.max_features);
    }
    let mut names: Vec<String> = kept.into_iter().map(|(n, _)| n).collect();
    names.sort();
    names
}

/// Trains a complete artifact: fit on everything, thresholds from k-fold
/// out-of-fold scores.
///
/// # Errors
/// No examples of one class, fewer examples of a class than folds (or one
/// fold), or a linfa failure.
pub fn train(
    examples: &[TrainingRow],
    options: &TrainOptions,
    version: &str,
    provenance: Provenance,
) -> Result<Artifact, ClassifierError> {
    train_scored(examples, options, version, provenance).map(|(artifact, _)| artifact)
}

/// One example's out-of-fold score: `(spam probability, is spam, source)`.
pub type OutOfFold = (f64, bool, usize);

/// A site's labels scored out of fold again, once per repetition of the
/// cross-validation: `(spam probability, is spam)` per label, one list per
/// repetition.
pub type Repeats = Vec<Vec<(f64, bool)>>;

/// [`train`], also returning every example's out-of-fold score, as
/// `(spam probability, is spam, source)` in the examples' order (empty
/// without calibration folds): what a model that did not see the example
/// makes of it.
///
/// # Errors
/// As [`train`].
pub fn train_scored(
    examples: &[TrainingRow],
    options: &TrainOptions,
    version: &str,
    provenance: Provenance,
) -> Result<(Artifact, Vec<OutOfFold>), ClassifierError> {
    fit_scored(examples, options, version, provenance, NewSite::Threshold)
}

/// Whether [`finish`] gives a model of several sources its day-one spam
/// threshold ([`ThresholdSettings::new_site_spam`]): a base model whose
/// thresholds a site's calibration replaces does not need the extra pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NewSite {
    Threshold,
    Skip,
}

fn fit_scored(
    examples: &[TrainingRow],
    options: &TrainOptions,
    version: &str,
    provenance: Provenance,
    new_site: NewSite,
) -> Result<(Artifact, Vec<OutOfFold>), ClassifierError> {
    let vectorized = vectorize(examples, options)?;
    check_folds(examples, options)?;
    let out_of_fold = if options.folds >= 2 {
        out_of_fold_scores(&vectorized, examples, options)
    } else {
        Vec::new()
    };
    let artifact = finish(
        vectorized,
        examples,
        &out_of_fold,
        options,
        version,
        provenance,
        new_site,
    )?;
    Ok((artifact, out_of_fold))
}

/// [`train_scored`] for a site: the rows of source 0 (the site's own
/// labels) pulled toward the rest (the base data) with a strength the site's
/// labels choose ([`PooledSite::choose`]), then fitted. Returns the weight
/// too.
///
/// # Errors
/// As [`train`], or no weight to try.
pub fn train_site_scored(
    examples: &mut [TrainingRow],
    site_weights: &[f64],
    options: &TrainOptions,
    version: &str,
    provenance: Provenance,
) -> Result<(Artifact, Vec<OutOfFold>, f64), ClassifierError> {
    let pooled = PooledSite::choose(examples, site_weights, options)?;
    let weight = pooled.weight;
    let (artifact, out_of_fold) = pooled.finish(examples, options, version, provenance)?;
    Ok((artifact, out_of_fold, weight))
}

/// A site's labels pooled with the base data at the weight they chose, not
/// fitted yet: a job compares it with the site model added to the base
/// model by its out-of-fold scores and fits only the one it keeps.
pub struct PooledSite {
    /// The vocabulary and vectors of every row (the site's at weight 1).
    vectorized: Vectorized,
    /// Every row's out-of-fold score under the chosen weight.
    pub out_of_fold: Vec<OutOfFold>,
    /// The site rows' sample weight.
    pub weight: f64,
}

impl PooledSite {
    /// Chooses the weight of the rows of source 0 (the site's own labels)
    /// among `site_weights`. Multinomial naive Bayes sums weighted counts,
    /// so weighting the site's rows by `w` is smoothing the site's counts
    /// toward the base's with a strength of `1/w` of the base: each weight
    /// is tried in turn, every row scored out of fold and the thresholds
    /// calibrated on those scores, and the weight under which the site's
    /// labels get the best MCC at those thresholds is kept (equal MCCs: the
    /// better ROC AUC on the site's labels; a tie keeps the earlier weight).
    /// What the site gets is its MCC at the calibrated threshold, so that is
    /// what chooses; each weight's figure flatters it alike (its thresholds
    /// were chosen on the scores it is judged on). The site's rows are left
    /// at the chosen weight.
    ///
    /// # Errors
    /// As [`train`], or no weight to try.
    pub fn choose(
        examples: &mut [TrainingRow],
        site_weights: &[f64],
        options: &TrainOptions,
    ) -> Result<Self, ClassifierError> {
        let Some(&first) = site_weights.first() else {
            return Err(ClassifierError::Training("no site weight to try".into()));
        };
        set_site_weight(examples, 1.0);
        let vectorized = vectorize(examples, options)?;
        check_folds(examples, options)?;
        let mut chosen = (first, (f64::NEG_INFINITY, f64::NEG_INFINITY), Vec::new());
        for &weight in site_weights {
            set_site_weight(examples, weight);
            if options.folds < 2 {
                chosen = (weight, (0.0, 0.0), Vec::new());
                break;
            }
            let out_of_fold = out_of_fold_scores(&vectorized, examples, options);
            let site: Vec<(f64, bool)> = out_of_fold
                .iter()
                .filter(|s| s.2 == 0)
                .map(|s| (s.0, s.1))
                .collect();
            let at_thresholds = metrics::evaluate(&site, options.calibrate(&out_of_fold));
            let figures = (at_thresholds.mcc, at_thresholds.auc);
            if figures > chosen.1 {
                chosen = (weight, figures, out_of_fold);
            }
        }
        let (weight, _, out_of_fold) = chosen;
        set_site_weight(examples, weight);
        Ok(Self {
            vectorized,
            out_of_fold,
            weight,
        })
    }

    /// The thresholds the fitted model gets: calibrated on the out-of-fold
    /// scores.
    pub fn thresholds(&self, options: &TrainOptions) -> Thresholds {
        if self.out_of_fold.is_empty() {
            options.fallback_thresholds
        } else {
            options.calibrate(&self.out_of_fold)
        }
    }

    /// Every row scored out of fold again on folds shuffled by each of
    /// `seeds`, at the chosen weight (`examples` as [`Self::choose`] left
    /// them): [`repeated_out_of_fold`] without vectorizing again.
    pub fn repeated(
        &self,
        examples: &[TrainingRow],
        options: &TrainOptions,
        seeds: &[u64],
    ) -> Vec<Vec<OutOfFold>> {
        if options.folds < 2 {
            return Vec::new();
        }
        seeds
            .iter()
            .map(|&seed| {
                super::calibration::shuffled_out_of_fold_scores(
                    &self.vectorized,
                    examples,
                    options,
                    seed,
                )
            })
            .collect()
    }

    /// The fit on every row at the chosen weight, with its thresholds, and
    /// the out-of-fold scores they came from (`examples` as [`Self::choose`]
    /// left them).
    ///
    /// # Errors
    /// A linfa failure.
    pub fn finish(
        self,
        examples: &[TrainingRow],
        options: &TrainOptions,
        version: &str,
        provenance: Provenance,
    ) -> Result<(Artifact, Vec<OutOfFold>), ClassifierError> {
        let Self {
            mut vectorized,
            out_of_fold,
            weight,
        } = self;
        for (row, vector) in examples.iter().zip(&mut vectorized.rows) {
            if row.source == 0 {
                vector.iter_mut().for_each(|(_, v)| *v *= weight);
            }
        }
        let artifact = finish(
            vectorized,
            examples,
            &out_of_fold,
            options,
            version,
            provenance,
            NewSite::Skip,
        )?;
        Ok((artifact, out_of_fold))
    }
}

/// Gives every row of source 0 (the site's own) the sample weight `weight`.
fn set_site_weight(examples: &mut [TrainingRow], weight: f64) {
    examples
        .iter_mut()
        .filter(|row| row.source == 0)
        .for_each(|row| row.weight = weight);
}

/// The weights a site model's log-odds may get in the sum
/// ([`train_with_site`] keeps the one under which the site's labels are
/// likeliest out of fold): naive Bayes is overconfident, and a model of a
/// few dozen labels the more so.
pub const SITE_WEIGHTS: [f64; 5] = [0.0625, 0.125, 0.25, 0.5, 1.0];

/// The weights the base model's log-odds may get in that sum, chosen with
/// the site model's: below 1 the base corpus's evidence counts for less
/// than the site's own, where the two disagree.
pub const BASE_WEIGHTS: [f64; 5] = [1.0, 0.5, 0.25, 0.125, 0.0625];

/// A model of the public base data alone, as [`train_with_site`] adds a
/// site's model to it: the artifact (its thresholds and metrics are
/// replaced), and the base rows with each one's out-of-fold score, so that
/// the site's thresholds can borrow the base data's ham where the site has
/// too little of its own ([`metrics::SiteBudget`]).
#[derive(Debug, Clone)]
pub struct BaseModel {
    pub artifact: Artifact,
    /// The base rows (sources 1, 2, …) and their out-of-fold scores.
    pub rows: Vec<TrainingRow>,
    pub out_of_fold: Vec<OutOfFold>,
}

impl BaseModel {
    /// Trains the model of `rows` (the base data, sources from 1) alone and
    /// scores each row out of fold.
    ///
    /// # Errors
    /// As [`train_scored`].
    pub fn train(rows: Vec<TrainingRow>, options: &TrainOptions) -> Result<Self, ClassifierError> {
        let (artifact, out_of_fold) =
            fit_scored(&rows, options, "base", Provenance::default(), NewSite::Skip)?;
        Ok(Self {
            artifact,
            rows,
            out_of_fold,
        })
    }
}

/// A site's model: `base`'s model of the public corpus alone, with a model
/// of the site's own labels (`site`, trained alone too) whose log-odds,
/// times a weight from [`SITE_WEIGHTS`], are added to its log-odds times a
/// weight from [`BASE_WEIGHTS`], the two fitted together
/// ([`Artifact::site`]). Thresholds are calibrated on the site's labels,
/// each scored by the base model (which never saw it) plus a site model
/// trained on the other folds, exactly as a refit would, with the base rows
/// (each scored out of fold by the base model plus the site's model, which
/// never saw them) standing in for site ham the site lacks
/// ([`metrics::SiteBudget`]). Those scores are returned too: the site's
/// first, in `site`'s order, with source 0, then the base rows'.
///
/// # Errors
/// Too few site labels of a class for the folds, or training failing.
pub fn train_with_site(
    base: &BaseModel,
    site: &[TrainingRow],
    options: &TrainOptions,
    version: &str,
    provenance: Provenance,
) -> Result<(Artifact, Vec<OutOfFold>), ClassifierError> {
    train_with_site_repeated(base, site, options, version, provenance, &[])
        .map(|(artifact, scores, _)| (artifact, scores))
}

/// [`train_with_site`], also scoring the site's labels out of fold again on
/// folds shuffled by each of `seeds` ([`super::calibration::shuffled_fold_assignment`]),
/// with the weights the first folds chose: repeated cross-validation of the
/// candidate, `(spam probability, is spam)` per site label in `site`'s order,
/// one list per seed.
///
/// # Errors
/// As [`train_with_site`].
pub fn train_with_site_repeated(
    base: &BaseModel,
    site: &[TrainingRow],
    options: &TrainOptions,
    version: &str,
    provenance: Provenance,
    seeds: &[u64],
) -> Result<(Artifact, Vec<OutOfFold>, Repeats), ClassifierError> {
    let alone = TrainOptions {
        folds: 0,
        ..options.clone()
    };
    let site: Vec<TrainingRow> = site
        .iter()
        .map(|row| TrainingRow {
            source: 0,
            weight: 1.0,
            ..row.clone()
        })
        .collect();
    check_folds(&site, options)?;
    let mut artifact = Artifact {
        version: version.to_owned(),
        provenance,
        metrics: None,
        ..base.artifact.clone()
    };
    let site_artifact = train(&site, &alone, version, Provenance::default())?;
    let base_model = super::SpamModel::from_artifact(artifact.clone())?;
    let folds = options.folds.max(2);
    let fold_of = super::calibration::fold_assignment(&site, folds);
    // Each site label's log-odds (spam minus ham) from the base model, which
    // never saw it…
    let base_parts: Vec<f64> = site
        .iter()
        .map(|row| {
            let [ham, spam] = base_model.joint_log_likelihood(&row.input());
            spam - ham
        })
        .collect();
    // …and from a site model trained on the folds of `fold_of` but its own.
    let site_parts = |fold_of: &[usize]| -> Result<Vec<f64>, ClassifierError> {
        let mut own = vec![0.0; site.len()];
        for fold in 0..folds {
            let others: Vec<TrainingRow> = site
                .iter()
                .zip(fold_of)
                .filter(|&(_, &f)| f != fold)
                .map(|(row, _)| row.clone())
                .collect();
            let fold_model = super::SpamModel::from_artifact(train(
                &others,
                &alone,
                version,
                Provenance::default(),
            )?)?;
            for (i, row) in site.iter().enumerate().filter(|&(i, _)| fold_of[i] == fold) {
                let [site_ham, site_spam] = fold_model.joint_log_likelihood(&row.input());
                own[i] = site_spam - site_ham;
            }
        }
        Ok(own)
    };
    let parts: Vec<(f64, f64)> = base_parts
        .iter()
        .copied()
        .zip(site_parts(&fold_of)?)
        .collect();
    // The weights under which the site's labels are likeliest, out of fold.
    let likelihood = |(base_weight, weight): (f64, f64)| -> f64 {
        parts
            .iter()
            .zip(&site)
            .map(|(&(base, own), row)| {
                let z = base_weight * base + weight * own;
                let z = if row.is_spam { z } else { -z };
                // ln σ(z), stable for any z.
                -((-z).max(0.0) + (-z.abs()).exp().ln_1p())
            })
            .sum()
    };
    // A stacking of the two models: both weights fitted together, by
    // likelihood over a grid (the base model first at full weight, so that
    // a tie keeps it so).
    let (base_weight, weight) = BASE_WEIGHTS
        .iter()
        .flat_map(|&a| SITE_WEIGHTS.iter().map(move |&b| (a, b)))
        .fold(((1.0, 1.0), f64::NEG_INFINITY), |best, weights| {
            let l = likelihood(weights);
            if l > best.1 { (weights, l) } else { best }
        })
        .0;
    let repeats = seeds
        .iter()
        .map(|&seed| {
            let fold_of = super::calibration::shuffled_fold_assignment(&site, folds, seed);
            Ok(base_parts
                .iter()
                .zip(site_parts(&fold_of)?)
                .zip(&site)
                .map(|((&base, own), row)| {
                    (
                        super::probability_of_second(0.0, base_weight * base + weight * own),
                        row.is_spam,
                    )
                })
                .collect())
        })
        .collect::<Result<Repeats, ClassifierError>>()?;
    let out_of_fold: Vec<OutOfFold> = parts
        .iter()
        .zip(&site)
        .map(|(&(base, own), row)| {
            (
                super::probability_of_second(0.0, base_weight * base + weight * own),
                row.is_spam,
                0,
            )
        })
        .collect();
    let site_model = super::SpamModel::from_artifact(site_artifact.clone())?;
    let base_scored =
        base.rows
            .iter()
            .zip(&base.out_of_fold)
            .map(|(row, &(p, is_spam, source))| {
                let [ham, spam] = site_model.joint_log_likelihood(&row.input());
                // Finite, so that a certainty plus anything stays a number.
                let base_log_odds = (p.ln() - (-p).ln_1p()).clamp(-700.0, 700.0);
                (
                    super::probability_of_second(
                        0.0,
                        base_weight * base_log_odds + weight * (spam - ham),
                    ),
                    is_spam,
                    source,
                )
            });
    let calibration: Vec<OutOfFold> = out_of_fold.iter().copied().chain(base_scored).collect();
    let thresholds = options.calibrate(&calibration);
    let pairs: Vec<(f64, bool)> = out_of_fold.iter().map(|s| (s.0, s.1)).collect();
    artifact.thresholds = ThresholdSettings {
        spam: thresholds.spam,
        ham: thresholds.ham,
        new_site_spam: None,
    };
    artifact.metrics = Some(metrics::evaluate(&pairs, thresholds));
    artifact.site = Some(Box::new(site_artifact));
    artifact.site_weight = Some(weight);
    // Recorded only when it is not 1, so that a site model which does not
    // discount the base model reads in builds that know no base weight.
    artifact.base_weight = (base_weight != 1.0).then_some(base_weight);
    artifact.format_version = if artifact.base_weight.is_some() {
        artifact::WEIGHTED_SITE_FORMAT_VERSION
    } else {
        artifact::SITE_FORMAT_VERSION
    };
    Ok((artifact, calibration, repeats))
}

/// Repeated cross-validation of a recipe already chosen: every example of
/// `examples` (with the weights they have) scored out of fold again, on
/// folds shuffled by each of `seeds`
/// ([`super::calibration::shuffled_out_of_fold_scores`]), exactly as refits on the
/// other folds would; one list per seed, in the examples' order. A
/// candidate's thresholds were chosen on its first folds' scores; these
/// judge it on folds that chose nothing.
///
/// # Errors
/// No examples of one class, or a vocabulary hash collision.
pub fn repeated_out_of_fold(
    examples: &[TrainingRow],
    options: &TrainOptions,
    seeds: &[u64],
) -> Result<Vec<Vec<OutOfFold>>, ClassifierError> {
    if seeds.is_empty() || options.folds < 2 {
        return Ok(Vec::new());
    }
    let vectorized = vectorize(examples, options)?;
    Ok(seeds
        .iter()
        .map(|&seed| {
            super::calibration::shuffled_out_of_fold_scores(&vectorized, examples, options, seed)
        })
        .collect())
}

/// Refuses a calibration the classes are too small for.
fn check_folds(examples: &[TrainingRow], options: &TrainOptions) -> Result<(), ClassifierError> {
    let spam = examples.iter().filter(|e| e.is_spam).count();
    let smallest_class = spam.min(examples.len() - spam);
    if options.folds == 1 {
        return Err(ClassifierError::Training(
            "threshold calibration needs at least 2 folds (or none: --folds 0)".into(),
        ));
    }
    if options.folds >= 2 && smallest_class < options.folds {
        return Err(ClassifierError::Training(format!(
            "{}-fold threshold calibration needs at least {} examples of each class \
             (or no calibration: --folds 0)",
            options.folds, options.folds
        )));
    }
    Ok(())
}

/// Thresholds from the out-of-fold scores (the fallback ones without),
/// the fit on everything, the artifact.
fn finish(
    vectorized: Vectorized,
    examples: &[TrainingRow],
    out_of_fold: &[OutOfFold],
    options: &TrainOptions,
    version: &str,
    provenance: Provenance,
    new_site: NewSite,
) -> Result<Artifact, ClassifierError> {
    let (thresholds, held_out) = if out_of_fold.is_empty() {
        (options.fallback_thresholds, None)
    } else {
        let thresholds = options.calibrate(out_of_fold);
        let pairs: Vec<(f64, bool)> = out_of_fold.iter().map(|s| (s.0, s.1)).collect();
        (thresholds, Some(metrics::evaluate(&pairs, thresholds)))
    };
    let new_site_spam =
        if out_of_fold.is_empty() || options.budget_source.is_some() || new_site == NewSite::Skip {
            None
        } else {
            let held_out: Vec<OutOfFold> =
                super::calibration::out_of_source_scores(&vectorized, examples, options)
                    .into_iter()
                    .flatten()
                    .collect();
            metrics::new_site_threshold(&held_out, options.new_site_max_fpr, options.fpr_confidence)
                .map(|t| t.max(thresholds.spam))
        };
    let model = fit_rows(&vectorized, examples, options.alpha)?;
    let fitted = Fitted {
        vocabulary: vectorized.vocabulary,
        model,
    };
    let mut artifact = assemble(options, fitted, version, thresholds, provenance);
    artifact.thresholds.new_site_spam = new_site_spam;
    artifact.metrics = held_out;
    Ok(artifact)
}

/// Wraps a fitted model and its settings into an artifact.
pub fn assemble(
    options: &TrainOptions,
    fitted: Fitted,
    version: &str,
    thresholds: Thresholds,
    provenance: Provenance,
) -> Artifact {
    Artifact {
        format: artifact::FORMAT.into(),
        format_version: artifact::FORMAT_VERSION,
        version: version.to_owned(),
        features: options.features.clone(),
        vectorizer: options.vectorizer.clone(),
        vocabulary: fitted.vocabulary,
        labels: ["ham".into(), "spam".into()],
        alpha: options.alpha,
        thresholds: ThresholdSettings {
            spam: thresholds.spam,
            ham: thresholds.ham,
            new_site_spam: None,
        },
        model: fitted.model,
        provenance,
        metrics: None,
        site: None,
        site_weight: None,
        base_weight: None,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::classifier::SpamModel;

    /// A whole fit: vocabulary, vectors, linfa.
    pub(in crate::classifier) fn fit(
        examples: &[TrainingRow],
        options: &TrainOptions,
    ) -> Result<Fitted, ClassifierError> {
        let vectorized = vectorize(examples, options)?;
        let model = fit_rows(&vectorized, examples, options.alpha)?;
        Ok(Fitted {
            vocabulary: vectorized.vocabulary,
            model,
        })
    }

    /// The rows of the small YouTube sample under `tests/data`.
    pub(in crate::classifier) fn sample() -> Vec<TrainingRow> {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/youtube-test.jsonl");
        let bytes = std::fs::read(path).unwrap();
        crate::domain::dataset::read_examples(&bytes, None)
            .unwrap()
            .into_iter()
            .map(TrainingRow::from)
            .collect()
    }

    #[test]
    fn calibration_refuses_a_class_smaller_than_the_fold_count() {
        let mut examples: Vec<TrainingRow> = sample()
            .into_iter()
            .filter(|e| !e.is_spam)
            .take(50)
            .collect();
        let mut spam = sample();
        spam.retain(|e| e.is_spam);
        examples.extend(spam.into_iter().take(4));
        let err = train(
            &examples,
            &TrainOptions::default(),
            "v",
            Provenance::default(),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("at least 5 examples"), "{err}");
        let fixed = TrainOptions {
            folds: 0,
            ..TrainOptions::default()
        };
        assert!(train(&examples, &fixed, "v", Provenance::default()).is_ok());
    }

    /// The sample as base data (source 1) and a site (source 0) whose ham
    /// talks like the base's spam ("check out my channel") and whose spam
    /// like the base's ham, but for a word the base never saw.
    fn site_and_base() -> Vec<TrainingRow> {
        let mut rows: Vec<TrainingRow> = (0..30)
            .flat_map(|i| {
                [
                    TrainingRow::from(LabelledExample {
                        text: format!("check out my channel {i}, subscribe"),
                        author_name: None,
                        author_email: None,
                        author_url: None,
                        is_spam: false,
                    }),
                    TrainingRow::from(LabelledExample {
                        text: format!("love this song {i} zzqx"),
                        author_name: None,
                        author_email: None,
                        author_url: None,
                        is_spam: true,
                    }),
                ]
            })
            .collect();
        rows.extend(
            sample()
                .into_iter()
                .map(|row| TrainingRow { source: 1, ..row }),
        );
        rows
    }

    #[test]
    fn a_fit_in_batches_of_one_class_is_one_fit_of_every_row() {
        use linfa_bayes::NaiveBayes;
        let mut rows = site_and_base();
        rows.iter_mut().step_by(4).for_each(|row| row.weight = 3.0);
        let options = TrainOptions::default();
        let vectorized = vectorize(&rows, &options).unwrap();
        let batched = fit_rows(&vectorized, &rows, options.alpha).unwrap();
        // linfa on the whole matrix at once: both classes in one batch, each
        // class's rows copied out by linfa.
        let width = vectorized.vocabulary.len();
        let mut x = Array2::<f64>::zeros((rows.len(), width));
        for (r, row) in vectorized.rows.iter().enumerate() {
            for &(c, v) in row {
                x[[r, c as usize]] = v;
            }
        }
        let y: Array1<usize> = rows.iter().map(|row| class_of(row)).collect();
        let whole = MultinomialNb::<f64, usize>::params()
            .alpha(options.alpha)
            .fit(&DatasetBase::new(x.view(), y.view()))
            .unwrap();
        let probe = x.slice_axis(Axis(0), Slice::from(0..40));
        let (a, _) = batched.predict_log_proba(probe.view());
        let (b, _) = whole.predict_log_proba(probe.view());
        assert!(
            a.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-9),
            "{a:?} {b:?}"
        );
        let [a, b] = [&batched, &whole].map(|m| serde_json::to_value(m).unwrap());
        assert_eq!(
            a["class_info"]["0"]["class_count"],
            b["class_info"]["0"]["class_count"]
        );
        assert_eq!(a["class_info"]["1"]["prior"], b["class_info"]["1"]["prior"]);
    }

    #[test]
    fn a_pooled_candidates_repeated_folds_are_those_of_its_rows_vectorized_again() {
        let options = TrainOptions::default();
        let mut rows = site_and_base();
        let pooled = PooledSite::choose(&mut rows, &[1.0, 4.0], &options).unwrap();
        assert!(
            rows.iter()
                .filter(|r| r.source == 0)
                .all(|r| r.weight == pooled.weight)
        );
        let seeds = [11, 12];
        let again = repeated_out_of_fold(&rows, &options, &seeds).unwrap();
        let reused = pooled.repeated(&rows, &options, &seeds);
        assert_eq!(reused, again);
        assert_eq!(reused.len(), 2);
        assert_ne!(reused[0], pooled.out_of_fold, "other folds, other scores");
    }

    #[test]
    fn a_site_weight_trains_exactly_as_rows_weighted_by_it() {
        let options = TrainOptions::default();
        let mut rows = site_and_base();
        let (chosen, _, weight) =
            train_site_scored(&mut rows, &[7.0], &options, "v", Provenance::default()).unwrap();
        assert!((weight - 7.0).abs() < f64::EPSILON);
        let mut weighted = site_and_base();
        weighted
            .iter_mut()
            .filter(|row| row.source == 0)
            .for_each(|row| row.weight = 7.0);
        let (plain, _) = train_scored(&weighted, &options, "v", Provenance::default()).unwrap();
        // (A site's model has no day-one threshold: the site's labels
        // calibrated it.)
        let (a, b) = (chosen.thresholds, plain.thresholds);
        assert_eq!((a.spam, a.ham, a.new_site_spam), (b.spam, b.ham, None));
        let (chosen, plain) = (
            crate::classifier::SpamModel::from_artifact(chosen).unwrap(),
            crate::classifier::SpamModel::from_artifact(plain).unwrap(),
        );
        for row in &rows {
            let (a, b) = (
                chosen.joint_log_likelihood(&row.input()),
                plain.joint_log_likelihood(&row.input()),
            );
            assert!(
                (a[0] - b[0]).abs() < 1e-9 && (a[1] - b[1]).abs() < 1e-9,
                "{a:?} {b:?}"
            );
        }
    }

    #[test]
    fn the_site_chooses_the_weight_under_which_its_labels_fare_best() {
        // As a training job calibrates: the budget held on the site's ham.
        let options = TrainOptions {
            budget_source: Some(0),
            ..TrainOptions::default()
        };
        // The site's MCC at the thresholds calibrated on the scores.
        let site_mcc = |out_of_fold: &[OutOfFold]| {
            let site: Vec<(f64, bool)> = out_of_fold
                .iter()
                .filter(|s| s.2 == 0)
                .map(|s| (s.0, s.1))
                .collect();
            metrics::evaluate(&site, options.calibrate(out_of_fold)).mcc
        };
        let mut rows = site_and_base();
        let (_, light, _) =
            train_site_scored(&mut rows, &[1.0], &options, "v", Provenance::default()).unwrap();
        let (_, heavy, _) =
            train_site_scored(&mut rows, &[50.0], &options, "v", Provenance::default()).unwrap();
        assert!(
            site_mcc(&heavy) > site_mcc(&light),
            "{} {}",
            site_mcc(&heavy),
            site_mcc(&light)
        );
        for weights in [[1.0, 50.0], [50.0, 1.0]] {
            let (_, out_of_fold, weight) =
                train_site_scored(&mut rows, &weights, &options, "v", Provenance::default())
                    .unwrap();
            assert!((weight - 50.0).abs() < f64::EPSILON, "{weights:?}");
            assert!((site_mcc(&out_of_fold) - site_mcc(&heavy)).abs() < 1e-12);
            assert!(
                rows.iter()
                    .filter(|r| r.source == 0)
                    .all(|r| (r.weight - 50.0).abs() < f64::EPSILON)
            );
        }
    }

    #[test]
    fn a_model_of_several_corpora_serves_a_new_site_at_the_threshold_held_out_corpora_need() {
        // The site-like corpus (source 0), whose ham talks like the sample's
        // spam, and the sample (source 1).
        let rows = site_and_base();
        let options = TrainOptions::default();
        let artifact = train(&rows, &options, "v", Provenance::default()).unwrap();
        let vectorized = vectorize(&rows, &options).unwrap();
        let held_out: Vec<OutOfFold> =
            super::super::calibration::out_of_source_scores(&vectorized, &rows, &options)
                .into_iter()
                .flatten()
                .collect();
        let expected = metrics::new_site_threshold(
            &held_out,
            options.new_site_max_fpr,
            options.fpr_confidence,
        )
        .unwrap();
        let new_site = artifact.thresholds.new_site_spam.unwrap();
        // (Equal but for summation order.)
        assert!((new_site - expected.max(artifact.thresholds.spam)).abs() < 1e-12);
        assert!(
            new_site > artifact.thresholds.spam,
            "{:?}",
            artifact.thresholds
        );
        // The service scores with it; the calibrated one stays on record.
        let json = serde_json::to_vec(&artifact).unwrap();
        let model = SpamModel::from_artifact(Artifact::from_json(&json).unwrap()).unwrap();
        // Through JSON to the bit (a threshold is a score: one bit off and
        // the comment on it is called differently).
        assert_eq!(model.thresholds().spam.to_bits(), new_site.to_bits());
        assert_eq!(model.calibrated_thresholds().spam, artifact.thresholds.spam);
        assert_eq!(model.thresholds().ham, artifact.thresholds.ham);
        // A file whose day-one threshold is below its spam threshold, or
        // above 1, is refused.
        for bad in [artifact.thresholds.spam / 2.0, 1.5] {
            let mut broken = artifact.clone();
            broken.thresholds.new_site_spam = Some(bad);
            let json = serde_json::to_vec(&broken).unwrap();
            let err = Artifact::from_json(&json).err().unwrap();
            assert!(err.to_string().contains("for a new site"), "{err}");
        }
        // One corpus cannot be held out from itself; a site's retrained
        // model is calibrated on the site's labels.
        let one: Vec<TrainingRow> = rows.iter().filter(|r| r.source == 1).cloned().collect();
        let artifact = train(&one, &options, "v", Provenance::default()).unwrap();
        assert_eq!(artifact.thresholds.new_site_spam, None);
        let model = SpamModel::from_artifact(artifact).unwrap();
        assert_eq!(model.thresholds(), model.calibrated_thresholds());
        let site = TrainOptions {
            budget_source: Some(0),
            ..TrainOptions::default()
        };
        // A retrain without the base data: the site's labels (source 0)
        // alone calibrate, several sources or not.
        let alone = train(&rows, &site, "v", Provenance::default()).unwrap();
        assert_eq!(alone.thresholds.new_site_spam, None);
        let mut pooled = rows.clone();
        let (artifact, _, _) =
            train_site_scored(&mut pooled, &[1.0], &site, "v", Provenance::default()).unwrap();
        assert_eq!(artifact.thresholds.new_site_spam, None);
        let (with_site, _) = train_with_site(
            &BaseModel::train(one, &options).unwrap(),
            &rows[..60],
            &site,
            "v",
            Provenance::default(),
        )
        .unwrap();
        assert_eq!(with_site.thresholds.new_site_spam, None);
    }

    #[test]
    fn a_site_model_adds_its_weighted_evidence_to_the_base_models() {
        let (base, site): (Vec<TrainingRow>, Vec<TrainingRow>) =
            site_and_base().into_iter().partition(|row| row.source == 1);
        let options = TrainOptions {
            budget_source: Some(0),
            ..TrainOptions::default()
        };
        let alone = TrainOptions {
            folds: 0,
            ..TrainOptions::default()
        };
        let base_model = BaseModel::train(base.clone(), &TrainOptions::default()).unwrap();
        let (artifact, mut out_of_fold) =
            train_with_site(&base_model, &site, &options, "v", Provenance::default()).unwrap();
        // The site's scores, then the base rows' (which calibrated too).
        assert_eq!(out_of_fold.len(), site.len() + base.len());
        assert!(out_of_fold[site.len()..].iter().all(|s| s.2 == 1));
        out_of_fold.truncate(site.len());
        let weight = artifact.site_weight.unwrap();
        assert!(SITE_WEIGHTS.contains(&weight), "{weight}");
        let base_weight = artifact.base_weight.unwrap_or(1.0);
        assert!(BASE_WEIGHTS.contains(&base_weight), "{base_weight}");
        // The base model ranks the site's labels worse than chance (below):
        // its evidence is discounted.
        assert!(base_weight < 1.0, "{base_weight}");
        let model = |rows: &[TrainingRow]| {
            SpamModel::from_artifact(train(rows, &alone, "m", Provenance::default()).unwrap())
                .unwrap()
        };
        let (base_only, site_only) = (model(&base), model(&site));
        // Through JSON, as the database stores it, as format version 3 (a
        // site model and a base weight), which a build that reads only
        // versions 1 and 2 refuses by name.
        assert_eq!(
            artifact.format_version,
            artifact::WEIGHTED_SITE_FORMAT_VERSION
        );
        let mut stripped = artifact.clone();
        stripped.site = None;
        let err = Artifact::from_json(&serde_json::to_vec(&stripped).unwrap())
            .err()
            .unwrap();
        assert!(err.to_string().contains("does not match"), "{err}");
        let json = serde_json::to_vec(&artifact).unwrap();
        let combined = SpamModel::from_artifact(Artifact::from_json(&json).unwrap()).unwrap();
        // Weights without a site model to weigh are refused.
        let mut lone = base_model.artifact.clone();
        lone.site_weight = Some(0.5);
        let err = Artifact::from_json(&serde_json::to_vec(&lone).unwrap())
            .err()
            .unwrap();
        assert!(err.to_string().contains("no weights"), "{err}");
        // A base weight that is not a positive number is refused.
        for bad in [0.0, -1.0] {
            let mut broken = artifact.clone();
            broken.base_weight = Some(bad);
            let json = serde_json::to_vec(&broken).unwrap();
            let err = Artifact::from_json(&json).err().unwrap();
            assert!(err.to_string().contains("base weight"), "{err}");
        }
        for row in site.iter().chain(&base).step_by(7) {
            let a = base_only.joint_log_likelihood(&row.input());
            let b = site_only.joint_log_likelihood(&row.input());
            let sum = combined.joint_log_likelihood(&row.input());
            for class in 0..2 {
                let expected = base_weight * a[class] + weight * b[class];
                assert!((sum[class] - expected).abs() < 1e-9);
            }
        }
        // The site's ham talks like the corpus's spam: the corpus alone
        // ranks the site's labels badly, with the site's evidence (out of
        // fold) well.
        let by_base: Vec<(f64, bool)> = site
            .iter()
            .map(|r| (base_only.spam_probability(&r.input()), r.is_spam))
            .collect();
        let by_both: Vec<(f64, bool)> = out_of_fold.iter().map(|s| (s.0, s.1)).collect();
        assert!(
            metrics::roc_auc(&by_base) < 0.5,
            "{}",
            metrics::roc_auc(&by_base)
        );
        assert!(
            metrics::roc_auc(&by_both) > 0.95,
            "{}",
            metrics::roc_auc(&by_both)
        );
        // The explanation names the word only the site's model knows.
        let text = LabelledExample {
            text: "love this song 99 zzqx".into(),
            author_name: None,
            author_email: None,
            author_url: None,
            is_spam: true,
        };
        let score = combined.score(&input(&text));
        assert!(score.spam_probability >= 0.5, "{score:?}");
        assert!(
            score.reasons().iter().any(|r| r == "token:zzqx"),
            "{score:?}"
        );
        // Its metrics are the site's out-of-fold answers at its thresholds.
        let at = Thresholds {
            spam: artifact.thresholds.spam,
            ham: artifact.thresholds.ham,
        };
        assert_eq!(
            artifact.metrics.as_ref().map(|m| m.mcc),
            Some(metrics::evaluate(&by_both, at).mcc)
        );
    }

    #[test]
    fn a_site_model_needs_enough_labels_of_each_class_for_its_folds() {
        let (base, site): (Vec<TrainingRow>, Vec<TrainingRow>) =
            site_and_base().into_iter().partition(|row| row.source == 1);
        let few: Vec<TrainingRow> = site
            .iter()
            .filter(|r| !r.is_spam)
            .take(10)
            .chain(site.iter().filter(|r| r.is_spam).take(4))
            .cloned()
            .collect();
        let alone = TrainOptions {
            folds: 0,
            ..TrainOptions::default()
        };
        let base_model = BaseModel::train(base, &alone).unwrap();
        let err = train_with_site(
            &base_model,
            &few,
            &TrainOptions::default(),
            "v",
            Provenance::default(),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("at least 5 examples"), "{err}");
    }
}
