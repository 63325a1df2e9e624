//! Settings, read from the environment variables of SPEC §2 (or the matching
//! command-line flags), typed and validated once at start-up. Defaults make
//! `cargo run` work with no configuration: SQLite under `./data/`, the shipped
//! model, `127.0.0.1:8080`. Settings are passed explicitly; there is no global.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;

use crate::domain::{ModerationPolicy, Thresholds};
use crate::storage::{DatabaseUrl, PoolOptions};

/// Everything the service reads from its environment.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Database: `postgres://…` for PostgreSQL, `sqlite://PATH` (or a plain path)
    /// for SQLite, created on first start.
    #[arg(long, global = true, env = "DATABASE_URL", default_value = "sqlite://data/replyguard.db",
          value_parser = parse_database_url, hide_env_values = true)]
    pub database_url: DatabaseUrl,

    /// Most database connections per instance.
    #[arg(long, global = true, env = "REPLYGUARD_DB_POOL_SIZE", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_pool_size: u32,

    /// Milliseconds a request waits for a database connection (and SQLite for its
    /// write lock) before it is answered 503 `unavailable`.
    #[arg(long, global = true, env = "REPLYGUARD_DB_TIMEOUT_MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(50..=600_000))]
    pub db_timeout_ms: u64,

    /// Bootstrap admin token, accepted as a Bearer token (other tokens come from
    /// `replyguard token create NAME`).
    #[arg(
        long,
        global = true,
        env = "REPLYGUARD_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<SecretString>,

    /// Bearer token required on `GET /metrics` (none: open, as `/healthz`).
    #[arg(
        long,
        global = true,
        env = "REPLYGUARD_METRICS_TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<SecretString>,

    /// Address and port to serve on.
    #[arg(
        long,
        global = true,
        env = "REPLYGUARD_BIND",
        default_value = "127.0.0.1:8080"
    )]
    pub bind: String,

    /// Site origins (`https://blog.example`) allowed for CORS and for form
    /// redirects, comma-separated.
    #[arg(long, global = true, env = "REPLYGUARD_ALLOWED_ORIGINS", value_delimiter = ',',
          value_parser = parse_origin)]
    pub allowed_origins: Vec<String>,

    /// Proxies (CIDRs or addresses, comma-separated) whose `X-Forwarded-For` is
    /// believed. From anyone else the peer address is the client IP.
    #[arg(long, global = true, env = "REPLYGUARD_TRUSTED_PROXIES", value_delimiter = ',',
          value_parser = parse_net)]
    pub trusted_proxies: Vec<IpNet>,

    /// What happens to a comment no rule holds: `manual`, `known-authors` or `auto`.
    #[arg(long, global = true, env = "REPLYGUARD_MODERATION", default_value = "known-authors",
          value_parser = parse_policy)]
    pub moderation: ModerationPolicy,

    /// Spam score at or above which a comment is spam [default: the model's].
    #[arg(long, global = true, env = "REPLYGUARD_SPAM_THRESHOLD", value_parser = parse_probability)]
    pub spam_threshold: Option<f64>,

    /// Spam score at or above which a comment is held for a moderator
    /// [default: the model's].
    #[arg(long, global = true, env = "REPLYGUARD_HAM_THRESHOLD", value_parser = parse_probability)]
    pub ham_threshold: Option<f64>,

    /// Spam score at or above which the Akismet-compatible `comment-check`
    /// calls a comment blatant (`X-akismet-pro-tip: discard`).
    #[arg(long, global = true, env = "REPLYGUARD_DISCARD_THRESHOLD", default_value_t = 0.99,
          value_parser = parse_probability)]
    pub discard_threshold: f64,

    /// Minimum seconds between two stored comments from the same client IP or
    /// email (0 disables flood control).
    #[arg(
        long,
        global = true,
        env = "REPLYGUARD_FLOOD_SECONDS",
        default_value_t = 15
    )]
    pub flood_seconds: u64,

    /// Comment submissions per minute one client IP may make (0 disables the
    /// limit; admin endpoints are never limited).
    #[arg(
        long,
        global = true,
        env = "REPLYGUARD_RATE_LIMIT_PER_MINUTE",
        default_value_t = 60
    )]
    pub rate_limit_per_minute: u64,

    /// Requests a client IP may make in a burst before the per-minute rate applies.
    #[arg(long, global = true, env = "REPLYGUARD_RATE_LIMIT_BURST", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_burst: u32,

    /// Public reads (comments, counts, the demo page) per minute one client IP
    /// may make: far more than submissions, since a site's server or many
    /// readers behind one proxy read from one address (0 disables the limit).
    #[arg(
        long,
        global = true,
        env = "REPLYGUARD_READ_RATE_LIMIT_PER_MINUTE",
        default_value_t = 6000
    )]
    pub read_rate_limit_per_minute: u64,

    /// Reads a client IP may make in a burst before the per-minute read rate applies.
    #[arg(long, global = true, env = "REPLYGUARD_READ_RATE_LIMIT_BURST", default_value_t = 600,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub read_rate_limit_burst: u32,

    /// File of moderation keywords (one per line) that seeds the shared list
    /// the first time the service starts with it; later edits go through
    /// `PUT /api/v1/admin/settings/keywords`.
    #[arg(long, global = true, env = "REPLYGUARD_MODERATION_KEYS_FILE")]
    pub moderation_keys_file: Option<PathBuf>,

    /// File of disallowed keywords (one per line), seeding like the moderation keys.
    #[arg(long, global = true, env = "REPLYGUARD_DISALLOWED_KEYS_FILE")]
    pub disallowed_keys_file: Option<PathBuf>,

    /// Most links a comment may hold before it is held for a moderator.
    #[arg(long, global = true, env = "REPLYGUARD_MAX_LINKS", default_value_t = 2)]
    pub max_links: usize,

    /// Fewest labelled ham a training job accepts, with one spam when it
    /// trains with the base data and this many spam without: by default the
    /// calibration's fold count, the fewest the recipe can train with (the
    /// gate decides whether such a model is good enough).
    #[arg(
        long,
        global = true,
        env = "REPLYGUARD_MIN_EXAMPLES_PER_CLASS",
        default_value_t = 5,
        value_parser = parse_at_least_one
    )]
    pub min_examples_per_class: usize,

    /// Queue a training job by itself once this many labelled examples
    /// (moderators' decisions, imports, Akismet reports) were added since the
    /// last job; 0 trains only when asked. The gate still decides whether the
    /// new model becomes active.
    #[arg(
        long,
        global = true,
        env = "REPLYGUARD_RETRAIN_AFTER_LABELS",
        default_value_t = 50
    )]
    pub retrain_after_labels: usize,

    /// Model artifact to score with [default: the model shipped in the binary,
    /// `models/spam_nb-v1.json`].
    #[arg(long, global = true, env = "REPLYGUARD_MODEL_PATH")]
    pub model_path: Option<PathBuf>,

    /// Log output: `pretty` (for people) or `json` (for collectors). The filter is `RUST_LOG`.
    #[arg(long, global = true, env = "REPLYGUARD_LOG_FORMAT", default_value = "pretty",
          value_parser = ["pretty", "json"])]
    pub log_format: String,
}

