//! The spam classifier: a multinomial naive-Bayes model (linfa-bayes) over the
//! features of [`features`], loaded from an [`artifact::Artifact`].
//!
//! Scoring on the request path never builds a dense vocabulary-sized vector: a
//! sparse scorer is derived from the fitted linfa model (per-class log
//! probabilities and priors) and sums only the features present. A test proves it
//! equal to linfa's own `joint_log_likelihood`. Probabilities come from the two
//! joint log-likelihoods with a stable log-sum-exp, so long comments cannot
//! underflow (linfa 0.8.1's `predict_proba` does).

pub mod artifact;
pub mod calibration;
pub mod explain;
pub mod features;
pub mod metrics;
pub mod train;
pub mod vectorizer;

use std::path::Path;

use serde_json::Value;

pub use artifact::Artifact;
pub use features::ScoringInput;
use features::Tokens;
use vectorizer::{SparseVector, Vectorizer};

use crate::domain::Thresholds;

/// The model shipped with the binary (trained on the UCI YouTube and SMS spam
/// collections; see `models/README.md`).
pub const SHIPPED_MODEL: &[u8] = include_bytes!("../models/spam_nb-v1.json");

/// How many features a spam-leaning score names in its reasons.
const TOP_TOKENS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    #[error("invalid model: {0}")]
    Invalid(String),
    #[error("{0}")]
    Io(String),
    #[error("training failed: {0}")]
    Training(String),
    #[error("{0}")]
    Data(String),
}

/// A loaded model, ready to score.
#[derive(Debug)]
pub struct SpamModel {
    artifact_version: String,
    /// What the service uses: for a model of several corpora, the spam
    /// threshold for a site without labels of its own.
    thresholds: Thresholds,
    /// The spam threshold calibrated on the training data's own held-out
    /// scores.
    calibrated_spam: f64,
    vectorizer: Vectorizer,
    scorer: SparseScorer,
    vocabulary: Vec<String>,
    metrics: Option<metrics::Metrics>,
    training_rows: usize,
    /// A site's own model, whose log-odds, times the weight, are added to
    /// this one's times [`Self::base_weight`] ([`Artifact::site`]).
    site: Option<(Box<SpamModel>, f64)>,
    /// What this model's own log-odds are multiplied by in that sum
    /// ([`Artifact::base_weight`]; 1 without a site model).
    base_weight: f64,
}

/// A comment's score.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// P(spam) in [0, 1].
    pub spam_probability: f64,
    /// The features that pushed the score most towards spam, strongest first
    /// (only when the score leans spam).
    pub top_features: Vec<(String, f64)>,
}

impl Score {
    /// `token:<feature>` reasons for the top features.
    pub fn reasons(&self) -> Vec<String> {
        self.top_features
            .iter()
            .map(|(name, _)| format!("token:{name}"))
            .collect()
    }
}

impl SpamModel {
    /// The model built into the binary.
    ///
    /// # Errors
    /// Never for a correctly built binary; checked anyway.
    pub fn shipped() -> Result<Self, ClassifierError> {
        Self::from_artifact(Artifact::from_json(SHIPPED_MODEL)?)
    }

    /// # Errors
    /// The file is missing or not a valid artifact.
    pub fn load(path: &Path) -> Result<Self, ClassifierError> {
        Self::from_artifact(Artifact::load(path)?)
    }

    /// The model at `path` if one is configured (`REPLYGUARD_MODEL_PATH`,
    /// `--model`), else the shipped one: the default model wherever one is needed.
    ///
    /// # Errors
    /// As [`Self::load`].
    pub fn load_or_shipped(path: Option<&Path>) -> Result<Self, ClassifierError> {
        match path {
            Some(path) => Self::load(path),
            None => Self::shipped(),
        }
    }

