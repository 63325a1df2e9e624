//! The model artifact: everything needed to score exactly as in training, plus
//! where it came from and how good it was. Stored as JSON (serde).

use std::path::Path;

use linfa_bayes::MultinomialNb;
use serde::{Deserialize, Serialize};

use super::ClassifierError;
use super::features::FeatureConfig;
use super::metrics::Metrics;
use super::vectorizer::VectorizerConfig;

/// Identifies the file type.
pub const FORMAT: &str = "replyguard-multinomial-nb";
/// Bumped on any incompatible change to this struct or to feature extraction.
pub const FORMAT_VERSION: u32 = 1;
/// The format version of an artifact that carries a site model
/// ([`Artifact::site`]): a build that reads only version 1 refuses it with
/// that reason rather than as a damaged file.
pub const SITE_FORMAT_VERSION: u32 = 2;
/// The format version of an artifact with a site model whose own log-odds
/// are discounted ([`Artifact::base_weight`]): a build that knows no base
/// weight refuses it as a version it does not support.
pub const WEIGHTED_SITE_FORMAT_VERSION: u32 = 3;

/// Class labels as linfa sees them.
pub const HAM: usize = 0;
pub const SPAM: usize = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    pub format: String,
    pub format_version: u32,
    /// Human-readable, unique model version (e.g. `spam_nb-v1`).
    pub version: String,
    pub features: FeatureConfig,
    pub vectorizer: VectorizerConfig,
    /// Feature names, in the model's column order.
    pub vocabulary: Vec<String>,
    /// Names of the classes by label: `["ham", "spam"]`.
    pub labels: [String; 2],
    /// Lidstone smoothing used in training.
    pub alpha: f64,
    /// Default decision thresholds, calibrated in training.
    pub thresholds: ThresholdSettings,
    /// The fitted linfa-bayes model (labels `0` ham, `1` spam).
    pub model: MultinomialNb<f64, usize>,
    pub provenance: Provenance,
    /// Quality on held-out data, if measured: out-of-fold scores of the k-fold
    /// cross-validation in training, at the calibrated thresholds.
    pub metrics: Option<Metrics>,
    /// A site's own model, trained on the site's labels alone, whose evidence
    /// is added to this model's: a comment's log-odds are the sum of the two
    /// models' (see `models/README.md`). Its own thresholds, metrics and
    /// provenance are not used. Absent from a model trained on one corpus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<Box<Artifact>>,
    /// How much the site model's log-odds count in the sum (fitted on the
    /// site's labels out of fold); 1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_weight: Option<f64>,
    /// How much this model's own log-odds count in the sum with a site
    /// model's (fitted with [`Self::site_weight`]); 1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_weight: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdSettings {
    /// Calibrated on the training data's own held-out scores: for comments
    /// like those it learned from.
    pub spam: f64,
    pub ham: f64,
    /// The spam threshold the service uses while this model serves a site
    /// with no labels of its own (a model of several corpora, calibrated by
    /// holding each corpus out in turn: [`super::metrics::new_site_threshold`]);
    /// at least `spam`. Absent from a model of one corpus and from a site's
    /// retrained model, whose thresholds the site's labels calibrated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_site_spam: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// RFC 3339 time of training.
    pub trained_at: String,
    /// The command that produced it.
    pub command: String,
    pub data: Vec<DataFile>,
    pub rows: usize,
    pub spam: usize,
    pub ham: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFile {
    pub path: String,
    pub sha256: String,
    pub rows: usize,
}