impl Settings {
    /// Settings as `cargo run` gets them: the environment, else every default.
    ///
    /// # Errors
    /// An environment variable with an invalid value.
    pub fn from_env() -> Result<Self, clap::Error> {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            settings: Settings,
        }
        <Only as clap::Parser>::try_parse_from(["replyguard"]).map(|only| only.settings)
    }

    /// Checks rules that span several settings.
    ///
    /// # Errors
    /// A sentence naming the variables in conflict.
    pub fn validate(&self) -> Result<(), String> {
        if let (Some(spam), Some(ham)) = (self.spam_threshold, self.ham_threshold)
            && ham > spam
        {
            return Err(format!(
                "REPLYGUARD_HAM_THRESHOLD ({ham}) must not be above REPLYGUARD_SPAM_THRESHOLD ({spam})"
            ));
        }
        Ok(())
    }

    /// Pool settings derived from these settings.
    pub fn pool_options(&self) -> PoolOptions {
        PoolOptions {
            max_size: self.db_pool_size,
            timeout: Duration::from_millis(self.db_timeout_ms),
        }
    }

    /// The thresholds in force: those set here, else the model's own.
    pub fn thresholds(&self, model_default: Thresholds) -> Thresholds {
        let spam = self.spam_threshold.unwrap_or(model_default.spam);
        let ham = self.ham_threshold.unwrap_or(model_default.ham).min(spam);
        Thresholds { spam, ham }
    }

    /// True when `ip` is one of the trusted proxies.
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// True when `origin` (as `scheme://host[:port]`) is an allowed site origin.
    pub fn is_allowed_origin(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|allowed| allowed == origin)
    }
}

