//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document, generated from the
//! handlers' `#[utoipa::path]` attributes and the types they send and
//! receive. What every endpoint of a [`Gate`] can answer (429 behind a rate
//! limit, 401/403 behind the admin token, 503 while the database is away,
//! the body errors of a request with a body) is added here from the route
//! table itself, so it cannot drift from the middleware that answers it.
//! `tests/api/openapi.rs` fails when an endpoint of [`super::endpoints`] is
//! missing from the document, or the document names one that is not served.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use actix_web::http::Method;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, http::header::ContentType};
use serde::Serialize;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, OpenApi as Document, Ref, RefOr, Response, ResponseBuilder, Type,
};
use utoipa::{OpenApi, ToSchema};

use super::{Gate, endpoints};
use crate::error::ApiError;

/// The SPEC §3 error envelope, on every non-2xx JSON answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, for a program (`code`) and for a person (`message`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// One of `malformed_request`, `payload_too_large`, `request_timeout`,
    /// `unsupported_media_type`, `validation_failed`, `unauthorized`,
    /// `forbidden`, `not_found`, `method_not_allowed`, `duplicate_comment`,
    /// `status_conflict`, `too_many_requests`, `unavailable`.
    #[schema(example = "validation_failed")]
    pub code: String,
    pub message: String,
    /// Validation only: each offending field with its messages.
    #[schema(value_type = Option<BTreeMap<String, Vec<String>>>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, Vec<String>>>,
}

/// A post or parent id: a string, or a whole number (answered as a string).
#[derive(ToSchema)]
pub enum Id {
    Text(String),
    Number(i64),
}

/// `POST /api/v1/comments` as JSON (SPEC §4). Unknown fields are ignored.
#[derive(ToSchema)]
#[expect(dead_code, reason = "documents a body the handler reads by hand")]
pub struct CommentSubmission {
    /// 1–255 characters.
    post_id: Id,
    /// An approved comment of the same post; `0` or absent for top level.
    parent_id: Option<Id>,
    /// 1–245 characters after trimming.
    #[schema(min_length = 1, max_length = 245, pattern = r"\S")]
    author_name: String,
    /// A valid address, at most 100 characters; never shown publicly.
    #[schema(format = Email, max_length = 100)]
    author_email: String,
    /// `http` or `https`, at most 200 characters; empty for none.
    #[schema(
        max_length = 200,
        pattern = r"^(https?://[a-z0-9-]+\.[a-z]{2,}(/[a-z0-9/-]*)?)?$"
    )]
    author_url: Option<String>,
    /// 1–65,525 bytes after trimming.
    #[schema(min_length = 1, max_length = 65525, pattern = r"\S")]
    content: String,
    /// The URL of the page.
    #[schema(pattern = r"^https?://[a-z0-9-]+\.[a-z]{2,}(/[a-z0-9/-]*)?$")]
    permalink: Option<String>,
    /// Must be empty: a filled one files the comment as spam, silently.
    #[schema(max_length = 0)]
    honeypot: Option<String>,
}

/// `POST /api/v1/comments` as a WordPress form posts it (SPEC §4); the JSON
/// names are accepted too.
#[derive(ToSchema)]
#[expect(dead_code, reason = "documents a body the handler reads by hand")]
#[allow(non_snake_case)]
pub struct CommentForm {
    #[schema(min_length = 1, max_length = 255)]
    comment_post_ID: String,
    #[schema(pattern = "^[0-9]*$")]
    comment_parent: Option<String>,
    #[schema(min_length = 1, max_length = 245, pattern = r"\S")]
    author: String,
    #[schema(format = Email, max_length = 100)]
    email: String,
    #[schema(
        max_length = 200,
        pattern = r"^(https?://[a-z0-9-]+\.[a-z]{2,}(/[a-z0-9/-]*)?)?$"
    )]
    url: Option<String>,
    #[schema(min_length = 1, max_length = 65525, pattern = r"\S")]
    comment: String,
    #[schema(pattern = r"^https?://[a-z0-9-]+\.[a-z]{2,}(/[a-z0-9/-]*)?$")]
    permalink: Option<String>,
    /// Where to send the browser back: an allowed origin, or a path on
    /// this service.
    redirect_to: Option<String>,
    #[schema(max_length = 0)]
    honeypot: Option<String>,
}

/// The parameters Akismet's clients send (SPEC §8), form-encoded (or, for
/// submit-spam/submit-ham, a JSON object).
#[derive(ToSchema)]
#[expect(dead_code, reason = "documents a body the handler reads by hand")]
pub struct AkismetComment {
    /// An admin token (or `key`; or the first label of the `Host` name).
    api_key: Option<String>,
    key: Option<String>,
    blog: Option<String>,
    user_ip: Option<String>,
    user_agent: Option<String>,
    referrer: Option<String>,
    permalink: Option<String>,
    comment_type: Option<String>,
    comment_author: Option<String>,
    comment_author_email: Option<String>,
    comment_author_url: Option<String>,
    comment_content: Option<String>,
    user_role: Option<String>,
    /// `1` or `true`: answer as usual and train nothing.
    is_test: Option<String>,
    honeypot_field_name: Option<String>,
}

/// `POST /1.1/verify-key`.
#[derive(ToSchema)]
#[expect(dead_code, reason = "documents a body the handler reads by hand")]
pub struct AkismetKey {
    api_key: Option<String>,
    key: Option<String>,
    blog: Option<String>,
}