impl Artifact {
    /// Parses and checks an artifact.
    ///
    /// # Errors
    /// Not JSON of this format, another format version, or inconsistent contents.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ClassifierError> {
        #[derive(Deserialize)]
        struct Header {
            format: Option<String>,
            format_version: Option<u32>,
        }
        let header: Header = serde_json::from_slice(bytes)
            .map_err(|err| ClassifierError::Invalid(format!("not a JSON model artifact: {err}")))?;
        if header.format.as_deref() != Some(FORMAT) {
            return Err(ClassifierError::Invalid(format!(
                "not a replyguard model (format {:?}, expected {FORMAT:?})",
                header.format
            )));
        }
        if !matches!(
            header.format_version,
            Some(FORMAT_VERSION | SITE_FORMAT_VERSION | WEIGHTED_SITE_FORMAT_VERSION)
        ) {
            return Err(ClassifierError::Invalid(format!(
                "model format version {:?} is not supported by this build (expected {FORMAT_VERSION}, {SITE_FORMAT_VERSION} or {WEIGHTED_SITE_FORMAT_VERSION}); retrain it",
                header.format_version
            )));
        }
        let artifact: Self = serde_json::from_slice(bytes)
            .map_err(|err| ClassifierError::Invalid(format!("model artifact is damaged: {err}")))?;
        artifact.check()?;
        Ok(artifact)
    }

    /// # Errors
    /// The file cannot be read or is not a valid artifact.
    pub fn load(path: &Path) -> Result<Self, ClassifierError> {
        let bytes = std::fs::read(path)
            .map_err(|err| ClassifierError::Io(format!("cannot read {}: {err}", path.display())))?;
        Self::from_json(&bytes)
    }

    /// # Errors
    /// The file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), ClassifierError> {
        let json = serde_json::to_vec(self).map_err(|err| {
            ClassifierError::Invalid(format!("cannot serialize the model: {err}"))
        })?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|err| {
                ClassifierError::Io(format!("cannot create {}: {err}", dir.display()))
            })?;
        }
        std::fs::write(path, json)
            .map_err(|err| ClassifierError::Io(format!("cannot write {}: {err}", path.display())))
    }

    fn check(&self) -> Result<(), ClassifierError> {
        let t = self.thresholds;
        if !(0.0..=1.0).contains(&t.spam) || !(0.0..=1.0).contains(&t.ham) || t.ham > t.spam {
            return Err(ClassifierError::Invalid(format!(
                "thresholds out of order: ham {} spam {}",
                t.ham, t.spam
            )));
        }
        if let Some(new_site) = t.new_site_spam
            && !(t.spam..=1.0).contains(&new_site)
        {
            return Err(ClassifierError::Invalid(format!(
                "the spam threshold for a new site {new_site} is not between the spam \
                 threshold {} and 1",
                t.spam
            )));
        }
        if self.vocabulary.is_empty() {
            return Err(ClassifierError::Invalid("empty vocabulary".into()));
        }
        let expected = match (&self.site, self.base_weight) {
            (Some(_), Some(_)) => WEIGHTED_SITE_FORMAT_VERSION,
            (Some(_), None) => SITE_FORMAT_VERSION,
            (None, _) => FORMAT_VERSION,
        };
        if self.format_version != expected {
            return Err(ClassifierError::Invalid(format!(
                "model format version {} does not match its contents (expected {expected})",
                self.format_version
            )));
        }
        if let Some(site) = &self.site {
            if site.site.is_some() {
                return Err(ClassifierError::Invalid(
                    "a site model cannot carry a site model of its own".into(),
                ));
            }
            site.check()?;
        }
        if self.site.is_none() && (self.site_weight.is_some() || self.base_weight.is_some()) {
            return Err(ClassifierError::Invalid(
                "a model without a site model has no weights to add one with".into(),
            ));
        }
        if let Some(weight) = self.site_weight
            && !(weight.is_finite() && weight >= 0.0)
        {
            return Err(ClassifierError::Invalid(format!(
                "site weight {weight} is not a finite non-negative number"
            )));
        }
        if let Some(weight) = self.base_weight
            && !(weight.is_finite() && weight > 0.0)
        {
            return Err(ClassifierError::Invalid(format!(
                "base weight {weight} is not a finite positive number"
            )));
        }
        Ok(())
    }
}
