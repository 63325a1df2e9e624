//! Building and running the HTTP server: migrations first, then the pool, the
//! model, the listener; graceful shutdown on SIGINT/SIGTERM.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::{Server, Service};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{App, HttpMessage, HttpServer, web};
use anyhow::Context;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::cache::keywords::SeedError;
use crate::cache::{self, ActiveModel, CacheError, KeywordCache, PublicCache};
use crate::classifier::SpamModel;
use crate::config::Settings;
use crate::error::json_error_handlers;
use crate::jobs::JobRunner;
use crate::metrics::Metrics;
use crate::routes::{self, limits};
use crate::state::AppState;
use crate::storage::{self, Database, DatabaseUrl, StorageError, submissions};
use crate::telemetry::RequestSpan;

/// Seconds in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_TIMEOUT_SECONDS: u64 = 30;

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Loads the default model, binds the listener (port 0 picks a free port,
    /// which tests use) and prepares the database: migrations, the active
    /// model, the keyword lists. A database that does not answer yet is waited
    /// for in the background, with a log line per try: meanwhile `/healthz`
    /// answers and everything else gets 503 `unavailable`, so a service
    /// started before its database comes up by itself.
    ///
    /// # Errors
    /// Invalid settings, a failed migration, a missing or invalid model or
    /// keyword file, or an address that cannot be bound.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate().map_err(anyhow::Error::msg)?;
        let default_model = SpamModel::load_or_shipped(settings.model_path.as_deref())
            .context("the default model does not load")?;
        let db = Database::new(settings.database_url.clone(), &settings.pool_options());
        let model = ActiveModel::new(db.clone(), default_model);
        let keywords = KeywordCache::new(db.clone());
        let public = Arc::new(PublicCache::new(db.clone()));
        let metrics = Metrics::new(db.clone());
        let settings = Arc::new(settings);
        let limit = limits::rate_limit(settings.clone(), metrics.clone(), limits::Limited::Writes)
            .context("the rate limit settings are invalid")?;
        let read_limit =
            limits::rate_limit(settings.clone(), metrics.clone(), limits::Limited::Reads)
                .context("the read rate limit settings are invalid")?;
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let submissions =
            matches!(db.url(), DatabaseUrl::Postgres(_)).then(|| submissions::queue(&db));
        let state = web::Data::new(AppState {
            db,
            submissions,
            settings,
            model,
            keywords,
            public,
            akismet_checks: AtomicU64::new(0),
            ready: AtomicBool::new(false),
            metrics,
        });
        match prepare(&state).await {
            Ok(()) => start_background_work(&state),
            Err(Prepare::Fatal(err)) => return Err(err),
            Err(Prepare::Unavailable(err)) => {
                tracing::warn!(error = %err, "the database does not answer yet; waiting for it");
                let state = state.clone();
                actix_web::rt::spawn(async move { wait_for_database(state).await });
            }
        }
        tracing::info!(address = %listener.local_addr()?, backend = state.db.url().backend(), "listening");
        let server = HttpServer::new(move || {
            let origins = state.settings.allowed_origins.clone();
            let cors = Cors::default()
                .allowed_origin_fn(move |origin, _| {
                    origin
                        .to_str()
                        .is_ok_and(|o| origins.iter().any(|a| a == o))
                })
                .allowed_methods(["GET", "POST"])
                .allowed_headers([header::CONTENT_TYPE, header::ACCEPT])
                .expose_headers([
                    HeaderName::from_static("x-request-id"),
                    header::RETRY_AFTER,
                    header::ETAG,
                ])
                .block_on_origin_mismatch(false)
                .max_age(3600);
            App::new()
                .app_data(state.clone())
                .configure(|cfg| routes::configure(cfg, &limit, &read_limit))
                .wrap(actix_web::middleware::from_fn(routes::require_ready))
                .wrap(actix_web::middleware::from_fn(routes::count_requests))
                .wrap(actix_web::middleware::from_fn(
                    routes::refuse_non_utf8_paths,
                ))
                // CORS refusals (preflights from other origins) leave as JSON too.
                .wrap(cors)
                .wrap(json_error_handlers())
                .wrap_fn(|req, srv| {
                    let id = req.extensions().get::<RequestId>().copied();
                    let fut = srv.call(req);
                    async move {
                        let mut res = fut.await?;
                        if let Some(id) =
                            id.and_then(|id| HeaderValue::from_str(&id.to_string()).ok())
                        {
                            res.headers_mut()
                                .insert(HeaderName::from_static("x-request-id"), id);
                        }
                        Ok(res)
                    }
                })
                .wrap(TracingLogger::<RequestSpan>::new())
        })
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECONDS)
        .listen(listener)?
        .run();
        Ok(Self { port, server })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT or SIGTERM, then lets in-flight requests finish.
    ///
    /// # Errors
    /// The server failing, or signal handlers that cannot be installed.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        let signal = shutdown_signal().await?;
        tracing::info!(signal, "shutting down, draining in-flight requests");
        handle.stop(true).await;
        server.await.context("server task failed")??;
        tracing::info!("shutdown complete");
        Ok(())
    }

    /// Serves until the server stops by itself (tests drop the runtime instead).
    ///
    /// # Errors
    /// The server failing.
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Why the database could not be prepared.
enum Prepare {
    /// Not reachable yet: try again later.
    Unavailable(anyhow::Error),
    /// Wrong in a way waiting does not mend (a failed migration, a bad file).
    Fatal(anyhow::Error),
}

