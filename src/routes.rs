//! The HTTP surface: the single route table. Handlers decode requests, call
//! the workflow or storage function that does the work, and respond; they
//! open no transaction and name no diesel type.

pub mod admin;
pub mod akismet;
pub mod auth;
pub mod body;
pub mod client;
pub mod comments;
pub mod cursor;
pub mod etag;
pub mod form;
pub mod health;
pub mod limits;
pub mod pages;
pub mod public;
pub mod render;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use crate::error::ApiError;
use crate::state::AppState;

/// Registers every route, with extractor errors turned into the JSON envelope
/// and the public endpoints behind the per-IP rate limits (one for
/// submissions, a far higher one for reads).
pub fn configure(
    cfg: &mut web::ServiceConfig,
    limit: &limits::RateLimit,
    read_limit: &limits::RateLimit,
) {
    let limited = || actix_governor::Governor::new(limit);
    let read_limited = || actix_governor::Governor::new(read_limit);
    cfg.app_data(web::PathConfig::default().error_handler(|err, _| {
        ApiError::NotFound(format!("There is nothing at this address: {err}.")).into()
    }))
    .app_data(web::QueryConfig::default().error_handler(|err, _| {
        ApiError::MalformedRequest(format!("The query string could not be read: {err}.")).into()
    }))
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
        web::resource("/metrics")
            .get(health::metrics)
            .route(web::head().to(health::metrics)),
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
            .wrap(read_limited())
            .get(public::list_comments),
    )
    .service(
        web::resource("/api/v1/posts/{post_id}/comments/count")
            .wrap(read_limited())
            .get(public::count_comments),
    )
    // Web pages (SPEC §10).
    .service(web::resource("/admin").get(pages::add_slash))
    .service(web::resource("/demo").get(pages::add_slash))
    .service(
        web::resource("/demo/")
            .wrap(read_limited())
            .get(pages::demo),
    )
    .configure(|cfg| {
        for path in pages::asset_paths() {
            cfg.service(
                web::resource(path)
                    .get(pages::asset)
                    .route(web::head().to(pages::asset)),
            );
        }
    })
    // Akismet-compatible (SPEC §8): authenticated by key, so not rate-limited
    // per IP (a site's server calls from one address).
    .service(web::resource("/1.1/verify-key").post(akismet::verify_key))
    .service(web::resource("/1.1/comment-check").post(akismet::comment_check))
    .service(web::resource("/1.1/submit-spam").post(akismet::submit_spam))
    .service(web::resource("/1.1/submit-ham").post(akismet::submit_ham))
    .service(web::resource("/1.2/usage-limit").get(akismet::usage_limit))
    .service(
        web::scope(ADMIN_SCOPE)
            .wrap(actix_web::middleware::from_fn(auth::require_admin))
            .service(web::resource("/comments").get(admin::list_comments))
            .service(web::resource("/comments/bulk").post(admin::bulk_update))
            .service(
                web::resource("/comments/{id}")
                    .get(admin::get_comment)
                    .patch(admin::patch_comment)
                    .delete(admin::delete_comment),
            )
            .service(web::resource("/comments/{id}/events").get(admin::get_events))
            .service(web::resource("/comments/{id}/pivot").post(admin::pivot::pivot))
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
            .service(web::resource("/training-examples/stats").get(admin::training::example_stats)),
    );
}

/// The prefix of every admin route.
pub const ADMIN_SCOPE: &str = "/api/v1/admin";

/// Whether the request's path, percent-decoded, is UTF-8.
pub fn path_is_utf8(req: &ServiceRequest) -> bool {
    percent_encoding::percent_decode_str(req.uri().path())
        .decode_utf8()
        .is_ok()
}

/// Middleware: a path whose percent-escapes do not decode to UTF-8
/// (`/api/v1/posts/%FF/comments`) is refused with 400 `malformed_request`,
/// rather than read with U+FFFD in place of its bytes (which would file a
/// comment under a post id the site never sent).
///
/// # Errors
/// Only what the wrapped service returns.
pub async fn refuse_non_utf8_paths(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    // Admin paths are checked after authentication (`auth::require_admin`):
    // a stranger learns nothing about them, not even that one is malformed.
    if path_is_utf8(&req) || req.path().starts_with(ADMIN_SCOPE) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let error =
        ApiError::MalformedRequest("The address holds bytes that are not UTF-8 text.".into());
    Ok(refuse(req, &error))
}

/// Middleware: until the database is prepared (a service started before its
/// database), every request but `/healthz` gets 503 `unavailable`.
///
/// # Errors
/// Only what the wrapped service returns.
pub async fn require_ready(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let ready = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.ready.load(std::sync::atomic::Ordering::Acquire));
    if ready || req.path() == "/healthz" {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let error = ApiError::Unavailable(crate::storage::StorageError::Unavailable(
        "the database has not answered since start-up".into(),
    ));
    Ok(refuse(req, &error))
}

/// A middleware's answer in place of the wrapped service: `error`, as every
/// error leaves (the SPEC §3 envelope, logged if a 5xx).
pub fn refuse<B>(req: ServiceRequest, error: &ApiError) -> ServiceResponse<EitherBody<B>> {
    let (req, _) = req.into_parts();
    let response = actix_web::ResponseError::error_response(error);
    ServiceResponse::new(req, response).map_into_right_body()
}

/// Middleware: counts every answer by route pattern (never the raw path, so
/// one series per route, not per post id), method and status, and times it.
///
/// # Errors
/// Only what the wrapped service returns.
pub async fn count_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    let method = req.method().as_str().to_owned();
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        metrics
            .http_seconds
            .get_or_create(&crate::metrics::RouteLabels {
                route: route.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
        metrics
            .http_requests
            .get_or_create(&crate::metrics::HttpLabels {
                route,
                method,
                status: res.status().as_u16(),
            })
            .inc();
    }
    Ok(res)
}
