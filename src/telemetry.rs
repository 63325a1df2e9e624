//! Tracing set-up: an env filter from `RUST_LOG` (default `info`) and either
//! human-readable or JSON lines. Comment bodies, emails and secrets are never
//! logged anywhere in the crate; log lengths or ids instead.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the global subscriber. Safe to call more than once: later calls
/// keep the first subscriber (tests spawn many apps in one process).
pub fn init<W>(json: bool, default_filter: &str, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    // `try_init` fails only when a subscriber is already installed.
    let _already_set = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
