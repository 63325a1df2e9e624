//! Training: labelled examples → vocabulary → linfa-bayes `MultinomialNb`,
//! fitted in dense batches with `fit_with` so memory stays bounded however many
//! rows there are; thresholds calibrated on out-of-fold scores (k-fold
//! cross-validation on the training data only).
//!
//! linfa-bayes 0.8.1's `fit_with` prints the whole model to stderr with a
//! leftover `dbg!`; the build uses a copy with that line removed
//! (`vendor/linfa-bayes`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::path::Path;

use linfa::prelude::*;
use linfa_bayes::MultinomialNb;
use ndarray::{Array1, Array2, Axis, Slice};
use serde::Deserialize;

use super::artifact::{self, Artifact, Provenance, ThresholdSettings};
use super::features::{FeatureConfig, FeatureSink, NameHash, ScoringInput, extract};
use super::metrics::{self, Metrics};
use super::vectorizer::{IdentityHasher, Norm, SparseVector, VectorizerConfig, Weighting};
use super::{ClassifierError, SpamModel, SparseScorer, probability_of_second};
use crate::domain::Thresholds;

/// Bytes of dense matrix per `fit_with` batch. linfa copies each class's rows
/// once more, so peak memory is about twice this, whatever the data size. Kept
/// under glibc's largest dynamic mmap threshold (32 MiB) so those copies are
/// reused heap memory rather than fresh pages faulted in on every batch.
const BATCH_BYTES: usize = 16 * 1024 * 1024;

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
    /// Most ham (share) a calibrated spam threshold may mark spam…
    pub max_fpr: f64,
    /// …shown with this confidence on the out-of-fold scores
    /// ([`metrics::allowed_false_positives`]).
    pub fpr_confidence: f64,
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
            max_fpr: 0.01,
            fpr_confidence: 0.95,
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
        let line = if line_no == 1 {
            line.trim_start_matches('\u{FEFF}')
        } else {
            line
        };
        if line.trim().is_empty() {
            continue;
        }
        if !line.trim_start().starts_with('{') {
            return Err(bad("row is not a JSON object".into()));
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
    examples: &[Example],
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
        .map(|example| vectorizer.weigh(&example.input()))
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

fn class_of(example: &Example) -> usize {
    if example.is_spam {
        artifact::SPAM
    } else {
        artifact::HAM
    }
}

/// Fits linfa-bayes' `MultinomialNb` on the vectorized rows, in dense batches
/// of at most [`BATCH_BYTES`].
fn fit_rows(
    vectorized: &Vectorized,
    examples: &[Example],
    alpha: f64,
) -> Result<MultinomialNb<f64, usize>, ClassifierError> {
    let width = vectorized.vocabulary.len();
    let rows_per_batch = (BATCH_BYTES / (width.max(1) * 8)).clamp(16, 4096);
    let params = MultinomialNb::<f64, usize>::params().alpha(alpha);
    let mut model: Option<MultinomialNb<f64, usize>> = None;
    // One buffer for every batch: only the cells a batch set are cleared again.
    let mut x = Array2::<f64>::zeros((rows_per_batch.min(examples.len()), width));
    for (rows, batch) in vectorized
        .rows
        .chunks(rows_per_batch)
        .zip(examples.chunks(rows_per_batch))
    {
        for (r, row) in rows.iter().enumerate() {
            for &(c, v) in row {
                x[[r, c as usize]] = v;
            }
        }
        let y: Array1<usize> = batch.iter().map(class_of).collect();
        let records = x.slice_axis(Axis(0), Slice::from(0..batch.len()));
        let dataset = DatasetBase::new(records, y.view());
        model = Some(
            params
                .fit_with(model, &dataset)
                .map_err(|err| ClassifierError::Training(err.to_string()))?,
        );
        for (r, row) in rows.iter().enumerate() {
            for &(c, _) in row {
                x[[r, c as usize]] = 0.0;
            }
        }
    }
    model.ok_or_else(|| ClassifierError::Training("no training data".into()))
}

fn build_vocabulary(examples: &[Example], options: &TrainOptions) -> Vec<String> {
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
        extract(&options.features, &example.input(), &mut sink);
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
    examples: &[Example],
    options: &TrainOptions,
    version: &str,
    provenance: Provenance,
) -> Result<Artifact, ClassifierError> {
    let vectorized = vectorize(examples, options)?;
    let smallest_class = examples
        .iter()
        .filter(|e| e.is_spam)
        .count()
        .min(examples.iter().filter(|e| !e.is_spam).count());
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
    let (thresholds, held_out) = if options.folds >= 2 {
        let oof = out_of_fold_scores(&vectorized, examples, options);
        let thresholds = metrics::calibrate(
            &oof,
            options.max_fpr,
            options.fpr_confidence,
            options.max_missed_spam,
        );
        let pairs: Vec<(f64, bool)> = oof.iter().map(|s| (s.0, s.1)).collect();
        (thresholds, Some(metrics::evaluate(&pairs, thresholds)))
    } else {
        (options.fallback_thresholds, None)
    };
    let model = fit_rows(&vectorized, examples, options.alpha)?;
    let fitted = Fitted {
        vocabulary: vectorized.vocabulary,
        model,
    };
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

/// The fold (of `k`) of every example: round-robin within each class so
/// folds stay stratified, and every copy of a text in the fold of its first
/// occurrence, so a held-out text was never seen by the model scoring it
/// (public corpora repeat texts: 127 of YouTube's train rows, 210 of SMS's).
pub fn fold_assignment(examples: &[Example], k: usize) -> Vec<usize> {
    let (mut spam_seen, mut ham_seen) = (0, 0);
    let mut fold_of_text: HashMap<&str, usize> = HashMap::new();
    examples
        .iter()
        .map(|e| {
            if let Some(&fold) = fold_of_text.get(e.text.as_str()) {
                return fold;
            }
            let counter = if e.is_spam {
                &mut spam_seen
            } else {
                &mut ham_seen
            };
            let fold = *counter % k.max(1);
            *counter += 1;
            fold_of_text.insert(e.text.as_str(), fold);
            fold
        })
        .collect()
}

/// Scores of every example from a model that did not see it (k folds, see
/// [`fold_assignment`]), as `(spam probability, is spam, source)`.
///
/// Each fold is scored exactly as a fit on the other folds would score it,
/// without refitting: that fit's vocabulary is the features at least
/// `min_df` of its texts contain (counted from the vectors; a feature below
/// `min_df` overall is below it in every subset), its vectors are the weighed
/// features renormalized over that vocabulary, and multinomial naive Bayes is
/// a sum of per-class counts (a test checks all of it against refitting with
/// linfa). Only a `max_features` cap is approximated: it is applied among the
/// features the whole training set kept.
pub fn out_of_fold_scores(
    vectorized: &Vectorized,
    examples: &[Example],
    options: &TrainOptions,
) -> Vec<(f64, bool, usize)> {
    let k = options.folds.max(1);
    let fold_of = fold_assignment(examples, k);
    let width = vectorized.vocabulary.len();
    let mut df_in = vec![vec![0usize; width]; k];
    for (row, &fold) in vectorized.weighed.iter().zip(&fold_of) {
        for &(c, _) in row {
            df_in[fold][c as usize] += 1;
        }
    }
    let mut df_total = vec![0usize; width];
    for df in &df_in {
        for (total, n) in df_total.iter_mut().zip(df) {
            *total += n;
        }
    }
    let config = &options.vectorizer;
    let project = |row: &SparseVector, keep: &[bool], weight: f64| -> SparseVector {
        let mut vector: SparseVector = row
            .iter()
            .copied()
            .filter(|&(c, _)| keep[c as usize])
            .collect();
        super::vectorizer::normalize(config.norm, config.scale, &mut vector);
        for (_, v) in &mut vector {
            *v *= weight;
        }
        vector
    };
    let mut scored = vec![(0.0, false, 0); examples.len()];
    for (fold, df_fold) in df_in.iter().enumerate() {
        let fold_df: Vec<usize> = (0..width).map(|j| df_total[j] - df_fold[j]).collect();
        let mut keep: Vec<bool> = fold_df.iter().map(|&n| n >= options.min_df).collect();
        let kept = keep.iter().filter(|&&k| k).count();
        if kept > options.max_features {
            let mut order: Vec<usize> = (0..width).filter(|&j| keep[j]).collect();
            order.sort_by(|&a, &b| {
                fold_df[b]
                    .cmp(&fold_df[a])
                    .then_with(|| vectorized.vocabulary[a].cmp(&vectorized.vocabulary[b]))
            });
            for &j in &order[options.max_features..] {
                keep[j] = false;
            }
        }
        let mut counts = [vec![0.0; width], vec![0.0; width]];
        let mut rows = [0; 2];
        for (i, example) in examples.iter().enumerate() {
            if fold_of[i] != fold {
                let class = class_of(example);
                rows[class] += 1;
                for (c, v) in project(&vectorized.weighed[i], &keep, example.weight) {
                    counts[class][c as usize] += v;
                }
            }
        }
        let scorer =
            SparseScorer::from_counts([&counts[0], &counts[1]], rows, options.alpha, &keep);
        for (i, example) in examples.iter().enumerate() {
            if fold_of[i] == fold {
                let vector = project(&vectorized.weighed[i], &keep, 1.0);
                let [ham, spam] = scorer.joint_log_likelihood(&vector);
                scored[i] = (
                    probability_of_second(ham, spam),
                    example.is_spam,
                    example.source,
                );
            }
        }
    }
    scored
}

/// Scores `examples` with `model` and computes metrics at its thresholds.
pub fn evaluate(model: &SpamModel, examples: &[Example], thresholds: Thresholds) -> Metrics {
    let scored: Vec<(f64, bool)> = examples
        .iter()
        .map(|e| (model.spam_probability(&e.input()), e.is_spam))
        .collect();
    metrics::evaluate(&scored, thresholds)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole fit: vocabulary, vectors, linfa.
    fn fit(examples: &[Example], options: &TrainOptions) -> Result<Fitted, ClassifierError> {
        let vectorized = vectorize(examples, options)?;
        let model = fit_rows(&vectorized, examples, options.alpha)?;
        Ok(Fitted {
            vocabulary: vectorized.vocabulary,
            model,
        })
    }

    #[test]
    fn out_of_fold_scores_equal_refitting_with_linfa_on_the_other_folds() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/youtube-test.jsonl");
        let mut examples = read_jsonl(&path).unwrap();
        for (i, example) in examples.iter_mut().enumerate() {
            if i % 3 == 0 {
                example.weight = 2.5;
            }
        }
        let options = TrainOptions {
            folds: 3,
            ..TrainOptions::default()
        };
        let vectorized = vectorize(&examples, &options).unwrap();
        let oof = out_of_fold_scores(&vectorized, &examples, &options);
        let fold_of = fold_assignment(&examples, options.folds);
        let mut compared = 0;
        for fold in 0..options.folds {
            // What calibration used to do: a whole fit (vocabulary, vectors,
            // linfa) on the other folds, then score the held-out fold.
            let others: Vec<Example> = examples
                .iter()
                .zip(&fold_of)
                .filter(|(_, f)| **f != fold)
                .map(|(e, _)| e.clone())
                .collect();
            let fitted = fit(&others, &options).unwrap();
            assert!(fitted.vocabulary.len() < vectorized.vocabulary.len());
            let model = SpamModel::from_artifact(assemble(
                &options,
                fitted,
                "fold",
                options.fallback_thresholds,
                Provenance::default(),
            ))
            .unwrap();
            for (i, example) in examples.iter().enumerate() {
                if fold_of[i] == fold {
                    let expected = model.spam_probability(&example.input());
                    assert!(
                        (oof[i].0 - expected).abs() < 1e-9,
                        "row {i}: {} vs refit {expected}",
                        oof[i].0
                    );
                    assert_eq!(oof[i].1, example.is_spam);
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, examples.len());
    }

    #[test]
    fn calibration_refuses_a_class_smaller_than_the_fold_count() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/youtube-test.jsonl");
        let mut examples: Vec<Example> = read_jsonl(&path)
            .unwrap()
            .into_iter()
            .filter(|e| !e.is_spam)
            .take(50)
            .collect();
        let mut spam = read_jsonl(&path).unwrap();
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

    #[test]
    fn folds_are_stratified_round_robin_and_copies_share_a_fold() {
        let labels = [true, false, true, true, false, false, true];
        let mut examples: Vec<Example> = labels
            .iter()
            .enumerate()
            .map(|(i, &is_spam)| Example {
                text: format!("text {i}"),
                author_name: None,
                author_email: None,
                author_url: None,
                is_spam,
                weight: 1.0,
                source: 0,
            })
            .collect();
        assert_eq!(fold_assignment(&examples, 3), vec![0, 0, 1, 2, 1, 2, 0]);
        // Row 4 (ham) repeats row 2's text: it joins fold 1 and the ham
        // round-robin does not advance, so row 5 takes fold 1.
        examples[4].text = examples[2].text.clone();
        assert_eq!(fold_assignment(&examples, 3), vec![0, 0, 1, 2, 1, 1, 0]);
    }
}