    /// # Errors
    /// An artifact whose model does not match its vocabulary.
    pub fn from_artifact(mut artifact: Artifact) -> Result<Self, ClassifierError> {
        let site = match artifact.site.take() {
            Some(site) => Some((
                Box::new(Self::from_artifact(*site)?),
                artifact.site_weight.unwrap_or(1.0),
            )),
            None => None,
        };
        let vectorizer = Vectorizer::new(
            artifact.features.clone(),
            artifact.vectorizer.clone(),
            &artifact.vocabulary,
        )?;
        let scorer = SparseScorer::from_linfa(&artifact.model, artifact.vocabulary.len())?;
        Ok(Self {
            artifact_version: artifact.version,
            thresholds: Thresholds {
                spam: artifact
                    .thresholds
                    .new_site_spam
                    .unwrap_or(artifact.thresholds.spam),
                ham: artifact.thresholds.ham,
            },
            calibrated_spam: artifact.thresholds.spam,
            vectorizer,
            scorer,
            vocabulary: artifact.vocabulary,
            metrics: artifact.metrics,
            training_rows: artifact.provenance.rows,
            base_weight: if site.is_some() {
                artifact.base_weight.unwrap_or(1.0)
            } else {
                1.0
            },
            site,
        })
    }

    pub fn version(&self) -> &str {
        &self.artifact_version
    }

    /// Rows the model was trained on.
    pub fn training_rows(&self) -> usize {
        self.training_rows
    }

    /// Held-out quality measured in training, if recorded.
    pub fn metrics(&self) -> Option<&metrics::Metrics> {
        self.metrics.as_ref()
    }

    /// The thresholds the service scores with: for a model of several public
    /// corpora (the shipped model), the spam threshold for a site that has no
    /// labels of its own yet ([`artifact::ThresholdSettings::new_site_spam`]).
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// The thresholds calibrated on the training data's own held-out scores:
    /// how the model fares on comments like those it learned from. The same
    /// as [`Self::thresholds`] for a site's retrained model.
    pub fn calibrated_thresholds(&self) -> Thresholds {
        Thresholds {
            spam: self.calibrated_spam,
            ..self.thresholds
        }
    }

    /// The document vector (for tests and evaluation).
    pub fn vectorize(&self, input: &ScoringInput<'_>) -> SparseVector {
        self.vectorizer.transform(input)
    }

    /// Scores one comment.
    pub fn score(&self, input: &ScoringInput<'_>) -> Score {
        let (vector, site_vector) = self.vectors(input);
        let [mut ham, mut spam] = self
            .scorer
            .joint_log_likelihood(&vector)
            .map(|jll| self.base_weight * jll);
        let site = self
            .site
            .as_ref()
            .zip(site_vector)
            .map(|((site, weight), vector)| {
                let [site_ham, site_spam] = site.scorer.joint_log_likelihood(&vector);
                ham += weight * site_ham;
                spam += weight * site_spam;
                (site.as_ref(), *weight, vector)
            });
        let spam_probability = probability_of_second(ham, spam);
        let top_features = if spam_probability >= 0.5 {
            let mut pushes = self.explain(input, &vector, site);
            pushes.truncate(TOP_TOKENS);
            pushes
        } else {
            Vec::new()
        };
        Score {
            spam_probability,
            top_features,
        }
    }

    /// The words that pushed `input` toward spam, strongest first, under
    /// this model (whose vector of it is `vector`) and its site model (with
    /// its weight and vector).
    fn explain(
        &self,
        input: &ScoringInput<'_>,
        vector: &SparseVector,
        site: Option<(&SpamModel, f64, SparseVector)>,
    ) -> Vec<(String, f64)> {
        // The tokens' character n-grams, extracted again: keeping them from
        // the first extraction would cost every comment, and most are not
        // explained.
        let tokens = self.vectorizer.char_ngram_tokens(input);
        let mut pushes = self.word_pushes(&tokens, vector);
        pushes
            .iter_mut()
            .for_each(|(_, push)| *push *= self.base_weight);
        if let Some((site, weight, vector)) = site {
            let own = (site.vectorizer.features().char_ngrams
                != self.vectorizer.features().char_ngrams)
                .then(|| site.vectorizer.char_ngram_tokens(input));
            pushes.extend(
                site.word_pushes(own.as_ref().unwrap_or(&tokens), &vector)
                    .into_iter()
                    .map(|(word, push)| (word, weight * push)),
            );
        }
        explain::strongest(pushes)
    }

