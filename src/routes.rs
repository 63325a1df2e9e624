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
pub mod openapi;
pub mod pages;
pub mod public;
pub mod render;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Route, web};

use crate::error::ApiError;
use crate::state::AppState;

/// Registers every endpoint of [`endpoints`], one resource per path behind
/// its [`Gate`], with extractor errors turned into the JSON envelope.
pub fn configure(
    cfg: &mut web::ServiceConfig,
    limit: &limits::RateLimit,
    read_limit: &limits::RateLimit,
) {
    cfg.app_data(web::PathConfig::default().error_handler(|_, req| {
        // Only ids are read from paths: `/comments/abc` names no comment.
        let bad = req
            .match_info()
            .iter()
            .map(|(_, value)| value)
            .find(|value| value.parse::<i64>().is_err())
            .unwrap_or("");
        let shown: String = bad.chars().take(40).collect();
        ApiError::NotFound(format!(
            "There is nothing at this address: ids are whole numbers, and `{shown}` is not one."
        ))
        .into()
    }))
    .app_data(web::QueryConfig::default().error_handler(|err, _| {
        ApiError::MalformedRequest(format!("The query string could not be read: {err}.")).into()
    }));
    // One resource per path, its methods together, in the table's order.
    let mut resources: Vec<(&'static str, Gate, Vec<Endpoint>)> = Vec::new();
    for endpoint in endpoints() {
        match resources
            .iter_mut()
            .find(|(path, ..)| *path == endpoint.path)
        {
            Some((_, _, methods)) => methods.push(endpoint),
            None => resources.push((endpoint.path, endpoint.gate, vec![endpoint])),
        }
    }
    let mut admin_scope =
        web::scope(ADMIN_SCOPE).wrap(actix_web::middleware::from_fn(auth::require_admin));
    for (path, gate, methods) in resources {
        let relative = match gate {
            Gate::Admin => path.strip_prefix(ADMIN_SCOPE).unwrap_or(path),
            _ => path,
        };
        let mut resource = web::resource(relative);
        for endpoint in methods {
            resource = resource.route((endpoint.to)(web::route().method(endpoint.method)));
        }
        match gate {
            Gate::Open => {
                cfg.service(resource);
            }
            Gate::Reads => {
                cfg.service(resource.wrap(actix_governor::Governor::new(read_limit)));
            }
            Gate::Submissions => {
                cfg.service(resource.wrap(actix_governor::Governor::new(limit)).wrap_fn(
                    |req, srv| {
                        let call = srv.call(req);
                        async move {
                            let response = call.await?.map_into_boxed_body();
                            let (req, response) = response.into_parts();
                            let response = limits::page_for_form_posts(&req, response);
                            Ok(ServiceResponse::new(req, response))
                        }
                    },
                ));
            }
            Gate::Admin => admin_scope = admin_scope.service(resource),
        }
    }
    cfg.service(admin_scope);
}

/// What stands in front of an endpoint's handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Nothing: probes, the web pages and Akismet's endpoints (those are
    /// authenticated by key, and a site's server calls from one address, so
    /// they are not rate-limited per IP).
    Open,
    /// The per-IP submission rate limit; a form post refused by it gets the
    /// HTML page a browser can show.
    Submissions,
    /// The per-IP read limit, far higher than the submission one.
    Reads,
    /// An admin token, checked before the path, query or body is looked at
    /// (the endpoint lives under [`ADMIN_SCOPE`]).
    Admin,
}

/// One method on one path: the route table is a list of these, so the
/// OpenAPI document can be checked against it (`tests/api/openapi.rs`).
pub struct Endpoint {
    pub method: Method,
    /// The full path pattern, as the OpenAPI document spells it.
    pub path: &'static str,
    pub gate: Gate,
    /// Part of the API, so in the OpenAPI document; `false` only for the web
    /// pages (HTML, scripts and styles for browsers).
    pub api: bool,
    to: fn(Route) -> Route,
}

impl Endpoint {
    fn api(method: Method, path: &'static str, gate: Gate, to: fn(Route) -> Route) -> Self {
        Self {
            method,
            path,
            gate,
            api: true,
            to,
        }
    }

    fn page(method: Method, path: &'static str, gate: Gate, to: fn(Route) -> Route) -> Self {
        Self {
            api: false,
            ..Self::api(method, path, gate, to)
        }
    }
}

