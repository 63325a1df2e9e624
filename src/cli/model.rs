//! `train`, `eval` and `classify`: the model's command-line tools.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::classifier::artifact::{Artifact, DataFile, Provenance};
use crate::classifier::metrics::{self, Metrics};
use crate::classifier::train::{self, TrainOptions, TrainingRow};
use crate::classifier::{ScoringInput, SpamModel};
use crate::config::Settings;
use crate::domain::dataset::{DatasetError, LabelledExample, Position, read_examples};

#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// Labelled JSONL file(s): `{"text": "…", "label": "spam"|"ham"}` per line.
    #[arg(long = "data", required = true)]
    pub data: Vec<PathBuf>,
    /// Where to write the model artifact (JSON).
    #[arg(long)]
    pub out: PathBuf,
    /// Model version recorded in the artifact [default: the output file's stem].
    #[arg(long)]
    pub version: Option<String>,
    /// Cross-validation folds used to calibrate the thresholds (0 = fixed 0.9/0.5).
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Weight each file's rows so that every file counts as much as the largest
    /// (a small site's data is not drowned by a large public corpus).
    #[arg(long)]
    pub balance_sources: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// Model artifact [default: the shipped model].
    #[arg(long, conflicts_with = "active")]
    pub model: Option<PathBuf>,
    /// Evaluate the database's active model (`DATABASE_URL`) instead of a file.
    #[arg(long)]
    pub active: bool,
    /// Labelled JSONL test data.
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ClassifyArgs {
    /// Model artifact [default: the shipped model].
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The comment text.
    pub text: String,
}

