//! The `replyguard` command line. `serve` (the default) runs the HTTP service;
//! the other subcommands are operator tools. Settings come from the environment
//! variables of SPEC §2 or the matching flags (`replyguard --help`).

mod admin;
mod model;
mod replay;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::startup::Application;
use crate::{storage, telemetry};

/// Self-hosted backend for website comment forms, with naive-Bayes spam filtering.
#[derive(Debug, Parser)]
#[command(name = "replyguard", version, about)]
pub struct Cli {
    #[command(flatten, next_help_heading = "Service settings (flags or environment)")]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Train a model from labelled JSONL files.
    Train(model::TrainArgs),
    /// Evaluate a model on labelled JSONL data.
    Eval(model::EvalArgs),
    /// Score one text with a model.
    Classify(model::ClassifyArgs),
    /// Create, list or revoke admin tokens.
    #[command(subcommand)]
    Token(admin::TokenCommand),
    /// Import labelled training examples (JSONL) into the database.
    Import(admin::ImportArgs),
    /// Train a new model from the database's labelled examples (like
    /// `POST /api/v1/admin/models/train`) and wait for the result.
    Retrain(admin::RetrainArgs),
    /// Replay a labelled history through the learning path and print the
    /// learning curve (what replyguard would have done on it).
    Replay(replay::ReplayArgs),
}

/// Refuses a SQLite database file that does not exist, for commands that
/// read one (the service, `migrate` and `import` create it on first use).
fn ensure_database_exists(settings: &Settings, why: &str) -> anyhow::Result<()> {
    if let crate::storage::DatabaseUrl::Sqlite(path) = &settings.database_url {
        anyhow::ensure!(
            path.exists(),
            "the database {} does not exist: {why}",
            settings.database_url
        );
    }
    Ok(())
}

/// Runs the command line and turns its outcome into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.settings.log_format == "json";
    let quiet = matches!(
        cli.command,
        Some(Command::Eval(_) | Command::Classify(_) | Command::Replay(_))
    );
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    telemetry::init(
        json,
        ansi,
        if quiet { "warn" } else { "info" },
        std::io::stderr,
    );
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.settings),
        Command::Migrate => {
            let applied = storage::run_migrations(
                &cli.settings.database_url,
                cli.settings.pool_options().timeout,
            )
            .with_context(|| format!("cannot migrate {}", cli.settings.database_url))?;
            println!(
                "{} migration(s) applied to {}",
                applied.len(),
                cli.settings.database_url
            );
            Ok(())
        }
        Command::Train(args) => model::train(&args),
        Command::Eval(args) => model::eval(&args, &cli.settings),
        Command::Classify(args) => model::classify(&args, &cli.settings),
        Command::Token(command) => admin::token(&command, &cli.settings),
        Command::Import(args) => admin::import(&args, &cli.settings),
        Command::Retrain(args) => admin::retrain(&args, &cli.settings),
        Command::Replay(args) => replay::replay(&args, &cli.settings),
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).await?;
        app.run_until_stopped().await
    })
}