/// Every endpoint, in the order they are matched (`/comments/bulk` before
/// `/comments/{id}`).
#[must_use]
pub fn endpoints() -> Vec<Endpoint> {
    use Gate::{Admin, Open, Reads, Submissions};
    let mut table = vec![
        Endpoint::api(Method::GET, "/healthz", Open, |r| r.to(health::healthz)),
        Endpoint::api(Method::HEAD, "/healthz", Open, |r| r.to(health::healthz)),
        Endpoint::api(Method::GET, "/readyz", Open, |r| r.to(health::readyz)),
        Endpoint::api(Method::HEAD, "/readyz", Open, |r| r.to(health::readyz)),
        Endpoint::api(Method::GET, "/metrics", Open, |r| r.to(health::metrics)),
        Endpoint::api(Method::HEAD, "/metrics", Open, |r| r.to(health::metrics)),
        Endpoint::api(Method::GET, "/api/v1/openapi.json", Open, |r| {
            r.to(openapi::serve)
        }),
        Endpoint::api(Method::POST, "/api/v1/comments", Submissions, |r| {
            r.to(comments::submit_comment)
        }),
        Endpoint::api(
            Method::GET,
            "/api/v1/posts/{post_id}/comments",
            Reads,
            |r| r.to(public::list_comments),
        ),
        Endpoint::api(
            Method::GET,
            "/api/v1/posts/{post_id}/comments/count",
            Reads,
            |r| r.to(public::count_comments),
        ),
        // Akismet-compatible (SPEC §8).
        Endpoint::api(Method::POST, "/1.1/verify-key", Open, |r| {
            r.to(akismet::verify_key)
        }),
        Endpoint::api(Method::POST, "/1.1/comment-check", Open, |r| {
            r.to(akismet::comment_check)
        }),
        Endpoint::api(Method::POST, "/1.1/submit-spam", Open, |r| {
            r.to(akismet::submit_spam)
        }),
        Endpoint::api(Method::POST, "/1.1/submit-ham", Open, |r| {
            r.to(akismet::submit_ham)
        }),
        Endpoint::api(Method::GET, "/1.2/usage-limit", Open, |r| {
            r.to(akismet::usage_limit)
        }),
        // Web pages (SPEC §10).
        Endpoint::page(Method::GET, "/admin", Open, |r| r.to(pages::add_slash)),
        Endpoint::page(Method::GET, "/demo", Open, |r| r.to(pages::add_slash)),
        Endpoint::page(Method::GET, "/demo/", Reads, |r| r.to(pages::demo)),
    ];
    for path in pages::asset_paths() {
        table.push(Endpoint::page(Method::GET, path, Open, |r| {
            r.to(pages::asset)
        }));
        table.push(Endpoint::page(Method::HEAD, path, Open, |r| {
            r.to(pages::asset)
        }));
    }
    // The admin API (SPEC §6, §7), served under [`ADMIN_SCOPE`].
    table.extend([
        Endpoint::api(Method::GET, "/api/v1/admin/comments", Admin, |r| {
            r.to(admin::list_comments)
        }),
        Endpoint::api(Method::POST, "/api/v1/admin/comments/bulk", Admin, |r| {
            r.to(admin::bulk_update)
        }),
        Endpoint::api(Method::GET, "/api/v1/admin/comments/{id}", Admin, |r| {
            r.to(admin::get_comment)
        }),
        Endpoint::api(Method::PATCH, "/api/v1/admin/comments/{id}", Admin, |r| {
            r.to(admin::patch_comment)
        }),
        Endpoint::api(Method::DELETE, "/api/v1/admin/comments/{id}", Admin, |r| {
            r.to(admin::delete_comment)
        }),
        Endpoint::api(
            Method::GET,
            "/api/v1/admin/comments/{id}/events",
            Admin,
            |r| r.to(admin::get_events),
        ),
        Endpoint::api(
            Method::POST,
            "/api/v1/admin/comments/{id}/pivot",
            Admin,
            |r| r.to(admin::pivot::pivot),
        ),
        Endpoint::api(Method::GET, "/api/v1/admin/stats", Admin, |r| {
            r.to(admin::stats)
        }),
        Endpoint::api(Method::GET, "/api/v1/admin/models", Admin, |r| {
            r.to(admin::models::list_models)
        }),
        Endpoint::api(Method::POST, "/api/v1/admin/models/train", Admin, |r| {
            r.to(admin::models::train)
        }),
        Endpoint::api(
            Method::POST,
            "/api/v1/admin/models/{version}/activate",
            Admin,
            |r| r.to(admin::models::activate),
        ),
        Endpoint::api(Method::GET, "/api/v1/admin/jobs/{id}", Admin, |r| {
            r.to(admin::models::get_job)
        }),
        Endpoint::api(Method::GET, "/api/v1/admin/settings/keywords", Admin, |r| {
            r.to(admin::keywords::get_keywords)
        }),
        Endpoint::api(Method::PUT, "/api/v1/admin/settings/keywords", Admin, |r| {
            r.to(admin::keywords::put_keywords)
        }),
        Endpoint::api(
            Method::POST,
            "/api/v1/admin/training-examples",
            Admin,
            |r| r.to(admin::training::import_examples),
        ),
        Endpoint::api(
            Method::GET,
            "/api/v1/admin/training-examples/stats",
            Admin,
            |r| r.to(admin::training::example_stats),
        ),
    ]);
    table
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