/// Trains a model from JSONL files and writes its artifact.
pub fn train(args: &TrainArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let artifact = fit_and_save(args)?;
    let p = &artifact.provenance;
    println!(
        "trained {}: {} rows ({} spam, {} ham), {} features, thresholds spam {:.4} ham {:.4}{}, {:.2}s -> {}",
        artifact.version,
        p.rows,
        p.spam,
        p.ham,
        artifact.vocabulary.len(),
        artifact.thresholds.spam,
        artifact.thresholds.ham,
        artifact
            .thresholds
            .new_site_spam
            .map(|t| format!(", spam for a new site {t:.4}"))
            .unwrap_or_default(),
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}

fn fit_and_save(args: &TrainArgs) -> anyhow::Result<Artifact> {
    let mut sources = Vec::new();
    let mut files = Vec::new();
    for path in &args.data {
        let rows = read_data(path)?;
        files.push(DataFile {
            path: path.display().to_string(),
            sha256: sha256_file(path)?,
            rows: rows.len(),
        });
        sources.push(rows);
    }
    let largest = sources.iter().map(Vec::len).max().unwrap_or(0);
    let mut examples = Vec::new();
    for (source, rows) in sources.into_iter().enumerate() {
        let weight = if args.balance_sources && !rows.is_empty() {
            largest as f64 / rows.len() as f64
        } else {
            1.0
        };
        examples.extend(rows.into_iter().map(|example| TrainingRow {
            example,
            weight,
            source,
        }));
    }
    let spam = examples.iter().filter(|e| e.is_spam).count();
    let ham = examples.len() - spam;
    let version = match &args.version {
        Some(v) => v.clone(),
        None => args
            .out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".to_owned()),
    };
    let mut command = String::from("replyguard train");
    for file in &files {
        command.push_str(&format!(" --data {}", file.path));
    }
    command.push_str(&format!(" --out {}", args.out.display()));
    if args.folds != 5 {
        command.push_str(&format!(" --folds {}", args.folds));
    }
    if args.balance_sources {
        command.push_str(" --balance-sources");
    }
    let provenance = Provenance {
        trained_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        command,
        data: files,
        rows: examples.len(),
        spam,
        ham,
    };
    let options = TrainOptions {
        folds: args.folds,
        ..TrainOptions::default()
    };
    let artifact = train::train(&examples, &options, &version, provenance)?;
    if options.folds >= 2 {
        for (source, file) in artifact.provenance.data.iter().enumerate() {
            let ham = examples
                .iter()
                .filter(|e| e.source == source && !e.is_spam)
                .count();
            if !metrics::enough_ham_to_show(ham, options.max_fpr, options.fpr_confidence) {
                eprintln!(
                    "warning: {} has {ham} ham, too few to show a {}% false-positive rate \
                     with {}% confidence; the spam threshold is set above every one of its \
                     held-out ham scores, which costs recall",
                    file.path,
                    options.max_fpr * 100.0,
                    options.fpr_confidence * 100.0
                );
            }
        }
    }
    if artifact.thresholds.new_site_spam.is_some() {
        let needed = metrics::ham_needed_to_show(options.new_site_max_fpr, options.fpr_confidence);
        for (source, file) in artifact.provenance.data.iter().enumerate() {
            let ham = examples
                .iter()
                .filter(|e| e.source == source && !e.is_spam)
                .count();
            if ham < needed {
                eprintln!(
                    "warning: {} has {ham} ham (fewer than {needed}): held out for the \
                     day-one spam threshold, it allows none of them marked spam, so its \
                     highest-scoring ham sets that threshold",
                    file.path
                );
            }
        }
    }
    artifact.save(&args.out)?;
    Ok(artifact)
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

/// Reads a labelled data file (JSONL or a JSON array) with the one reader
/// every part of replyguard uses; a bad row is reported as `FILE:LINE: why`.
///
/// # Errors
/// An unreadable file, or any bad row.
pub fn read_data(path: &Path) -> anyhow::Result<Vec<LabelledExample>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    read_examples(&bytes, None).map_err(|err| match err {
        DatasetError::Rows(bad) => {
            let positions: Vec<String> = bad.iter().map(|(p, _)| p.to_string()).collect();
            let mut message = format!(
                "{}: {} invalid row(s): {}",
                path.display(),
                bad.len(),
                positions.join(", ")
            );
            for (position, problems) in &bad {
                for problem in problems {
                    message.push_str(&match position {
                        Position::Line(n) => format!("\n{}:{n}: {problem}", path.display()),
                        Position::Index(_) => format!("\n{} {position}: {problem}", path.display()),
                    });
                }
            }
            anyhow::anyhow!("{message}")
        }
        other => anyhow::anyhow!("{}: {other}", path.display()),
    })
}

/// Evaluates a model on labelled data at its thresholds.
pub fn eval(args: &EvalArgs, settings: &Settings) -> anyhow::Result<()> {
    let model = if args.active {
        active_model(settings)?
    } else {
        std::sync::Arc::new(SpamModel::load_or_shipped(args.model.as_deref())?)
    };
    let examples = read_data(&args.data)?;
    let spam = examples.iter().filter(|e| e.is_spam).count();
    if spam == 0 || spam == examples.len() {
        eprintln!(
            "note: {} holds only {}: its false-positive rate (or recall) is measured, but MCC and AUC are not defined on one class (reported as 0 and 0.5)",
            args.data.display(),
            if spam == 0 { "ham" } else { "spam" }
        );
    }
    let t = settings.thresholds(model.thresholds());
    let scored: Vec<(f64, bool)> = examples
        .iter()
        .map(|e| (model.spam_probability(&train::input(e)), e.is_spam))
        .collect();
    let metrics = metrics::evaluate(&scored, t);
    // A model of several corpora serves a site without labels at a more
    // cautious spam threshold than the one calibrated on its own data: its
    // figures at that one too, for data like what it learned from.
    let calibrated_t = settings.thresholds(model.calibrated_thresholds());
    let calibrated = (calibrated_t != t).then(|| metrics::evaluate(&scored, calibrated_t));
    if args.json {
        let mut object = serde_json::to_value(&metrics)?;
        if let (Some(calibrated), Some(map)) = (&calibrated, object.as_object_mut()) {
            map.insert("calibrated".into(), serde_json::to_value(calibrated)?);
        }
        println!("{object}");
    } else {
        print_report(model.version(), &args.data, &metrics);
        if let Some(calibrated) = &calibrated {
            println!();
            println!(
                "at the spam threshold calibrated on the model's own data ({:.4}; the \
                 service uses {:.4} until a site's labels calibrate it):",
                calibrated_t.spam, t.spam
            );
            print_report(model.version(), &args.data, calibrated);
        }
    }
    Ok(())
}

/// The model the service would score with on this database: the active one,
/// or the built-in (or `REPLYGUARD_MODEL_PATH`) model when none was activated.
fn active_model(settings: &Settings) -> anyhow::Result<std::sync::Arc<SpamModel>> {
    // Evaluating a database that does not exist (a mistyped path) would
    // report the built-in model.
    super::ensure_database_exists(
        settings,
        "--active evaluates the active model of an existing database",
    )?;
    crate::storage::run_migrations(&settings.database_url, settings.pool_options().timeout)
        .with_context(|| format!("cannot prepare the database {}", settings.database_url))?;
    let db = crate::storage::Database::new(settings.database_url.clone(), &settings.pool_options());
    let default_model = SpamModel::load_or_shipped(settings.model_path.as_deref())?;
    let active = crate::cache::ActiveModel::new(db, default_model);
    active
        .reload_if_switched()
        .context("the database's active model cannot be loaded")?;
    Ok(active.current())
}

fn print_report(version: &str, data: &Path, m: &Metrics) {
    println!("model {version} on {} ({} rows)", data.display(), m.n);
    println!(
        "thresholds: spam >= {:.4}, unsure >= {:.4}",
        m.spam_threshold, m.ham_threshold
    );
    println!();
    println!("                 predicted spam  predicted ham");
    println!("  actual spam    {:>14}  {:>13}", m.tp, m.fn_);
    println!("  actual ham     {:>14}  {:>13}", m.fp, m.tn);
    println!();
    println!(
        "precision {:.4}  recall {:.4}  F1 {:.4}",
        m.precision, m.recall, m.f1
    );
    println!(
        "MCC {:.4}  false-positive rate {:.4}  ROC AUC {:.4}",
        m.mcc, m.fpr, m.auc
    );
    println!();
    println!("three-way           ham  unsure    spam");
    for (label, s) in [
        ("actual ham ", m.three_way.ham),
        ("actual spam", m.three_way.spam),
    ] {
        println!("  {label}  {:>7} {:>7} {:>7}", s.ham, s.unsure, s.spam);
    }
}

/// Scores one text and explains the score.
pub fn classify(args: &ClassifyArgs, settings: &Settings) -> anyhow::Result<()> {
    if args.text.trim().is_empty() {
        bail!("the text to classify is empty");
    }
    let model = SpamModel::load_or_shipped(args.model.as_deref())?;
    let t = settings.thresholds(model.thresholds());
    let score = model.score(&ScoringInput {
        text: &args.text,
        ..ScoringInput::default()
    });
    let p = score.spam_probability;
    let verdict = if p >= t.spam {
        "spam"
    } else if p >= t.ham {
        "unsure"
    } else {
        "ham"
    };
    println!(
        "score {p:.4}  decision {verdict}  (model {}, spam >= {:.4}, unsure >= {:.4})",
        model.version(),
        t.spam,
        t.ham
    );
    for (name, push) in &score.top_features {
        println!("  {name:<30} +{push:.3}");
    }
    Ok(())
}