    /// How much each word of the comment whose character n-grams are
    /// `tokens` pushed this model (not its site model) toward spam.
    fn word_pushes(&self, tokens: &Tokens, vector: &SparseVector) -> Vec<(String, f64)> {
        explain::word_pushes(
            &self.vectorizer,
            &self.vocabulary,
            |i| self.scorer.log_ratio(i),
            tokens,
            vector,
        )
    }

    /// `[ham, spam]` joint log-likelihoods from the sparse scorer (with the
    /// site model's added, if there is one).
    pub fn joint_log_likelihood(&self, input: &ScoringInput<'_>) -> [f64; 2] {
        let (vector, site_vector) = self.vectors(input);
        let [ham, spam] = self
            .scorer
            .joint_log_likelihood(&vector)
            .map(|jll| self.base_weight * jll);
        match self.site.as_ref().zip(site_vector) {
            Some(((site, weight), vector)) => {
                let [site_ham, site_spam] = site.scorer.joint_log_likelihood(&vector);
                [ham + weight * site_ham, spam + weight * site_spam]
            }
            None => [ham, spam],
        }
    }

    /// The comment's vector over this model's vocabulary and, with a site
    /// model, over the site model's: the features are extracted once when
    /// both models have the same ones (as training jobs build them).
    fn vectors(&self, input: &ScoringInput<'_>) -> (SparseVector, Option<SparseVector>) {
        let Some((site, _)) = &self.site else {
            return (self.vectorizer.transform(input), None);
        };
        if site.vectorizer.features() != self.vectorizer.features() {
            return (
                self.vectorizer.transform(input),
                Some(site.vectorizer.transform(input)),
            );
        }
        let hashes = self.vectorizer.hashes(input);
        (
            self.vectorizer.transform_hashes(&hashes),
            Some(site.vectorizer.transform_hashes(&hashes)),
        )
    }

    /// Width of the model's feature space.
    pub fn vocabulary_len(&self) -> usize {
        self.vocabulary.len()
    }

    /// Spam probability only (evaluation loops).
    pub fn spam_probability(&self, input: &ScoringInput<'_>) -> f64 {
        let [ham, spam] = self.joint_log_likelihood(input);
        probability_of_second(ham, spam)
    }
}

/// P(class 2) from two joint log-likelihoods, via log-sum-exp with the maximum
/// subtracted: exact for any magnitude, never NaN or infinite.
pub fn probability_of_second(first: f64, second: f64) -> f64 {
    let max = first.max(second);
    let log_total = max + ((first - max).exp() + (second - max).exp()).ln();
    (second - log_total).exp()
}

/// Per-class log feature probabilities and log priors, read from a fitted
/// linfa `MultinomialNb` (whose fields are private: read through serde).
#[derive(Debug, Clone)]
pub struct SparseScorer {
    /// `[ham, spam]` log probability per feature.
    log_prob: Vec<[f64; 2]>,
    log_prior: [f64; 2],
}

impl SparseScorer {
    /// # Errors
    /// A model without exactly the classes 0 and 1, or with another width.
    pub fn from_linfa(
        model: &linfa_bayes::MultinomialNb<f64, usize>,
        width: usize,
    ) -> Result<Self, ClassifierError> {
        let value = serde_json::to_value(model)
            .map_err(|err| ClassifierError::Invalid(format!("model does not serialize: {err}")))?;
        let class = |label: usize| -> Result<(Vec<f64>, f64), ClassifierError> {
            let info = value
                .get("class_info")
                .and_then(|c| c.get(label.to_string()))
                .ok_or_else(|| ClassifierError::Invalid(format!("model lacks class {label}")))?;
            let prior = info
                .get("prior")
                .and_then(Value::as_f64)
                .ok_or_else(|| ClassifierError::Invalid("model lacks a class prior".into()))?;
            let data = info
                .get("feature_log_prob")
                .and_then(|f| f.get("data"))
                .and_then(Value::as_array)
                .ok_or_else(|| ClassifierError::Invalid("model lacks feature_log_prob".into()))?;
            let probs: Option<Vec<f64>> = data.iter().map(Value::as_f64).collect();
            let probs = probs
                .ok_or_else(|| ClassifierError::Invalid("non-finite log probability".into()))?;
            Ok((probs, prior))
        };
        let (ham, ham_prior) = class(artifact::HAM)?;
        let (spam, spam_prior) = class(artifact::SPAM)?;
        for prior in [ham_prior, spam_prior] {
            if !(prior > 0.0 && prior < 1.0) {
                return Err(ClassifierError::Invalid(format!(
                    "class prior {prior} is not strictly between 0 and 1"
                )));
            }
        }
        if (ham_prior + spam_prior - 1.0).abs() > 1e-9 {
            return Err(ClassifierError::Invalid(
                "class priors do not sum to 1".into(),
            ));
        }
        if let Some(bad) = ham
            .iter()
            .chain(&spam)
            .find(|p| !(p.is_finite() && **p <= 0.0))
        {
            return Err(ClassifierError::Invalid(format!(
                "feature log probability {bad} is not a finite value <= 0"
            )));
        }
        if ham.len() != width || spam.len() != width {
            return Err(ClassifierError::Invalid(format!(
                "model has {} features, vocabulary {width}",
                ham.len()
            )));
        }
        Ok(Self {
            log_prob: ham.into_iter().zip(spam).map(|(h, s)| [h, s]).collect(),
            log_prior: [ham_prior.ln(), spam_prior.ln()],
        })
    }

