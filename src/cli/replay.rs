//! `replyguard replay`: what replyguard would have done on a labelled history.
//! The history arrives in a fixed random order per run; a moderator labels each
//! comment as it arrives; after `k` labels the site's learning path runs as in
//! production (the labels stored as moderation decisions, a training job with
//! the shipped base data, the gate deciding whether the candidate becomes
//! active), and the active model is evaluated, at its own thresholds, on the
//! last `--holdout` comments of that order, which no model ever trained on.

use std::path::PathBuf;

use anyhow::Context;

use super::model::read_data;
use crate::cache::ActiveModel;
use crate::classifier::SpamModel;
use crate::classifier::artifact::{Artifact, Provenance};
use crate::classifier::metrics::{self, Metrics};
use crate::classifier::train::{self, TrainOptions, TrainingRow};
use crate::config::Settings;
use crate::domain::dataset::LabelledExample;
use crate::jobs::JobRunner;
use crate::retrain::{ActivatePolicy, BaseData, TrainParams, queue_job};
use crate::storage::{self, Database, DatabaseUrl, training};

#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// The labelled history, JSONL (`{"text", "label"}`), in any order.
    #[arg(long)]
    pub data: PathBuf,
    /// How many random arrival orders to replay (the curve is their mean).
    #[arg(long, default_value_t = 5)]
    pub orders: u64,
    /// After how many labels to retrain and measure (in any order; each is
    /// measured once, the curve printed from the fewest up).
    #[arg(long, value_delimiter = ',', default_value = "0,50,100,200")]
    pub at: Vec<usize>,
    /// Comments at the end of each order kept for evaluation only.
    #[arg(long, default_value_t = 150)]
    pub holdout: usize,
    /// Public base data to learn with instead of the shipped base data
    /// (repeatable): a model trained on it alone is the site's day-one model,
    /// and every retrain adds it to the site's labels. Use it when the history
    /// overlaps the shipped data (the shipped YouTube data holds comments of
    /// all five videos).
    #[arg(long)]
    pub base: Vec<PathBuf>,
}

/// One measurement: an order, a number of labels.
struct Point {
    metrics: Metrics,
    /// The best MCC any threshold would reach on the held-out comments
    /// within each of [`BOUND_FPR`] of ham marked spam
    /// ([`metrics::best_mcc_within`]).
    bound: [f64; 2],
    model: String,
}

/// The shares of ham marked spam the bound columns allow.
const BOUND_FPR: [f64; 2] = [0.01, 0.02];

