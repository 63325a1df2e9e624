//! Training: labelled examples → vocabulary → linfa-bayes `MultinomialNb`,
//! fitted in dense batches with `fit_with` so memory stays bounded however many
//! rows there are; thresholds calibrated on out-of-fold scores (k-fold
//! cross-validation on the training data only).
//!
//! linfa-bayes 0.8.1's `fit_with` prints the whole model to stderr with a
//! leftover `dbg!`; the build uses a copy with that line removed
//! (`vendor/linfa-bayes`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use linfa::prelude::*;
use linfa_bayes::MultinomialNb;
use ndarray::{Array1, Array2, Axis, Slice};
use serde::Deserialize;

use super::artifact::{self, Artifact, Provenance, ThresholdSettings};
use super::features::{FeatureConfig, NameSink, ScoringInput, extract};
use super::metrics::{self, Metrics};
use super::vectorizer::{Norm, VectorizerConfig, Weighting};
use super::{ClassifierError, SpamModel};
use crate::domain::Thresholds;

/// Bytes of dense matrix per `fit_with` batch. linfa copies each class's rows
/// once more, so peak memory is about twice this, whatever the data size.
const BATCH_BYTES: usize = 64 * 1024 * 1024;

/// A labelled example.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    pub author_url: Option<String>,
    pub is_spam: bool,
    /// Sample weight (1 by default): the row's vector is scaled by it, which
    /// for multinomial naive Bayes is exactly a sample weight.
    pub weight: f64,
    /// Which data source (file) the example came from; thresholds are
    /// calibrated to hold in each source.
    pub source: usize,
}

impl Example {
    pub fn input(&self) -> ScoringInput<'_> {
        ScoringInput {
            text: &self.text,
            author_name: self.author_name.as_deref(),
            author_email: self.author_email.as_deref(),
            author_url: self.author_url.as_deref(),
        }
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
    /// Most ham (share) a calibrated spam threshold may mark spam.
    pub max_fpr: f64,
    /// Most spam (share) a calibrated ham threshold may let through as ham.
    pub max_missed_spam: f64,
    pub fallback_thresholds: Thresholds,
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
            max_fpr: 0.005,
            max_missed_spam: 0.05,
            fallback_thresholds: Thresholds {
                spam: 0.9,
                ham: 0.5,
            },
        }
    }
}

/// Reads JSONL rows `{"text"|"content", "label": "spam"|"ham", "author"?, …}`.
///
/// # Errors
/// Unreadable file, or the first bad row with its line number.
pub fn read_jsonl(path: &Path) -> Result<Vec<Example>, ClassifierError> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| ClassifierError::Io(format!("cannot read {}: {err}", path.display())))?;
    parse_jsonl(&path.display().to_string(), &text)
}

/// Parses JSONL text; `name` prefixes error messages (`name:LINE: why`).
///
/// # Errors
/// The first bad row with its line number.
pub fn parse_jsonl(name: &str, text: &str) -> Result<Vec<Example>, ClassifierError> {
    #[derive(Deserialize)]
    struct Row {
        text: Option<String>,
        content: Option<String>,
        label: String,
        author: Option<String>,
        author_name: Option<String>,
        author_email: Option<String>,
        author_url: Option<String>,
    }
    let mut examples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let bad = |why: String| ClassifierError::Data(format!("{name}:{line_no}: {why}"));
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(line).map_err(|err| bad(err.to_string()))?;
        let text = row
            .text
            .or(row.content)
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| bad("row has no `text` (or `content`)".into()))?;
        let is_spam = match row.label.as_str() {
            "spam" => true,
            "ham" => false,
            other => return Err(bad(format!("label `{other}` is not spam or ham"))),
        };
        examples.push(Example {
            text,
            author_name: row.author_name.or(row.author),
            author_email: row.author_email,
            author_url: row.author_url,
            is_spam,
            weight: 1.0,
            source: 0,
        });
    }
    Ok(examples)
}

/// A fitted model and its vocabulary.
pub struct Fitted {
    pub vocabulary: Vec<String>,
    pub model: MultinomialNb<f64, usize>,
}

