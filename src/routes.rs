//! The HTTP surface: the single route table, shared state and request limits.

pub mod admin;
pub mod body;
pub mod client;
pub mod comments;
pub mod cursor;
pub mod form;
pub mod health;
pub mod limits;
pub mod public;
pub mod render;

use std::sync::Arc;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::web;
use arc_swap::ArcSwap;

use crate::classifier::SpamModel;
use crate::config::Settings;
use crate::domain::keywords::KeywordMatcher;
use crate::error::ApiError;
use crate::lifecycle::Lifecycle;
use crate::storage::Database;

/// Largest request body accepted (SPEC §3).
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// State shared by every worker.
pub struct AppState {
    pub db: Database,
    pub settings: Arc<Settings>,
    /// The active model. A request loads one snapshot and finishes on it, so a
    /// swap never affects a request in flight.
    pub models: Arc<ArcSwap<SpamModel>>,
    /// Training jobs, activation and the hot swap of `models`.
    pub lifecycle: Arc<Lifecycle>,
    /// The keyword lists, rebuilt when their version in the database changes.
    pub keywords: Arc<ArcSwap<KeywordMatcher>>,
}

/// Registers every route, with extractor errors turned into the JSON envelope
/// and the public endpoints behind the per-IP rate limit.
pub fn configure(cfg: &mut web::ServiceConfig, limit: &limits::RateLimit) {
    let limited = || actix_governor::Governor::new(limit);
    cfg.app_data(web::PayloadConfig::new(BODY_LIMIT_BYTES))
        .app_data(web::PathConfig::default().error_handler(|err, _| {
            ApiError::NotFound(format!("There is nothing at this address: {err}.")).into()
        }))
        .app_data(web::QueryConfig::default().error_handler(|err, _| {
            ApiError::MalformedRequest(format!("The query string could not be read: {err}.")).into()
        }))
        .app_data(
            web::JsonConfig::default()
                .limit(BODY_LIMIT_BYTES)
                .error_handler(|err, _| json_error(&err).into()),
        )
        .service(
            web::resource("/healthz")
                .get(health::healthz)
                .route(web::head().to(health::healthz)),
        )
        .service(
            web::resource("/readyz")
                .get(health::readyz)
                .route(web::head().to(health::readyz)),
        )
        .service(
            web::resource("/api/v1/comments")
                .wrap(limited())
                .wrap_fn(|req, srv| {
                    let call = srv.call(req);
                    async move {
                        let response = call.await?.map_into_boxed_body();
                        let (req, response) = response.into_parts();
                        let response = limits::page_for_form_posts(&req, response);
                        Ok(ServiceResponse::new(req, response))
                    }
                })
                .post(comments::submit_comment),
        )
        .service(
            web::resource("/api/v1/posts/{post_id}/comments")
                .wrap(limited())
                .get(public::list_comments),
        )
        .service(
            web::resource("/api/v1/posts/{post_id}/comments/count")
                .wrap(limited())
                .get(public::count_comments),
        )
        .service(
            web::scope("/api/v1/admin")
                .service(web::resource("/comments").get(admin::list_comments))
                .service(web::resource("/comments/bulk").post(admin::bulk_update))
                .service(
                    web::resource("/comments/{id}")
                        .get(admin::get_comment)
                        .patch(admin::patch_comment)
                        .delete(admin::delete_comment),
                )
                .service(web::resource("/comments/{id}/events").get(admin::get_events))
                .service(web::resource("/stats").get(admin::stats))
                .service(web::resource("/models").get(admin::models::list_models))
                .service(web::resource("/models/train").post(admin::models::train))
                .service(web::resource("/models/{version}/activate").post(admin::models::activate))
                .service(web::resource("/jobs/{id}").get(admin::models::get_job))
                .service(
                    web::resource("/settings/keywords")
                        .get(admin::keywords::get_keywords)
                        .put(admin::keywords::put_keywords),
                )
                .service(web::resource("/training-examples").post(admin::training::import_examples))
                .service(
                    web::resource("/training-examples/stats").get(admin::training::example_stats),
                ),
        );
}

fn json_error(err: &actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError;
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::PayloadTooLarge
        }
        JsonPayloadError::ContentType => {
            ApiError::UnsupportedMediaType("Send the body as application/json.".into())
        }
        other => ApiError::MalformedRequest(format!("The JSON body could not be read: {other}.")),
    }
}