pub fn replay(args: &ReplayArgs, settings: &Settings) -> anyhow::Result<()> {
    let mut args = args.clone();
    args.at.sort_unstable();
    args.at.dedup();
    let args = &args;
    let rows = read_data(&args.data)?;
    anyhow::ensure!(
        args.holdout > 0,
        "--holdout must be at least 1: the curve is measured on the held-out comments"
    );
    anyhow::ensure!(args.orders > 0, "--orders must be at least 1");
    let largest = args.at.iter().copied().max().unwrap_or(0);
    anyhow::ensure!(
        rows.len() >= args.holdout + largest,
        "{} has {} rows: too few for --holdout {} and {} labels",
        args.data.display(),
        rows.len(),
        args.holdout,
        largest
    );
    ensure_both_classes(
        rows.iter().map(|r| r.is_spam),
        &args.data.display().to_string(),
    )?;
    let (day_one, base) = if args.base.is_empty() {
        (None, BaseData::shipped())
    } else {
        let (model, rows) = base_model(&args.base)?;
        (Some(model), BaseData::rows(rows))
    };
    let scratch = std::env::temp_dir().join(format!("replyguard-replay-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let result = replay_orders(args, settings, &rows, (day_one.as_ref(), &base), &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    print_curve(args, &rows, &result?);
    Ok(())
}

/// Refuses labelled data without both classes: MCC, recall and the
/// false-positive rate are not defined on it.
fn ensure_both_classes(
    labels: impl ExactSizeIterator<Item = bool>,
    what: &str,
) -> anyhow::Result<()> {
    let n = labels.len();
    let spam = labels.filter(|&is_spam| is_spam).count();
    anyhow::ensure!(
        spam > 0 && spam < n,
        "{what}: {spam} spam and {} ham, and both classes are needed",
        n - spam
    );
    Ok(())
}

/// Every order's points, one list per `--at` value.
fn replay_orders(
    args: &ReplayArgs,
    settings: &Settings,
    rows: &[LabelledExample],
    (day_one, base): (Option<&Artifact>, &BaseData),
    scratch: &std::path::Path,
) -> anyhow::Result<Vec<Vec<Point>>> {
    let mut curve: Vec<Vec<Point>> = args.at.iter().map(|_| Vec::new()).collect();
    for order in 0..args.orders {
        let shuffled = shuffled(rows, order);
        let (history, holdout) = shuffled.split_at(shuffled.len() - args.holdout);
        ensure_both_classes(
            holdout.iter().map(|r| r.is_spam),
            &format!("the last {} comments of order {order}", args.holdout),
        )
        .context("use a larger --holdout")?;
        for (slot, &k) in args.at.iter().enumerate() {
            let db_path = scratch.join(format!("order{order}-k{k}.db"));
            let point =
                learn_and_measure(settings, &db_path, (day_one, base), &history[..k], holdout);
            let _ = std::fs::remove_file(&db_path);
            let _ = std::fs::remove_file(db_path.with_extension("db-wal"));
            let _ = std::fs::remove_file(db_path.with_extension("db-shm"));
            let point = point?;
            eprintln!(
                "order {order}, k = {k}: MCC {:.3}, ham marked spam {:.2}%, recall {:.3}, AUC {:.3}, bounds {:.3} / {:.3} (model {})",
                point.metrics.mcc,
                point.metrics.fpr * 100.0,
                point.metrics.recall,
                point.metrics.auc,
                point.bound[0],
                point.bound[1],
                point.model
            );
            curve[slot].push(point);
        }
    }
    Ok(curve)
}

/// The product's learning path on a fresh SQLite database: store `labels` as
/// moderation decisions, retrain (with the base data, gated), evaluate the
/// active model on `holdout`.
fn learn_and_measure(
    settings: &Settings,
    db_path: &std::path::Path,
    (day_one, base): (Option<&Artifact>, &BaseData),
    labels: &[LabelledExample],
    holdout: &[LabelledExample],
) -> anyhow::Result<Point> {
    let url = DatabaseUrl::Sqlite(db_path.to_path_buf());
    let mut site = settings.clone();
    site.database_url = url.clone();
    storage::run_migrations(&url, site.pool_options().timeout)?;
    let db = Database::new(url, &site.pool_options());
    let default_model = match day_one {
        Some(artifact) => SpamModel::from_artifact(artifact.clone())?,
        None => SpamModel::load_or_shipped(site.model_path.as_deref())?,
    };
    let active = ActiveModel::load(db.clone(), default_model)?;
    if !labels.is_empty() {
        let now = storage::now();
        let rows = labels.to_vec();
        db.run_blocking(move |conn| {
            training::import(conn, &rows, training::SOURCE_MODERATION, now)
        })?;
        let params = TrainParams {
            include_base_data: true,
            activate: ActivatePolicy::IfBetter,
        };
        let min = site.min_examples_per_class;
        // Too few labels of a class: the site keeps the model it has, as in
        // production.
        if db
            .run_blocking(move |conn| queue_job(conn, params, min))?
            .is_ok()
        {
            let runner = JobRunner::with_base_data(
                db.clone(),
                active.clone(),
                min,
                crate::metrics::Metrics::new(db.clone()),
                base.clone(),
            );
            runner.run_next_job()?;
            active.reload_if_switched()?;
        }
    }
    let model = active.current();
    let thresholds = site.thresholds(model.thresholds());
    let scored: Vec<(f64, bool)> = holdout
        .iter()
        .map(|e| (model.spam_probability(&train::input(e)), e.is_spam))
        .collect();
    Ok(Point {
        metrics: metrics::evaluate(&scored, thresholds),
        bound: BOUND_FPR.map(|fpr| metrics::best_mcc_within(&scored, fpr)),
        model: model.version().to_owned(),
    })
}

/// The day-one model of a site with `files` as its base data (trained as a
/// retrain trains, on the base alone), and the base rows (source i + 1).
fn base_model(files: &[PathBuf]) -> anyhow::Result<(Artifact, Vec<TrainingRow>)> {
    let mut rows = Vec::new();
    for (i, file) in files.iter().enumerate() {
        rows.extend(
            read_data(file)?
                .into_iter()
                .map(|e| TrainingRow::new(e, i + 1)),
        );
    }
    let provenance = Provenance {
        trained_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        command: "replyguard replay --base".into(),
        data: Vec::new(),
        rows: rows.len(),
        spam: rows.iter().filter(|r| r.is_spam).count(),
        ham: rows.iter().filter(|r| !r.is_spam).count(),
    };
    let names = files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    ensure_both_classes(
        rows.iter().map(|r| r.is_spam),
        &format!("the base data ({names})"),
    )?;
    let artifact = train::train(&rows, &TrainOptions::default(), "replay-base", provenance)
        .with_context(|| format!("cannot train a day-one model on {names}"))?;
    Ok((artifact, rows))
}

/// `rows` in the `order`-th fixed random order (Fisher–Yates with splitmix64,
/// so an order is the same on every machine and every run).
fn shuffled(rows: &[LabelledExample], order: u64) -> Vec<LabelledExample> {
    let mut random = metrics::SplitMix64::new(order);
    let mut out = rows.to_vec();
    for i in (1..out.len()).rev() {
        out.swap(i, random.below(i + 1));
    }
    out
}

fn print_curve(args: &ReplayArgs, rows: &[LabelledExample], curve: &[Vec<Point>]) {
    let spam = rows.iter().filter(|r| r.is_spam).count();
    println!(
        "replay of {} ({} comments, {:.0}% spam), {} order(s), the last {} of each order held out",
        args.data.display(),
        rows.len(),
        100.0 * spam as f64 / rows.len() as f64,
        args.orders,
        args.holdout
    );
    println!();
    println!(
        "| k site labels | MCC | ham marked spam | spam recall | spam published | unsure | ROC AUC | bound: best MCC at <= {:.0}% / {:.0}% | models activated |",
        BOUND_FPR[0] * 100.0,
        BOUND_FPR[1] * 100.0
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (k, points) in args.at.iter().zip(curve) {
        let n = points.len() as f64;
        let mean =
            |f: &dyn Fn(&Metrics) -> f64| points.iter().map(|p| f(&p.metrics)).sum::<f64>() / n;
        let unsure = |m: &Metrics| {
            (m.three_way.ham.unsure + m.three_way.spam.unsure) as f64 / m.n.max(1) as f64
        };
        // Spam below the ham threshold: published without a moderator.
        let published = |m: &Metrics| {
            let spam = &m.three_way.spam;
            spam.ham as f64 / (spam.ham + spam.unsure + spam.spam).max(1) as f64
        };
        let site_models = points
            .iter()
            .filter(|p| p.model.starts_with("site-"))
            .count();
        println!(
            "| {k} | {:.3} | {:.2}% | {:.3} | {:.2}% | {:.1}% | {:.3} | {:.3} / {:.3} | {site_models} of {} |",
            mean(&|m| m.mcc),
            100.0 * mean(&|m| m.fpr),
            mean(&|m| m.recall),
            100.0 * mean(&published),
            100.0 * mean(&unsure),
            mean(&|m| m.auc),
            points.iter().map(|p| p.bound[0]).sum::<f64>() / n,
            points.iter().map(|p| p.bound[1]).sum::<f64>() / n,
            points.len()
        );
    }
}