    /// The model multinomial naive Bayes fits to per-class feature totals over
    /// the vocabulary features `keep` selects, computed the way linfa-bayes
    /// does: `ln(count + alpha) - ln(sum(count + alpha))` per feature and class,
    /// and priors from row counts. Features not kept get 0 and must not occur
    /// in the vectors scored. Calibration uses it for fold models.
    pub fn from_counts(counts: [&[f64]; 2], rows: [usize; 2], alpha: f64, keep: &[bool]) -> Self {
        let log_probs = |count: &[f64]| -> Vec<f64> {
            let total: f64 = count
                .iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .map(|(c, _)| c + alpha)
                .sum();
            let log_total = total.ln();
            count
                .iter()
                .zip(keep)
                .map(|(c, k)| {
                    if *k {
                        (c + alpha).ln() - log_total
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        let ham = log_probs(counts[0]);
        let spam = log_probs(counts[1]);
        let all = (rows[0] + rows[1]) as f64;
        Self {
            log_prob: ham.into_iter().zip(spam).map(|(h, s)| [h, s]).collect(),
            log_prior: [(rows[0] as f64 / all).ln(), (rows[1] as f64 / all).ln()],
        }
    }

    /// `[ham, spam]` joint log-likelihoods of a sparse document vector.
    pub fn joint_log_likelihood(&self, vector: &SparseVector) -> [f64; 2] {
        let mut jll = self.log_prior;
        for &(i, v) in vector {
            if let Some([h, s]) = self.log_prob.get(i as usize) {
                jll[0] += v * h;
                jll[1] += v * s;
            }
        }
        jll
    }

    /// How much one unit of feature `i` favours spam over ham.
    fn log_ratio(&self, i: u32) -> f64 {
        self.log_prob.get(i as usize).map_or(0.0, |[h, s]| s - h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probability_is_stable_for_huge_log_likelihoods() {
        assert!((probability_of_second(-10_000.0, -10_000.0) - 0.5).abs() < 1e-12);
        assert!(probability_of_second(-1e6, -1.0) > 0.999_999);
        assert!(probability_of_second(-1.0, -1e6) < 1e-12);
        // A gap far beyond what exp() can represent still gives a certainty,
        // not NaN or infinity.
        assert_eq!(probability_of_second(f64::MIN / 2.0, 0.0), 1.0);
        assert_eq!(probability_of_second(0.0, f64::MIN / 2.0), 0.0);
    }

    #[test]
    fn shipped_model_loads_and_tells_ham_from_spam() {
        let model = SpamModel::shipped().unwrap();
        let score = |text| {
            model.spam_probability(&ScoringInput {
                text,
                ..Default::default()
            })
        };
        let ham = score("Great article, thanks! The second example cleared it up for me.");
        let spam =
            score("CHECK OUT MY CHANNEL!!! subscribe http://bit.ly/free-money win $1000 now");
        assert!(ham < model.thresholds().ham, "ham scored {ham}");
        assert!(spam >= model.thresholds().spam, "spam scored {spam}");
    }
}
