//! `token` and `import`: operator tools that talk to the database directly.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::auth;
use crate::cache::ActiveModel;
use crate::classifier::SpamModel;
use crate::cli::model::read_data;
use crate::config::Settings;
use crate::jobs::JobRunner;
use crate::metrics::Metrics;
use crate::retrain::{ActivatePolicy, TrainParams, queue_job};
use crate::storage::{self, Database, DbConn, StorageError, models, tokens, training};

#[derive(Debug, Clone, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once and stored only as a hash.
    Create {
        /// A name for the moderator or tool; recorded with every decision.
        name: String,
        /// Only for the Akismet-compatible endpoints (a site's plugin): the
        /// admin API answers it 403.
        #[arg(long)]
        akismet_only: bool,
    },
    /// List tokens (names and dates, never the tokens).
    List,
    /// Revoke a token: requests with it get 403 from then on.
    Revoke { name: String },
}

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// JSONL (or JSON array) of `{"content"|"text", "label": "spam"|"ham", …}`.
    pub file: PathBuf,
}

fn with_connection<T>(
    settings: &Settings,
    f: impl FnOnce(&mut DbConn) -> Result<T, StorageError>,
) -> anyhow::Result<T> {
    storage::run_migrations(&settings.database_url, settings.pool_options().timeout)
        .with_context(|| format!("cannot prepare the database {}", settings.database_url))?;
    let db = Database::new(settings.database_url.clone(), &settings.pool_options());
    Ok(db.run_blocking(f)?)
}

pub fn token(command: &TokenCommand, settings: &Settings) -> anyhow::Result<()> {
    let now = crate::storage::now();
    match command {
        TokenCommand::Create { name, akismet_only } => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
                bail!("a token name must be 1 to 100 printable characters");
            }
            if name.eq_ignore_ascii_case(auth::BOOTSTRAP_ACTOR) {
                bail!(
                    "`{name}` is reserved: the audit trail names REPLYGUARD_ADMIN_TOKEN's actions so"
                );
            }
            let token = auth::generate_token().context("no randomness available")?;
            let hash = auth::hash_token(&token);
            let scope = if *akismet_only {
                auth::TokenScope::Akismet
            } else {
                auth::TokenScope::Admin
            };
            let created = with_connection(settings, |conn| {
                tokens::insert_with_scope(conn, &name, &hash, scope.as_str(), now)
            })?;
            if !created {
                bail!(
                    "a token named `{name}` exists or existed; names stay taken after \
                     `token revoke` so the audit trail never confuses two tokens: choose another"
                );
            }
            println!("{token}");
            eprintln!("token `{name}` created; it is shown only this once");
        }
        TokenCommand::List => {
            let all = with_connection(settings, tokens::list)?;
            let stamp = |at: chrono::NaiveDateTime| {
                at.and_utc()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            };
            let width = all
                .iter()
                .map(|t| t.name.chars().count())
                .chain([4])
                .max()
                .unwrap_or(4);
            println!(
                "{:<width$}  {:<7}  {:<20}  revoked",
                "name", "scope", "created"
            );
            for t in all {
                let revoked = t.revoked_at.map_or_else(|| "-".to_owned(), stamp);
                println!(
                    "{:<width$}  {:<7}  {:<20}  {revoked}",
                    t.name,
                    t.scope,
                    stamp(t.created_at)
                );
            }
        }
        TokenCommand::Revoke { name } => {
            let target = name.clone();
            if !with_connection(settings, move |conn| tokens::revoke(conn, &target, now))? {
                bail!("no active token is named `{name}`");
            }
            println!("revoked `{name}`");
        }
    }
    Ok(())
}

pub fn import(args: &ImportArgs, settings: &Settings) -> anyhow::Result<()> {
    let examples = read_data(&args.file)?;
    let now = crate::storage::now();
    let (imported, duplicates) = with_connection(settings, move |conn| {
        training::import(conn, &examples, training::SOURCE_IMPORT, now)
    })?;
    println!("imported {imported}, skipped {duplicates} duplicate(s)");
    Ok(())
}

#[derive(Debug, Clone, clap::Args)]
pub struct RetrainArgs {
    /// Activate the new model even if it is worse than the active one.
    #[arg(long)]
    pub always: bool,
    /// Train on the site's labelled examples only, without the shipped base data.
    #[arg(long)]
    pub no_base_data: bool,
}

/// Queues a training job and runs it here (or waits for the instance that runs
/// it), for cron-style retraining. Prints the job's outcome as JSON.
pub fn retrain(args: &RetrainArgs, settings: &Settings) -> anyhow::Result<()> {
    // A mistyped path would otherwise become a new, empty database.
    super::ensure_database_exists(
        settings,
        "retrain learns from an existing database's labels",
    )?;
    let params = TrainParams {
        include_base_data: !args.no_base_data,
        activate: if args.always {
            ActivatePolicy::Always
        } else {
            ActivatePolicy::IfBetter
        },
    };
    let min = settings.min_examples_per_class;
    let job_id = with_connection(settings, move |conn| queue_job(conn, params, min))?
        .map_err(anyhow::Error::msg)?;
    let default_model = SpamModel::load_or_shipped(settings.model_path.as_deref())?;
    let db = Database::new(settings.database_url.clone(), &settings.pool_options());
    let runner = JobRunner::new(
        db.clone(),
        ActiveModel::load(db.clone(), default_model)?,
        min,
        Metrics::new(db.clone()),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3600);
    loop {
        runner.run_next_job()?;
        let job = db
            .run_blocking(move |conn| models::find_job(conn, job_id))?
            .context("the job disappeared")?;
        if matches!(job.status.as_str(), "succeeded" | "failed") {
            println!(
                "{}",
                serde_json::json!({
                    "job_id": job.id,
                    "status": job.status,
                    "model_version": job.model_version,
                    "activated": job.activated,
                    "reason": job.reason,
                    "error": job.error,
                    "metrics": job.metrics.and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok()),
                })
            );
            if job.status == "failed" {
                bail!("training job {job_id} failed");
            }
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            bail!("training job {job_id} did not finish within an hour");
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}