/// Builds the vocabulary and fits the model.
///
/// # Errors
/// No examples of one class, or a linfa failure.
pub fn fit(examples: &[Example], options: &TrainOptions) -> Result<Fitted, ClassifierError> {
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
    let width = vocabulary.len();
    let rows_per_batch = (BATCH_BYTES / (width * 8)).clamp(16, 4096);
    let params = MultinomialNb::<f64, usize>::params().alpha(options.alpha);
    let mut model: Option<MultinomialNb<f64, usize>> = None;
    // One buffer for every batch: only the cells a batch set are cleared again.
    let mut x = Array2::<f64>::zeros((rows_per_batch.min(examples.len()), width));
    for batch in examples.chunks(rows_per_batch) {
        let mut touched = Vec::new();
        for (r, example) in batch.iter().enumerate() {
            for (c, v) in vectorizer.transform(&example.input()) {
                x[[r, c as usize]] = v * example.weight;
                touched.push((r, c as usize));
            }
        }
        let y: Array1<usize> = batch
            .iter()
            .map(|e| {
                if e.is_spam {
                    artifact::SPAM
                } else {
                    artifact::HAM
                }
            })
            .collect();
        let records = x.slice_axis(Axis(0), Slice::from(0..batch.len()));
        let dataset = DatasetBase::new(records, y.view());
        model = Some(
            params
                .fit_with(model, &dataset)
                .map_err(|err| ClassifierError::Training(err.to_string()))?,
        );
        for (r, c) in touched {
            x[[r, c]] = 0.0;
        }
    }
    let model = model.ok_or_else(|| ClassifierError::Training("no training data".into()))?;
    Ok(Fitted { vocabulary, model })
}

fn build_vocabulary(examples: &[Example], options: &TrainOptions) -> Vec<String> {
    let mut df: HashMap<String, usize> = HashMap::new();
    let mut seen = HashSet::new();
    for example in examples {
        let mut sink = NameSink::default();
        extract(&options.features, &example.input(), &mut sink);
        seen.clear();
        for name in sink.0 {
            if seen.insert(name.clone()) {
                *df.entry(name).or_default() += 1;
            }
        }
    }
    let mut kept: Vec<(String, usize)> = df
        .into_iter()
        .filter(|(_, n)| *n >= options.min_df)
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
/// As [`fit`].
pub fn train(
    examples: &[Example],
    options: &TrainOptions,
    version: &str,
    provenance: Provenance,
) -> Result<Artifact, ClassifierError> {
    let (thresholds, held_out) = if options.folds >= 2 {
        let oof = out_of_fold_scores(examples, options)?;
        let thresholds = metrics::calibrate(&oof, options.max_fpr, options.max_missed_spam);
        let pairs: Vec<(f64, bool)> = oof.iter().map(|s| (s.0, s.1)).collect();
        (thresholds, Some(metrics::evaluate(&pairs, thresholds)))
    } else {
        (options.fallback_thresholds, None)
    };
    let fitted = fit(examples, options)?;
    let mut artifact = assemble(options, fitted, version, thresholds, provenance);
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
        },
        model: fitted.model,
        provenance,
        metrics: None,
    }
}

/// Scores of every example from a model that did not see it (k folds,
/// assigned round-robin within each class so folds stay stratified).
///
/// # Errors
/// As [`fit`].
pub fn out_of_fold_scores(
    examples: &[Example],
    options: &TrainOptions,
) -> Result<Vec<(f64, bool, usize)>, ClassifierError> {
    let k = options.folds;
    let mut fold_of = vec![0; examples.len()];
    let (mut spam_seen, mut ham_seen) = (0, 0);
    for (i, e) in examples.iter().enumerate() {
        let counter = if e.is_spam {
            &mut spam_seen
        } else {
            &mut ham_seen
        };
        fold_of[i] = *counter % k;
        *counter += 1;
    }
    let mut scored = Vec::with_capacity(examples.len());
    for fold in 0..k {
        let train: Vec<Example> = examples
            .iter()
            .zip(&fold_of)
            .filter(|(_, f)| **f != fold)
            .map(|(e, _)| e.clone())
            .collect();
        let fitted = fit(&train, options)?;
        let model = SpamModel::from_artifact(assemble(
            options,
            fitted,
            &format!("cv-fold-{fold}"),
            options.fallback_thresholds,
            Provenance::default(),
        ))?;
        for (e, _) in examples.iter().zip(&fold_of).filter(|(_, f)| **f == fold) {
            scored.push((model.spam_probability(&e.input()), e.is_spam, e.source));
        }
    }
    Ok(scored)
}

/// Scores `examples` with `model` and computes metrics at its thresholds.
pub fn evaluate(model: &SpamModel, examples: &[Example], thresholds: Thresholds) -> Metrics {
    let scored: Vec<(f64, bool)> = examples
        .iter()
        .map(|e| (model.spam_probability(&e.input()), e.is_spam))
        .collect();
    metrics::evaluate(&scored, thresholds)
}