/// Migrations, the active model and the keyword lists, then `ready`.
async fn prepare(state: &web::Data<AppState>) -> Result<(), Prepare> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let url = &state.settings.database_url;
        let applied =
            storage::run_migrations(url, state.settings.pool_options().timeout).map_err(|err| {
                let unavailable = matches!(err, StorageError::Unavailable(_));
                let err =
                    anyhow::Error::new(err).context(format!("cannot prepare the database {url}"));
                if unavailable {
                    Prepare::Unavailable(err)
                } else {
                    Prepare::Fatal(err)
                }
            })?;
        for name in &applied {
            tracing::info!(migration = %name, "applied migration");
        }
        state
            .model
            .reload_or_default()
            .map_err(|err| Prepare::Unavailable(err.into()))?;
        let settings = &state.settings;
        state
            .keywords
            .seed_and_load(
                settings.moderation_keys_file.as_ref(),
                settings.disallowed_keys_file.as_ref(),
            )
            .map_err(|err| match err {
                SeedError::Cache(CacheError::Storage(StorageError::Unavailable(_))) => {
                    Prepare::Unavailable(err.into())
                }
                other => Prepare::Fatal(other.into()),
            })?;
        state.ready.store(true, Ordering::Release);
        Ok(())
    })
    .await
    .map_err(|err| Prepare::Fatal(err.into()))?
}

/// Retries [`prepare`] with backoff (1 s doubling to 30 s) until the database
/// answers; a fatal error then (a failed migration) stops the process.
async fn wait_for_database(state: web::Data<AppState>) {
    let mut delay = Duration::from_secs(1);
    loop {
        actix_web::rt::time::sleep(delay).await;
        match prepare(&state).await {
            Ok(()) => {
                tracing::info!("the database answers: ready");
                start_background_work(&state);
                return;
            }
            Err(Prepare::Unavailable(err)) => {
                delay = (delay * 2).min(Duration::from_secs(30));
                tracing::warn!(error = %err, retry_in_seconds = delay.as_secs(), "the database does not answer yet");
            }
            Err(Prepare::Fatal(err)) => {
                tracing::error!(error = %format!("{err:#}"), "cannot prepare the database; stopping");
                std::process::exit(1);
            }
        }
    }
}

/// The cache poll and the training-job worker, once the database is ready.
fn start_background_work(state: &web::Data<AppState>) {
    cache::spawn_refresh(
        state.model.clone(),
        state.keywords.clone(),
        state.public.clone(),
    );
    JobRunner::new(
        state.db.clone(),
        state.model.clone(),
        state.settings.min_examples_per_class,
        state.metrics.clone(),
    )
    .spawn(state.settings.retrain_after_labels);
    // The queue depth for /metrics: one count every 30 s per instance, never
    // one per scrape.
    let state = state.clone();
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(Duration::from_secs(30));
        loop {
            interval.tick().await;
            if let Ok(pending) = state.db.run(storage::moderation::count_pending).await {
                state.metrics.pending_comments.set(pending);
            }
        }
    });
}

async fn shutdown_signal() -> anyhow::Result<&'static str> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => {
            result.context("cannot install the SIGINT handler")?;
            Ok("SIGINT")
        }
        _ = terminate.recv() => Ok("SIGTERM"),
    }
}