fn parse_database_url(raw: &str) -> Result<DatabaseUrl, String> {
    DatabaseUrl::parse(raw).map_err(|err| err.to_string())
}

/// Normalizes `https://Blog.Example/` to `https://blog.example`.
fn parse_origin(raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw.trim())
        .map_err(|err| format!("`{raw}` is not an origin like https://blog.example: {err}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "`{raw}` is not an http(s) origin like https://blog.example"
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{raw}` must be an origin only (no path), like https://blog.example"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

fn parse_net(raw: &str) -> Result<IpNet, String> {
    let raw = raw.trim();
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{raw}` is not an address or CIDR such as 10.0.0.0/8"))
}

fn parse_policy(raw: &str) -> Result<ModerationPolicy, String> {
    match raw.trim() {
        "manual" => Ok(ModerationPolicy::Manual),
        "known-authors" => Ok(ModerationPolicy::KnownAuthors),
        "auto" => Ok(ModerationPolicy::Auto),
        other => Err(format!(
            "`{other}` is not one of manual, known-authors, auto"
        )),
    }
}

fn parse_probability(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("`{raw}` is not a number between 0 and 1")),
    }
}

/// A count that must be at least 1 (a job trained from no ham at all is no
/// job: linfa needs both classes).
fn parse_at_least_one(raw: &str) -> Result<usize, String> {
    match raw.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{raw}` is not a whole number of at least 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_environment() {
        let s = Settings::from_env().unwrap();
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert_eq!(
            s.database_url,
            DatabaseUrl::Sqlite(PathBuf::from("data/replyguard.db"))
        );
        assert_eq!(s.moderation, ModerationPolicy::KnownAuthors);
        assert_eq!(s.max_links, 2);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn origins_are_normalized_and_paths_refused() {
        assert_eq!(
            parse_origin("https://Blog.Example/"),
            Ok("https://blog.example".into())
        );
        assert_eq!(
            parse_origin("http://localhost:3000"),
            Ok("http://localhost:3000".into())
        );
        assert!(parse_origin("https://blog.example/post").is_err());
        assert!(parse_origin("ftp://blog.example").is_err());
        assert!(parse_origin("blog.example").is_err());
    }

    #[test]
    fn a_job_needs_at_least_one_example_of_a_class() {
        assert_eq!(parse_at_least_one("5"), Ok(5));
        assert!(parse_at_least_one("0").is_err());
        assert!(parse_at_least_one("-1").is_err());
    }

    #[test]
    fn proxies_accept_cidrs_and_bare_addresses() {
        assert!(parse_net("10.0.0.0/8").is_ok());
        assert_eq!(parse_net("127.0.0.1").map(|n| n.prefix_len()), Ok(32));
        assert!(parse_net("nonsense").is_err());
    }

    #[test]
    fn thresholds_must_be_probabilities_in_order() {
        assert!(parse_probability("1.5").is_err());
        let mut s = Settings::from_env().unwrap();
        s.spam_threshold = Some(0.5);
        s.ham_threshold = Some(0.8);
        assert!(s.validate().is_err());
    }

    /// `.env.example` documents every variable the service reads.
    #[test]
    fn env_example_lists_every_variable() {
        let example = include_str!("../.env.example");
        let command = <super::super::cli::Cli as clap::CommandFactory>::command();
        for arg in command.get_arguments() {
            if let Some(name) = arg.get_env().and_then(|n| n.to_str()) {
                assert!(
                    example.contains(&format!("# {name}=")),
                    "{name} missing from .env.example"
                );
            }
        }
        assert!(
            example.contains("# RUST_LOG="),
            "RUST_LOG missing from .env.example"
        );
    }
}
