//! Building and running the HTTP server: migrations first, then the pool, the
//! model, the listener; graceful shutdown on SIGINT/SIGTERM.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use actix_cors::Cors;
use actix_web::dev::{Server, Service};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{App, HttpMessage, HttpServer, web};
use anyhow::Context;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::cache::{self, ActiveModel, KeywordCache};
use crate::classifier::SpamModel;
use crate::config::Settings;
use crate::error::json_error_handlers;
use crate::jobs::JobRunner;
use crate::routes::{self, limits};
use crate::state::AppState;
use crate::storage::{self, Database};
use crate::telemetry::RequestSpan;

/// Seconds in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_TIMEOUT_SECONDS: u64 = 30;

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Runs migrations, loads the model and binds the listener (port 0 picks a
    /// free port, which tests use).
    ///
    /// # Errors
    /// Invalid settings, an unreachable database, a failed migration, a missing or
    /// invalid model, or an address that cannot be bound.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate().map_err(anyhow::Error::msg)?;
        let (url, timeout) = (
            settings.database_url.clone(),
            settings.pool_options().timeout,
        );
        let applied = tokio::task::spawn_blocking(move || storage::run_migrations(&url, timeout))
            .await
            .context("migration task failed")?
            .with_context(|| format!("cannot prepare the database {}", settings.database_url))?;
        for name in &applied {
            tracing::info!(migration = %name, "applied migration");
        }
        let default_model = SpamModel::load_or_shipped(settings.model_path.as_deref())
            .context("the default model does not load")?;
        let db = Database::new(settings.database_url.clone(), &settings.pool_options());
        let model = {
            let db = db.clone();
            tokio::task::spawn_blocking(move || ActiveModel::load(db, default_model))
                .await
                .context("model task failed")?
                .context("cannot load the active model")?
        };
        let keywords = {
            let db = db.clone();
            let files = (
                settings.moderation_keys_file.clone(),
                settings.disallowed_keys_file.clone(),
            );
            tokio::task::spawn_blocking(move || {
                KeywordCache::load(db, files.0.as_ref(), files.1.as_ref())
            })
            .await
            .context("keyword task failed")??
        };
        cache::spawn_refresh(model.clone(), keywords.clone());
        JobRunner::new(db.clone(), model.clone(), settings.min_examples_per_class).spawn();
        let settings = Arc::new(settings);
        let limit =
            limits::rate_limit(settings.clone()).context("the rate limit settings are invalid")?;
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        tracing::info!(address = %listener.local_addr()?, backend = db.url().backend(), "listening");
        let state = web::Data::new(AppState {
            db,
            settings,
            model,
            keywords,
            akismet_checks: AtomicU64::new(0),
        });
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
                .expose_headers([HeaderName::from_static("x-request-id")])
                .block_on_origin_mismatch(false)
                .max_age(3600);
            App::new()
                .app_data(state.clone())
                .configure(|cfg| routes::configure(cfg, &limit))
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