/// One labelled example to import (SPEC §6): in a JSON array, or one per
/// line (NDJSON).
#[derive(ToSchema)]
#[expect(dead_code, reason = "documents a body the handler reads by hand")]
pub struct TrainingExample {
    /// The text (`text` is accepted too).
    #[schema(min_length = 1, pattern = r"\S")]
    content: String,
    author_name: Option<String>,
    author_email: Option<String>,
    author_url: Option<String>,
    #[schema(pattern = "^(spam|ham)$")]
    label: String,
}

/// The document's frame: every handler's path and the shared schemas.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "replyguard",
        description = "Self-hosted backend for website comment forms: validation, naive-Bayes spam scoring, a moderation queue and an Akismet-compatible API.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::health::metrics,
        serve,
        super::comments::submit_comment,
        super::public::list_comments,
        super::public::count_comments,
        super::akismet::verify_key,
        super::akismet::comment_check,
        super::akismet::submit_spam,
        super::akismet::submit_ham,
        super::akismet::usage_limit,
        super::admin::list_comments,
        super::admin::bulk_update,
        super::admin::get_comment,
        super::admin::patch_comment,
        super::admin::delete_comment,
        super::admin::get_events,
        super::admin::pivot::pivot,
        super::admin::stats,
        super::admin::models::list_models,
        super::admin::models::train,
        super::admin::models::activate,
        super::admin::models::get_job,
        super::admin::keywords::get_keywords,
        super::admin::keywords::put_keywords,
        super::admin::training::import_examples,
        super::admin::training::example_stats,
    ),
    components(schemas(ErrorBody, Id)),
    tags(
        (name = "public", description = "What a site's pages and forms call (SPEC §4)."),
        (name = "admin", description = "Moderation, training data and models (SPEC §6, §7); an admin token."),
        (name = "akismet", description = "Akismet-compatible API (SPEC §8); the key is an admin token."),
        (name = "operations", description = "Probes, metrics and this document (SPEC §9)."),
    )
)]
struct ApiDoc;

/// The `ErrorBody` response with `description`, as JSON.
fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// An error response that also carries `Retry-After`.
fn retry_response(description: &str) -> Response {
    let mut response = error_response(description);
    response.headers.insert(
        "Retry-After".to_owned(),
        HeaderBuilder::new()
            .schema(utoipa::openapi::ObjectBuilder::new().schema_type(Type::Integer))
            .description(Some("Seconds to wait before trying again."))
            .build(),
    );
    response
}

/// Adds `status` to `operation` unless its own attribute documents it.
fn add(operation: &mut Operation, status: &str, response: impl FnOnce() -> Response) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(response()));
}

/// The operation of `item` for `method`, if documented.
pub fn operation_mut<'a>(item: &'a mut PathItem, method: &Method) -> Option<&'a mut Operation> {
    match *method {
        Method::GET => item.get.as_mut(),
        Method::HEAD => item.head.as_mut(),
        Method::POST => item.post.as_mut(),
        Method::PUT => item.put.as_mut(),
        Method::PATCH => item.patch.as_mut(),
        Method::DELETE => item.delete.as_mut(),
        _ => None,
    }
}

/// The whole document: the handlers' attributes, then what each endpoint's
/// gate, path and body add.
#[must_use]
pub fn document() -> Document {
    let mut doc = ApiDoc::openapi();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "admin_token",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    components.add_security_scheme(
        "metrics_token",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    for endpoint in endpoints().into_iter().filter(|e| e.api) {
        let Some(item) = doc.paths.paths.get_mut(endpoint.path) else {
            continue;
        };
        let Some(operation) = operation_mut(item, &endpoint.method) else {
            continue;
        };
        let has_body = matches!(endpoint.method, Method::POST | Method::PUT | Method::PATCH);
        let has_query = operation
            .parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == ParameterIn::Query);
        if has_query {
            add(operation, "400", || {
                error_response("The query string could not be read.")
            });
        }
        if endpoint.path.contains('{') {
            add(operation, "400", || {
                error_response("The address holds bytes that are not UTF-8 text.")
            });
            add(operation, "404", || {
                error_response("There is nothing at this address.")
            });
        }
        if has_body {
            add(operation, "400", || {
                error_response("The body could not be read.")
            });
            add(operation, "408", || {
                error_response("The body did not arrive in time.")
            });
            add(operation, "413", || {
                error_response("The body is too large.")
            });
        }
        match endpoint.gate {
            Gate::Admin => {
                operation.security = Some(vec![SecurityRequirement::new(
                    "admin_token",
                    Vec::<String>::new(),
                )]);
                add(operation, "401", || {
                    error_response("No admin token, or one that is not known.")
                });
                add(operation, "403", || {
                    error_response("A revoked token, or one limited to the Akismet API.")
                });
            }
            Gate::Submissions | Gate::Reads => {
                add(operation, "429", || {
                    retry_response("Too many requests from this address.")
                });
            }
            Gate::Open => {}
        }
        if endpoint.path != "/healthz" {
            add(operation, "503", || {
                retry_response("The database is unavailable.")
            });
        }
    }
    doc
}

/// The document as served, made once.
fn rendered() -> Result<&'static Bytes, ApiError> {
    static RENDERED: OnceLock<Bytes> = OnceLock::new();
    if let Some(bytes) = RENDERED.get() {
        return Ok(bytes);
    }
    let json = serde_json::to_vec(&document())
        .map_err(|err| ApiError::Internal(anyhow::anyhow!("the OpenAPI document: {err}")))?;
    Ok(RENDERED.get_or_init(|| Bytes::from(json)))
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json", body = Object))
)]
pub async fn serve() -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(rendered()?.clone()))
}
